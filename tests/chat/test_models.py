"""Which model writes an answer (chat/models.py): the conversation's choice if the admin offers it, else the default;
a choice the admin does not offer is a clear 400."""

from __future__ import annotations

import json

import pytest

from assistant_stream.chat.models import TASKPROCESSING_MODEL, catalog, choose, plan
from assistant_stream.core.errors import ModelNotAllowed
from assistant_stream.core.settings import build_settings

LAB = {"id": "lab", "name": "Lab", "url": "http://lab/v1", "models": ["llama", "qwen"]}
SETTINGS = build_settings({"STREAMING_API_URL": "http://seed/v1", "STREAMING_MODEL": "gpt-4o",
                           "STREAMING_MODELS": "gpt-4o-mini", "CONNECTIONS": json.dumps([LAB]),
                           "SYSTEM_PROMPT": "Admin prompt."}, {})


def test_the_catalog_groups_models_by_connection_without_urls_or_keys() -> None:
    assert catalog(SETTINGS) == {
        "connections": [{"id": "default", "name": "Default", "models": ["gpt-4o", "gpt-4o-mini"]},
                        {"id": "lab", "name": "Lab", "models": ["llama", "qwen"]}],
        "default": {"connection": "default", "model": "gpt-4o"}}
    only_lab = build_settings({"CONNECTIONS": json.dumps([LAB])}, {})
    assert catalog(only_lab)["default"] == {"connection": "lab", "model": "llama"}
    assert catalog(build_settings({}, {})) == {"connections": [], "default": None}


def test_a_choice_must_be_offered() -> None:
    connection, model = choose(SETTINGS, "lab", "qwen")  # type: ignore[misc]
    assert (connection.url, model) == ("http://lab/v1", "qwen")
    assert choose(SETTINGS, None, None)[1] == "gpt-4o"  # type: ignore[index]
    for connection_id, name in (("lab", "gpt-4o"), ("gone", "llama")):
        with pytest.raises(ModelNotAllowed) as info:
            choose(SETTINGS, connection_id, name)
        assert info.value.status == 400 and info.value.code == "model_not_allowed" and name in info.value.message
        assert "http://" not in info.value.message


def test_a_plan_takes_the_conversations_options_over_the_admins() -> None:
    p = plan(SETTINGS, {"connection": "lab", "model": "llama", "system_prompt": "Mine.", "temperature": 0.0,
                        "max_tokens": 10})
    assert (p.connection_id, p.model, p.system_prompt, p.temperature, p.max_tokens) == ("lab", "llama", "Mine.",
                                                                                      0.0, 10)
    default = plan(SETTINGS, {})
    assert (default.connection_id, default.model, default.system_prompt) == ("default", "gpt-4o", "Admin prompt.")
    assert plan(SETTINGS, {"system_prompt": ""}).system_prompt == ""  # none at all is a choice too
    kept = plan(SETTINGS, {"connection": "lab", "model": "llama"}, connection_id="default", model="gpt-4o-mini")
    assert (kept.connection_id, kept.model) == ("default", "gpt-4o-mini")
    nothing = plan(build_settings({}, {}), {})
    assert (nothing.connection, nothing.model) == (None, TASKPROCESSING_MODEL)
