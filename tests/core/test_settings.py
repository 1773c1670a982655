"""Settings (core/settings.py): precedence, the cache and its clock, last good values through an outage."""

from __future__ import annotations

import asyncio
import base64
import logging

import pytest

from assistant_stream.core.secrets import Secret
from assistant_stream.core.settings import ConfigStore, build_settings
from assistant_stream.nextcloud.server import NextcloudServer
from tests.support.clock import FakeClock
from tests.support.nextcloud_double import NC_API_KEY as API_KEY
from tests.support.nextcloud_double import NextcloudDouble

# --- ConfigStore over NextcloudClient ------------------------------------------------------------


async def test_configstore_precedence_env_over_appconfig_over_default(nextcloud: NextcloudDouble,
                                                                      nc: NextcloudServer) -> None:
    nextcloud.set_appconfig("streaming_model", "from-nextcloud")
    nextcloud.set_appconfig("streaming_api_url", "https://nc.example/v1")
    nextcloud.set_appconfig("streaming_api_key", API_KEY, sensitive=True)
    store = ConfigStore(nc.appconfig, ttl=10, environ={"STREAMING_MODEL": "from-env"})
    s = await store.get()
    assert s.streaming_model == "from-env" and s.sources["streaming_model"] == "env"
    assert s.streaming_api_url == "https://nc.example/v1" and s.sources["streaming_api_url"] == "appconfig"
    assert s.streaming_api_key == Secret(API_KEY) and s.sources["streaming_api_key"] == "appconfig"
    assert s.history_length == 20 and s.sources.get("history_length", "default") == "default"
    assert s.stale is False


async def test_configstore_caches_for_its_ttl(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.set_appconfig("streaming_model", "old")
    clock = FakeClock()
    store = ConfigStore(nc.appconfig, ttl=0.4, environ={}, clock=clock)
    assert (await store.get()).streaming_model == "old"
    nextcloud.set_appconfig("streaming_model", "new")
    results = await asyncio.gather(*(store.get() for _ in range(5)))
    assert {r.streaming_model for r in results} == {"old"}
    assert len(nextcloud.calls_to("/ex-app/config/get-values")) == 1  # a burst costs no round trip
    clock.advance(0.39)
    assert (await store.get()).streaming_model == "old"
    clock.advance(0.02)
    assert (await store.get()).streaming_model == "new"
    assert len(nextcloud.calls_to("/ex-app/config/get-values")) == 2


async def test_configstore_keeps_last_good_values_and_logs_the_outage_once(
        nextcloud: NextcloudDouble, nc: NextcloudServer, caplog: pytest.LogCaptureFixture) -> None:
    nextcloud.set_appconfig("streaming_model", "good-model")
    nextcloud.set_appconfig("streaming_api_key", API_KEY, sensitive=True)
    store = ConfigStore(nc.appconfig, ttl=0, environ={})
    caplog.set_level(logging.DEBUG)  # every logger, every level: the key must appear in none

    assert (await store.get()).streaming_model == "good-model"
    nextcloud.down()
    for _ in range(4):
        s = await store.get()
        assert s.stale is True
        assert s.streaming_model == "good-model" and s.streaming_api_key == Secret(API_KEY)
    outage = [r for r in caplog.records if r.name == "assistant_stream.core.settings" and r.levelno >= logging.WARNING]
    assert len(outage) == 1 and "unreachable" in outage[0].getMessage()

    nextcloud.up()
    s = await store.get()
    assert s.stale is False and s.streaming_model == "good-model"
    assert any("reachable again" in r.getMessage() for r in caplog.records)

    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        assert API_KEY not in text and nextcloud.app_secret not in text
        assert base64.b64encode(f":{nextcloud.app_secret}".encode()).decode()[4:] not in text


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
