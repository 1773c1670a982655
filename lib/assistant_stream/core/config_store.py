"""ConfigStore: the settings read from Nextcloud, cached briefly, last good values kept, the form's inboxes emptied."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from .connections import key_setting, lenient_ids
from .errors import AppError
from .settings import INBOXES, SETTING_KEYS, Settings, build_settings, sensitive

log = logging.getLogger(__name__)

# How long a read is trusted: a configured app's settings change rarely; without a provider URL the admin is
# most likely configuring it right now, and a failed read should be retried soon (issue 11, defect 7).
UNCONFIGURED_TTL = 1.0
FAILED_TTL = 2.0
# Nextcloud's encrypted format (ICrypto: ciphertext|iv|hmac|version, hex): what an inbox holds when the form
# created its entry without the sensitive flag, so that AppAPI hands it over without decrypting it.
_CIPHERTEXT = re.compile(r"^[0-9a-f]+\|[0-9a-f]+\|[0-9a-f]+(\|\d+)?$")
_READ_ERRORS = (AppError, OSError, TimeoutError)

Listener = Callable[[Settings, Settings], Awaitable[None]]
Observer = Callable[[Mapping[str, str | None]], Awaitable[None]]


class AppConfigSource(Protocol):
    """Where the app's Nextcloud config lives (nc.appconfig_ex in production, a dict in tests)."""

    async def fetch(self, keys: Sequence[str]) -> dict[str, str | None]: ...

    async def store(self, key: str, value: str, *, sensitive: bool) -> None: ...


class ConfigStore:
    """Caches settings briefly; when Nextcloud is unreachable keeps the last good values.

    A configured read is kept ``ttl`` seconds, an unconfigured one (no provider URL) UNCONFIGURED_TTL and a failed
    one FAILED_TTL, so that an admin's first configuration and a recovered Nextcloud are seen at once. Listeners
    hear about every change of the settings (in the background, after the read).
    """

    def __init__(self, source: AppConfigSource | None, *, ttl: float = 10.0,
                 environ: Mapping[str, str] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._source = source
        self._clock = clock
        self._ttl = ttl
        self._environ = os.environ if environ is None else environ
        self._cached: Settings | None = None
        self._expires_at = -math.inf
        self._lock = asyncio.Lock()
        self._last_good: dict[str, str | None] | None = None
        self._outage_logged = False
        self._listeners: list[Listener] = []
        self._background: set[asyncio.Task[None]] = set()
        self._key_names: tuple[str, ...] = ()  # the connection key settings the last read needed
        # Told the raw app config whenever a read finds it changed, the first read included (the audit of changes
        # made outside the app, also while it was down): awaited, so that a change is logged before it is used.
        self._observer: Observer | None = None

    def observe(self, observer: Observer) -> None:
        self._observer = observer

    def invalidate(self) -> None:
        self._expires_at = -math.inf

    def on_change(self, listener: Listener) -> None:
        """Call ``listener(old, new)`` whenever a read finds settings different from the previous read."""
        self._listeners.append(listener)

    async def get(self) -> Settings:
        if self._cached is not None and self._clock() < self._expires_at:
            return self._cached
        async with self._lock:  # one fetch at a time: a burst of requests costs one round trip
            if self._cached is not None and self._clock() < self._expires_at:
                return self._cached
            old, new = self._cached, await self._load()
            self._cached = new
            self._expires_at = self._clock() + self._valid_for(new)
            if old is not None and new != old:
                self._notify(old, new)
            return new

    def _valid_for(self, settings: Settings) -> float:
        if settings.stale:
            return min(self._ttl, FAILED_TTL)
        if not settings.streaming_configured:
            return min(self._ttl, UNCONFIGURED_TTL)
        return self._ttl

    async def fresh(self) -> Settings:
        """Read now, whatever is cached (enabling the app: the admin may be configuring it at this moment)."""
        self.invalidate()
        return await self.get()

    def _notify(self, old: Settings, new: Settings) -> None:
        for listener in self._listeners:
            task = asyncio.get_running_loop().create_task(self._run_listener(listener, old, new))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    @staticmethod
    async def _run_listener(listener: Listener, old: Settings, new: Settings) -> None:
        try:
            await listener(old, new)
        except Exception as exc:  # a listener's failure must not reach the request that read the settings
            log.warning("A settings listener failed: %s", type(exc).__name__)

    async def aclose(self) -> None:
        """Wait for the listeners still running."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _load(self) -> Settings:
        if self._source is None:
            return build_settings(self._environ, {})
        try:
            raw = await self._fetch(self._source)
        except _READ_ERRORS as exc:
            if not self._outage_logged:
                # One clear line per outage, not one per request.
                log.warning("Nextcloud unreachable for settings (%s); using the last values read",
                            type(exc).__name__)
                self._outage_logged = True
            return build_settings(self._environ, self._last_good or {}, stale=True)
        if self._outage_logged:
            log.info("Nextcloud reachable again for settings")
            self._outage_logged = False
        await self._empty_inboxes(raw)
        if raw != self._last_good and self._observer is not None:
            try:
                await self._observer(raw)
            except Exception as exc:  # the audit must never cost a request its settings (type only: no value logged)
                log.warning("Could not audit a settings change: %s", type(exc).__name__)
        self._last_good = raw
        return build_settings(self._environ, raw)

    async def _fetch(self, source: AppConfigSource) -> dict[str, str | None]:
        """The settings and the key of every connection; a second round trip only when a connection is new."""
        raw = await source.fetch((*SETTING_KEYS, *INBOXES, *self._key_names))
        needed = tuple(key_setting(cid) for cid in lenient_ids(self._environ.get("CONNECTIONS")
                                                                or raw.get("connections") or ""))
        missing = [k for k in needed if k not in raw]
        if missing:
            raw.update(await source.fetch(missing))
        self._key_names = needed
        return raw

    async def _empty_inboxes(self, raw: dict[str, str | None]) -> None:
        """Move a value the admin typed into a write-only form field to the key it is for, then empty the field."""
        assert self._source is not None
        for inbox, target in INBOXES.items():
            value = (raw.pop(inbox, None) or "").strip()
            if not value:
                continue
            if _CIPHERTEXT.match(value):
                # Unreadable: the form created the entry without the sensitive flag (enabling creates it with).
                log.warning("A value saved in the admin form's %s field could not be read; save it again", inbox)
            else:
                try:
                    await self._source.store(target, value, sensitive=True)
                except _READ_ERRORS as exc:
                    log.warning("Could not store the value from the admin form's %s field (%s); will retry",
                                inbox, type(exc).__name__)
                    raw[target] = value  # use it meanwhile; the inbox keeps it until the move succeeds
                    continue
                raw[target] = value
                log.info("Took over the value saved in the admin form's %s field", inbox)
            try:
                await self._source.store(inbox, "", sensitive=True)
            except _READ_ERRORS as exc:
                log.warning("Could not empty the admin form's %s field (%s)", inbox, type(exc).__name__)

    async def set(self, key: str, value: str) -> None:
        """Store one setting (a connection's key included), flagged sensitive where it is a key."""
        if key not in SETTING_KEYS and not sensitive(key):
            raise KeyError(key)
        if self._source is None:
            raise RuntimeError("no app config source")
        await self._source.store(key, value, sensitive=sensitive(key))
        self.invalidate()
