"""SettingsAudit (chat/audit.py): a change made outside the app is logged when read; a secret never is."""

from __future__ import annotations

from assistant_stream.chat.audit import OUTSIDE, SettingsAudit
from assistant_stream.core.config_store import ConfigStore
from assistant_stream.store.storage import Storage
from tests.support.config import MemoryAppConfig


async def test_changes_made_with_occ_are_logged_without_the_secret(storage: Storage) -> None:
    source = MemoryAppConfig()
    source.values = {"streaming_model": "gpt-4o", "streaming_api_key": "sk-first-secret"}
    config = ConfigStore(source, ttl=0, environ={})
    config.observe(SettingsAudit(storage, b"k").observe)
    await config.get()  # the first look: nothing to compare with
    assert await storage.audit_entries(10) == []
    source.values.update(streaming_model="llama3", streaming_api_key="sk-second-secret")
    await config.get()
    await config.get()  # unchanged now: nothing more
    entries = {e["key"]: e for e in await storage.audit_entries(10)}
    assert set(entries) == {"streaming_model", "streaming_api_key"}
    assert (entries["streaming_model"]["old_value"], entries["streaming_model"]["new_value"]) == ("gpt-4o", "llama3")
    assert entries["streaming_api_key"]["actor"] == OUTSIDE and entries["streaming_api_key"]["new_value"] == "(set)"
    assert "secret" not in repr(await storage.audit_entries(10)) + repr(await storage.seen_settings())


async def test_a_connections_key_is_logged_as_set_never_its_value(storage: Storage) -> None:
    source = MemoryAppConfig()
    source.values = {"connections": '[{"id": "lab", "url": "http://lab/v1", "models": ["m"]}]'}
    config = ConfigStore(source, ttl=0, environ={})
    config.observe(SettingsAudit(storage, b"k").observe)
    await config.get()
    source.values["connection_lab_api_key"] = "sk-lab-secret"  # occ app_api:app:config:set ... --sensitive=1
    await config.get()
    [entry] = await storage.audit_entries(10)
    assert (entry["key"], entry["new_value"]) == ("connection_lab_api_key", "(set)")
    assert "secret" not in repr(await storage.audit_entries(10)) + repr(await storage.seen_settings())
