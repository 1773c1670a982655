"""The admin's connections and shared presets: read (keys only as set or not), saved, and a provider's models
fetched. The seed's streaming_* settings are the connection "default"."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from ..core.config_store import ConfigStore
from ..core.connections import SEED_ID, check_entry, dump_connections, find, key_setting, split_models, valid_url
from ..core.errors import InvalidParameter
from ..core.limits import MAX_CONNECTIONS
from ..core.presets import dump_presets, parse_presets, shared_presets
from ..core.settings import Settings
from ..providers.models import list_models
from ..providers.transport import ProviderClient
from .models import choose

SEED_KEYS = ("streaming_api_url", "streaming_model", "streaming_models", "streaming_api_key")
# Told every change an admin makes here: (key, old, new), for the audit log (chat/audit.py masks the keys).
Recorder = Callable[[str, str | None, str | None], Awaitable[None]]


class AdminConnections:
    def __init__(self, config: ConfigStore, provider: ProviderClient) -> None:
        self._config = config
        self._provider = provider

    async def _set(self, record: Recorder | None, key: str, old: str | None, new: str) -> None:
        """Store one setting when it changes, and tell the audit log who changed it."""
        if (old or "") == new:
            return
        await self._config.set(key, new)
        if record is not None:
            await record(key, old or None, new or None)

    async def connections(self) -> dict[str, Any]:
        """Every connection as an admin may see it, and which seed settings the environment fixes."""
        settings = await self._config.get()
        return {"connections": [c.public() for c in settings.connection_list],
                "fixed": sorted(k for k in SEED_KEYS if settings.sources.get(k) == "env")}

    async def save(self, entries: Any, record: Recorder | None = None) -> dict[str, Any]:
        """Replace the connections with ``entries`` ([{id, name, url, models, apiKey?}], "default" for the
        seed's settings). A missing or null apiKey keeps the stored key; "" removes it. Each change is told to
        ``record`` (the admin's audit)."""
        if not isinstance(entries, list) or len(entries) > MAX_CONNECTIONS + 1:
            raise InvalidParameter(f"connections must be a list of at most {MAX_CONNECTIONS + 1} connections")
        settings = await self._config.get()
        seed = next((e for e in entries if isinstance(e, dict) and e.get("id") == SEED_ID), None)
        others = [e for e in entries if e is not seed]
        try:
            checked = [check_entry(e) for e in others]
        except ValueError as exc:
            raise InvalidParameter(str(exc)[:1].upper() + str(exc)[1:]) from None
        if len({e["id"] for e in checked}) != len(checked):
            raise InvalidParameter("Two connections have the same id")
        await self._save_seed(settings, seed, record)
        await self._set(record, "connections", settings.connections, dump_connections(checked))
        keys = {c.id: c.api_key.reveal() for c in settings.connection_list if not c.seed}
        for entry, raw in zip(checked, others, strict=True):
            if isinstance(raw.get("apiKey"), str):
                await self._set(record, key_setting(entry["id"]), keys.get(entry["id"]), raw["apiKey"].strip())
        kept = {e["id"] for e in checked}
        for old in settings.connection_list:
            if not old.seed and old.id not in kept and old.api_key:
                await self._set(record, key_setting(old.id), old.api_key.reveal(), "")  # no key outlives its connection
        return await self.connections()

    async def _save_seed(self, settings: Settings, seed: dict[str, Any] | None, record: Recorder | None) -> None:
        values: dict[str, str] = {"streaming_api_url": ""}
        if seed is not None:
            url = seed.get("url")
            models = seed.get("models")
            if not isinstance(url, str) or not valid_url(url.strip()):
                raise InvalidParameter("Connection default: the url must start with http:// or https://")
            if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
                raise InvalidParameter("Connection default: models must list at least one model name")
            names = split_models(",".join(models))
            values = {"streaming_api_url": url.strip(), "streaming_model": names[0],
                      "streaming_models": ",".join(names[1:])}
            if isinstance(seed.get("apiKey"), str):
                values["streaming_api_key"] = seed["apiKey"].strip()
        for key, value in values.items():
            current = getattr(settings, key)
            current = current.reveal() if key == "streaming_api_key" else current
            if settings.sources.get(key) == "env":
                if current != value:
                    raise InvalidParameter(f"{key} is set by an environment variable and cannot be changed here")
                continue
            await self._set(record, key, current, value)

    async def fetch_models(self, connection_id: str | None, url: str | None, api_key: str | None) -> list[str]:
        """The models a provider lists: a saved connection's (its stored key unless one is given), or the URL and
        key typed into the form before saving."""
        settings = await self._config.get()
        saved = find(settings.connection_list, connection_id) if connection_id else None
        if saved is not None:
            url = url or saved.url
            api_key = api_key if api_key is not None else saved.api_key.reveal()
        if not url:
            raise InvalidParameter("Give the connection's url (or the id of a saved connection)")
        return await list_models(self._provider, url, api_key or "", timeout=settings.connect_timeout + 10)

    async def presets(self) -> list[dict[str, Any]]:
        return shared_presets((await self._config.get()).presets)

    async def save_presets(self, entries: Any, record: Recorder | None = None) -> list[dict[str, Any]]:
        """Replace the shared presets; each model named must be one the connections offer."""
        try:
            checked = parse_presets(json.dumps(entries))
        except (ValueError, TypeError) as exc:
            raise InvalidParameter(str(exc)[:1].upper() + str(exc)[1:]) from None
        settings = await self._config.get()
        for preset in checked:
            if preset["model"] is not None:
                choose(settings, preset["connection"], preset["model"])
        await self._set(record, "presets", settings.presets, dump_presets(checked))
        return checked
