"""A user's choices (chat/options.py): a conversation's model checked against the connections, its options one by
one, presets shared and own."""

from __future__ import annotations

import json

import pytest

from assistant_stream.chat.options import Options
from assistant_stream.core.config_store import ConfigStore
from assistant_stream.core.errors import InvalidParameter, ModelNotAllowed, NotFound
from assistant_stream.store.storage import Storage
from tests.support.storage import A, B

SHARED = [{"id": "brief", "name": "Brief", "system_prompt": "Be brief.", "temperature": 0.1, "max_tokens": None,
           "connection": None, "model": None}]
ENV = {"STREAMING_API_URL": "http://seed/v1", "STREAMING_MODEL": "gpt-4o",
       "CONNECTIONS": json.dumps([{"id": "lab", "url": "http://lab/v1", "models": ["llama"]}]),
       "PRESETS": json.dumps(SHARED)}


@pytest.fixture
def options(storage: Storage) -> Options:
    return Options(ConfigStore(None, environ=ENV), storage)


async def test_a_conversations_options(options: Options, storage: Storage) -> None:
    sid = (await storage.create_session(A, None, None))["id"]
    saved = await options.set_for_session(A, sid, {"connection": "lab", "model": "llama", "temperature": 0.7})
    assert (saved["model"], saved["temperature"], saved["system_prompt"]) == ("llama", 0.7, None)
    saved = await options.set_for_session(A, sid, {"system_prompt": "Short answers."})
    assert (saved["model"], saved["system_prompt"]) == ("llama", "Short answers.")  # the rest as it was
    with pytest.raises(ModelNotAllowed):
        await options.set_for_session(A, sid, {"connection": "lab", "model": "gpt-4o"})
    with pytest.raises(InvalidParameter, match="needs its connection"):
        await options.set_for_session(A, sid, {"connection": None})
    back = await options.set_for_session(A, sid, {"connection": None, "model": None})
    assert back["model"] is None and (await options.of_session(A, sid))["options"]["system_prompt"] == "Short answers."
    with pytest.raises(NotFound):
        await options.set_for_session(B, sid, {"temperature": 1})
    models = await options.models()
    assert [c["id"] for c in models["connections"]] == ["default", "lab"]


async def test_presets_shared_and_own(options: Options) -> None:
    mine = await options.save_preset(A, None, " Mine ", {"temperature": 1.5, "connection": "lab", "model": "llama"})
    assert (mine["name"], mine["shared"], mine["model"]) == ("Mine", False, "llama")
    listed = await options.presets(A)
    assert listed["shared"] == [{**SHARED[0], "shared": True}] and [p["id"] for p in listed["own"]] == [mine["id"]]
    assert (await options.presets(B))["own"] == []
    with pytest.raises(ModelNotAllowed):
        await options.save_preset(A, None, "x", {"connection": "lab", "model": "nope"})
    with pytest.raises(InvalidParameter, match="name"):
        await options.save_preset(A, None, " ", {})
    with pytest.raises(InvalidParameter, match="temperature"):
        await options.save_preset(A, None, "hot", {"temperature": 3})
    await options.delete_preset(A, mine["id"])
    assert (await options.presets(A))["own"] == []
