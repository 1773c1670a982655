"""The app's Nextcloud config as a dict (core.config_store.AppConfigSource) for tests of what reads and writes it."""

from __future__ import annotations

from collections.abc import Sequence


class MemoryAppConfig:
    def __init__(self, values: dict[str, str | None] | None = None) -> None:
        self.values: dict[str, str | None] = dict(values or {})

    async def fetch(self, keys: Sequence[str]) -> dict[str, str | None]:
        return {k: self.values.get(k) for k in keys}

    async def store(self, key: str, value: str, *, sensitive: bool) -> None:
        self.values[key] = value
