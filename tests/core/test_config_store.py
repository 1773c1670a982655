"""ConfigStore (core/config_store.py): precedence, the cache and its clock, shorter while unconfigured or after a
failure, last good values through an outage, listeners, and the admin form's write-only key field emptied."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Sequence

import pytest

from assistant_stream.core.config_store import FAILED_TTL, UNCONFIGURED_TTL, ConfigStore
from assistant_stream.core.secrets import Secret
from assistant_stream.core.settings import KEY_INBOX, Settings
from assistant_stream.nextcloud.server import NextcloudServer
from assistant_stream.nextcloud.settings_form import settings_form
from tests.support.clock import FakeClock
from tests.support.nextcloud_double import NC_API_KEY as API_KEY
from tests.support.nextcloud_double import NextcloudDouble, looks_encrypted

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
    outage = [r for r in caplog.records
              if r.name == "assistant_stream.core.config_store" and r.levelno >= logging.WARNING]
    assert len(outage) == 1 and "unreachable" in outage[0].getMessage()

    nextcloud.up()
    s = await store.get()
    assert s.stale is False and s.streaming_model == "good-model"
    assert any("reachable again" in r.getMessage() for r in caplog.records)

    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        assert API_KEY not in text and nextcloud.app_secret not in text
        assert base64.b64encode(f":{nextcloud.app_secret}".encode()).decode()[4:] not in text


async def test_configstore_rereads_soon_while_unconfigured_or_after_a_failure(nextcloud: NextcloudDouble,
                                                                              nc: NextcloudServer) -> None:
    """Issue 11 defect 7: a read made before the admin's first configuration (or a failed one) was trusted for the
    whole cache time; only a configured read is."""
    clock = FakeClock()
    store = ConfigStore(nc.appconfig, ttl=60, environ={}, clock=clock)
    assert (await store.get()).streaming_configured is False
    nextcloud.set_appconfig("streaming_api_url", "https://nc.example/v1")
    clock.advance(UNCONFIGURED_TTL + 0.01)
    assert (await store.get()).streaming_api_url == "https://nc.example/v1"
    nextcloud.set_appconfig("streaming_model", "changed")
    clock.advance(UNCONFIGURED_TTL + 0.01)
    assert (await store.get()).streaming_model != "changed"  # configured: cached for its ttl

    nextcloud.down()
    store.invalidate()
    assert (await store.get()).stale is True
    nextcloud.up()
    clock.advance(FAILED_TTL - 0.01)
    assert (await store.get()).stale is True  # still the failed read
    clock.advance(0.02)
    s = await store.get()
    assert s.stale is False and s.streaming_model == "changed"


async def test_fresh_reads_whatever_is_cached(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.set_appconfig("streaming_api_url", "https://nc.example/v1")
    store = ConfigStore(nc.appconfig, ttl=60, environ={}, clock=FakeClock())
    assert (await store.get()).streaming_model == "gpt-3.5-turbo"
    nextcloud.set_appconfig("streaming_model", "set-a-moment-ago")
    assert (await store.get()).streaming_model == "gpt-3.5-turbo"
    assert (await store.fresh()).streaming_model == "set-a-moment-ago"


async def test_configstore_tells_listeners_about_changes(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    seen: list[tuple[str, str]] = []

    async def listener(old: Settings, new: Settings) -> None:
        seen.append((old.streaming_model, new.streaming_model))

    async def failing(old: Settings, new: Settings) -> None:
        raise RuntimeError("a listener's failure stays in the background")

    store = ConfigStore(nc.appconfig, ttl=0, environ={})
    store.on_change(failing)
    store.on_change(listener)
    nextcloud.set_appconfig("streaming_model", "one")
    await store.get()
    await store.get()  # no change, no call
    nextcloud.set_appconfig("streaming_model", "two")
    assert (await store.get()).streaming_model == "two"
    await store.aclose()
    assert seen == [("one", "two")]


# --- the admin form's write-only key field ---------------------------------------------------------


async def test_key_saved_in_the_form_moves_out_of_the_form(nextcloud: NextcloudDouble,
                                                             nc: NextcloudServer) -> None:
    """Issue 11 defect 2: the forms API hands a field's stored value to the browser, so the key is no field."""
    assert await nc.ui.on_enabled({}) == ""
    nextcloud.admin_saves_form(KEY_INBOX, API_KEY)
    store = ConfigStore(nc.appconfig, ttl=0, environ={})
    assert (await store.get()).streaming_api_key == Secret(API_KEY)
    # Moved to the key (encrypted, sensitive), and the form's field emptied: nothing left for the forms API.
    assert nextcloud.appconfig_sensitive("streaming_api_key")
    assert looks_encrypted(nextcloud.appconfig_stored("streaming_api_key"))
    assert nextcloud.appconfig_rows[KEY_INBOX] == {"value": "", "sensitive": True}
    assert (await store.get()).streaming_api_key == Secret(API_KEY)  # and it stays


class FlakySource:
    """An app config whose writes fail while ``failing`` (Nextcloud refusing one request)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.failing = True

    async def fetch(self, keys: Sequence[str]) -> dict[str, str | None]:
        return {k: self.values.get(k) for k in keys}

    async def store(self, key: str, value: str, *, sensitive: bool) -> None:
        if self.failing:
            raise OSError("refused")
        self.values[key] = value


async def test_a_failed_move_keeps_the_value_in_the_inbox(caplog: pytest.LogCaptureFixture) -> None:
    source = FlakySource({"streaming_api_url": "https://nc.example/v1", KEY_INBOX: API_KEY})
    store = ConfigStore(source, ttl=0, environ={})
    assert (await store.get()).streaming_api_key == Secret(API_KEY)  # used meanwhile
    assert source.values == {"streaming_api_url": "https://nc.example/v1", KEY_INBOX: API_KEY}
    source.failing = False
    assert (await store.get()).streaming_api_key == Secret(API_KEY)  # the next read moves it
    assert source.values == {"streaming_api_url": "https://nc.example/v1", KEY_INBOX: "",
                             "streaming_api_key": API_KEY}
    assert API_KEY not in caplog.text and "will retry" in caplog.text


async def test_form_quirk_without_a_prepared_inbox_is_not_taken_for_a_key(
        nextcloud: NextcloudDouble, nc: NextcloudServer, caplog: pytest.LogCaptureFixture) -> None:
    # What on_enabled protects against: the form creating the entry itself leaves ciphertext for the app.
    await nc.client.app().ui.settings.register_form(settings_form())
    nextcloud.admin_saves_form(KEY_INBOX, API_KEY)
    assert looks_encrypted((await nc.appconfig.fetch([KEY_INBOX]))[KEY_INBOX])
    settings = await ConfigStore(nc.appconfig, ttl=0, environ={}).get()
    assert settings.streaming_api_key == Secret("")
    assert any("could not be read" in r.getMessage() for r in caplog.records)
    assert nextcloud.appconfig[KEY_INBOX] == ""


# --- connections ---------------------------------------------------------------------------------


async def test_connection_keys_come_with_the_settings_and_are_never_shown(nextcloud: NextcloudDouble,
                                                                           nc: NextcloudServer) -> None:
    lab = {"id": "lab", "name": "Lab", "url": "http://lab:8000/v1", "models": ["llama"], "api_key": "sk-in-json"}
    nextcloud.set_appconfig("connections", json.dumps([lab]))
    nextcloud.set_appconfig("connection_lab_api_key", "sk-lab-key-123", sensitive=True)
    store = ConfigStore(nc.appconfig, ttl=0, environ={})
    s = await store.get()
    [connection] = s.connection_list
    assert (connection.id, connection.models, connection.api_key.reveal()) == ("lab", ("llama",), "sk-lab-key-123")
    assert s.streaming_configured
    # The first read learnt the connection's id: one more round trip for its key; from then on one per read.
    assert len(nextcloud.calls_to("/ex-app/config/get-values")) == 2
    await store.get()
    assert len(nextcloud.calls_to("/ex-app/config/get-values")) == 3
    shown = json.dumps(s.public())
    assert "sk-lab-key-123" not in shown and "sk-in-json" not in shown
    assert s.public()["connections"]["value"][0]["keySet"] is True

    await store.set("connection_lab_api_key", "sk-replaced-456")
    assert nextcloud.appconfig_sensitive("connection_lab_api_key")
    assert (await store.get()).connection_list[0].api_key.reveal() == "sk-replaced-456"
    with pytest.raises(KeyError):
        await store.set("connection_lab_secret", "x")
