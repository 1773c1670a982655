"""The app's settings in local single-user mode, where there is no Nextcloud to keep them: a JSON file."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

FILE = "local_config.json"


class LocalConfig:
    """Implements core.settings.AppConfigSource on ``<persistent storage>/local_config.json`` (mode 0600: it may
    hold API keys, as Nextcloud's app config would, encrypted there)."""

    def __init__(self, folder: Path) -> None:
        self._path = folder / FILE
        self._lock = asyncio.Lock()

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("Could not read %s (%s); using the defaults", FILE, type(exc).__name__)
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} \
            if isinstance(data, dict) else {}

    def _write(self, values: dict[str, str]) -> None:
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(values, f, ensure_ascii=False, indent=1)
        os.replace(tmp, self._path)

    async def fetch(self, keys: Sequence[str]) -> dict[str, str | None]:
        values = await asyncio.to_thread(self._read)
        return {key: values.get(key) for key in keys}

    async def store(self, key: str, value: str, *, sensitive: bool) -> None:
        async with self._lock:
            values = await asyncio.to_thread(self._read)
            values[key] = value
            await asyncio.to_thread(self._write, values)
