"""Settings (core/settings.py): values parsed, nonsense ignored without echoing it, the key shown only as set."""

from __future__ import annotations

import json

import pytest

from assistant_stream.core.secrets import Secret
from assistant_stream.core.settings import INBOXES, KEY_INBOX, SETTING_KEYS, build_settings


def test_values_are_parsed_and_nonsense_is_ignored_without_echoing_it(caplog: pytest.LogCaptureFixture) -> None:
    settings = build_settings({"MAX_TOKENS": "-5", "TEMPERATURE": "nan", "STREAMING_API_URL": "ftp://x"},
                              {"streaming_api_key": "sk-pasted-in-the-wrong-field", "max_tokens": "256",
                               "history_length": "abc", "taskprocessing_fallback": "no"})
    assert settings.max_tokens == 256 and settings.sources["max_tokens"] == "appconfig"
    assert settings.temperature == -1.0 and settings.streaming_api_url == "" and settings.history_length == 20
    assert settings.taskprocessing_fallback is False
    assert settings.streaming_api_key == Secret("sk-pasted-in-the-wrong-field")
    assert "sk-pasted" not in caplog.text and "ftp://x" not in caplog.text
    public = settings.public()
    assert public["streaming_api_key"] == {"value": "set", "source": "appconfig"}


def test_the_forms_key_inbox_is_no_setting() -> None:
    # The admin form's key field is a write-only inbox for streaming_api_key (core/config_store.py empties it).
    assert INBOXES == {KEY_INBOX: "streaming_api_key"}
    assert KEY_INBOX not in SETTING_KEYS and "streaming_api_key" in SETTING_KEYS
    assert build_settings({}, {KEY_INBOX: "sk-typed-in-the-form"}).streaming_api_key == Secret("")


def test_connections_from_the_environment_take_their_keys_from_it_too() -> None:
    env = {"CONNECTIONS": json.dumps([{"id": "lab", "url": "http://lab/v1", "models": ["m"]}]),
           "CONNECTION_LAB_API_KEY": "sk-env", "STREAMING_API_URL": "http://seed/v1", "STREAMING_MODELS": "b, c"}
    s = build_settings(env, {"connection_lab_api_key": "sk-appconfig"})
    seed, lab = s.connection_list
    assert seed.models == ("gpt-3.5-turbo", "b", "c") and lab.api_key.reveal() == "sk-env"
    assert build_settings({}, {}).streaming_configured is False
