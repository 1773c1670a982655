"""A user's presets (store/presets.py): saved, listed by name, overwritten and deleted only by their owner."""

from __future__ import annotations

import pytest

from assistant_stream.core.errors import InvalidParameter, NotFound
from assistant_stream.core.limits import MAX_PRESETS
from assistant_stream.store.storage import Storage
from tests.support.storage import A, B

OPTIONS = {"system_prompt": "Be brief.", "temperature": 0.2, "max_tokens": 100, "connection": None, "model": None}


async def test_presets_belong_to_their_user(storage: Storage) -> None:
    brief = await storage.save_preset(A, None, "brief", OPTIONS)
    assert brief == {"id": brief["id"], "name": "brief", **OPTIONS}
    await storage.save_preset(A, None, "Another", {**OPTIONS, "connection": "lab", "model": "llama"})
    assert [p["name"] for p in await storage.list_presets(A)] == ["Another", "brief"]  # by name, any case
    assert await storage.list_presets(B) == []
    changed = await storage.save_preset(A, brief["id"], "Brief", {**OPTIONS, "temperature": None})
    assert changed["temperature"] is None and changed["id"] == brief["id"]
    for call in (storage.save_preset(B, brief["id"], "x", OPTIONS), storage.delete_preset(B, brief["id"])):
        with pytest.raises(NotFound):
            await call
    await storage.delete_preset(A, brief["id"])
    assert [p["name"] for p in await storage.list_presets(A)] == ["Another"]


async def test_a_user_keeps_a_bounded_number(storage: Storage) -> None:
    for i in range(MAX_PRESETS):
        await storage.save_preset(A, None, f"p{i}", OPTIONS)
    with pytest.raises(InvalidParameter, match=f"at most {MAX_PRESETS}"):
        await storage.save_preset(A, None, "one more", OPTIONS)
    await storage.save_preset(B, None, "bob's first", OPTIONS)
