"""SettingsAudit: every change to the app's settings and budgets in the audit log: who, what, when, no secret.

Changes made through the app's admin routes are logged with the admin's user id. Changes made outside it
(``occ app_api:app:config:set``, Nextcloud's admin form) reach the app only as new values, when it next reads
its config (within the settings cache time, 10 s): they are logged then, by the first process to notice.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Protocol

from ..core.settings import sensitive
from ..store.audit import UNSET, Seen
from ..store.values import Record

OUTSIDE = "occ or Nextcloud admin settings"  # the actor of a change the app only sees the result of
MAX_SHOWN = 4000  # characters of a value kept in the log


class AuditStore(Protocol):
    async def audit(self, actor: str, action: str, changes: Sequence[tuple[str, str | None, str | None]],
                    seen: Mapping[str, Seen] | None = None) -> None: ...

    async def audit_if_unseen(self, actor: str, action: str, now_seen: Mapping[str, Seen],
                              describe: Mapping[str, tuple[str | None, str | None]]) -> list[str]: ...

    async def audit_entries(self, limit: int, before: int | None = None) -> list[Record]: ...


class SettingsAudit:
    def __init__(self, storage: AuditStore, key: bytes) -> None:
        self._storage = storage
        self._key = key  # fingerprints of secrets are keyed: the log's database alone cannot test guesses

    def seen(self, key: str, value: str | None) -> Seen:
        if value is None or value == "":
            return UNSET
        digest = hmac.new(self._key, f"{key}\0{value}".encode(), hashlib.sha256).hexdigest()[:32]
        return Seen(digest, None if sensitive(key) else value[:MAX_SHOWN])

    def shown(self, key: str, value: str | None) -> str | None:
        """A value as the log shows it: secrets only as set or removed."""
        if sensitive(key):  # a connection's key too
            return "(set)" if value else "(removed)"
        return None if value is None else value[:MAX_SHOWN]

    async def observe(self, raw: Mapping[str, str | None]) -> None:
        """The app config as just read: log what changed since it was last seen (ConfigStore calls this)."""
        now_seen = {key: self.seen(key, value) for key, value in raw.items()}
        # Old values come from what was last seen (never a secret: those are logged as set or removed).
        describe = {key: (None, self.shown(key, value)) for key, value in raw.items()}
        await self._storage.audit_if_unseen(OUTSIDE, "setting changed", now_seen, describe)

    async def record(self, actor: str, action: str, key: str, old: str | None, new: str | None) -> None:
        """A change made through the app by ``actor`` (an admin's user id)."""
        await self._storage.audit(actor, action, [(key, self.shown(key, old), self.shown(key, new))],
                                  seen={key: self.seen(key, new)})

    async def entries(self, limit: int, before: int | None) -> list[Record]:
        return await self._storage.audit_entries(limit, before)
