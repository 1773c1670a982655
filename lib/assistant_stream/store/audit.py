"""The admin audit log (who changed which setting or budget, when) and the settings as the audit last saw them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.limits import MAX_ID
from .database import Database
from .models import audit_log, settings_seen
from .values import Record, int_value, now

AUDIT_FIELDS = ("id", "at", "actor", "action", "key", "old_value", "new_value")
MAX_AUDIT_PAGE = 200
_AUDIT_LOCK = 0x61756469  # PostgreSQL advisory lock id of audit_if_unseen ("audi")


@dataclass(frozen=True, slots=True)
class Seen:
    """One setting as the audit saw it: a fingerprint of the value, and the value itself unless it is secret."""

    fingerprint: str
    value: str | None


UNSET = Seen("unset", None)  # how a setting without a value is seen

class AuditQueries(Database):
    async def audit(self, actor: str, action: str, changes: Sequence[tuple[str, str | None, str | None]],
                    seen: Mapping[str, Seen] | None = None) -> None:
        """Log ``changes`` (key, old, new) by ``actor``; in the same transaction note the new values as seen."""
        async def run(conn: AsyncConnection) -> None:
            at = now()
            for key, old, new in changes:
                await conn.execute(insert(audit_log).values(at=at, actor=actor[:256], action=action[:64],
                                                            key=key[:128], old_value=old, new_value=new))
            await _store_seen(conn, seen or {})

        await self.run(run, write=True)

    async def audit_entries(self, limit: int, before: int | None = None) -> list[Record]:
        """The newest entries first (``before``: an id, for the next page)."""
        limit = int_value(limit, "limit", 1, MAX_AUDIT_PAGE)

        async def run(conn: AsyncConnection) -> list[Record]:
            query = select(*(audit_log.c[f] for f in AUDIT_FIELDS)).order_by(audit_log.c.id.desc()).limit(limit)
            if before is not None:
                query = query.where(audit_log.c.id < int_value(before, "before", 1, MAX_ID))
            return [dict(r._mapping) for r in await conn.execute(query)]

        return await self.run(run, write=False)

    async def seen_settings(self) -> dict[str, Seen]:
        async def run(conn: AsyncConnection) -> dict[str, Seen]:
            rows = await conn.execute(select(settings_seen))
            return {r.key: Seen(r.fingerprint, r.value) for r in rows}

        return await self.run(run, write=False)

    async def audit_if_unseen(self, actor: str, action: str, now_seen: Mapping[str, Seen],
                              describe: Mapping[str, tuple[str | None, str | None]]) -> list[str]:
        """Log the keys whose fingerprint differs from the stored one, and store the new ones: in one write
        transaction, so that of several processes noticing the same change only the first logs it. Returns the
        keys logged. ``describe``: key -> (old, new) as the log shows them (None: read from the stored values)."""
        async def run(conn: AsyncConnection) -> list[str]:
            if conn.dialect.name == "postgresql":
                # Read committed would let every process read the old values at once; SQLite's writers are
                # serialized already (BEGIN IMMEDIATE).
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_LOCK})
            stored = {r.key: Seen(r.fingerprint, r.value) for r in await conn.execute(select(settings_seen))}
            # A key never seen counts as unset (a setting a newer version added is no change).
            changed = [] if not stored else sorted(  # the first look has nothing to compare with
                k for k, v in now_seen.items() if stored.get(k, UNSET).fingerprint != v.fingerprint)
            at = now()
            for key in changed:
                old, new = describe.get(key, (None, None))
                old = old if old is not None or key not in stored else stored[key].value
                await conn.execute(insert(audit_log).values(at=at, actor=actor, action=action, key=key,
                                                            old_value=old, new_value=new))
            await _store_seen(conn, now_seen)
            return changed

        return await self.run(run, write=True)


async def _store_seen(conn: AsyncConnection, seen: Mapping[str, Seen]) -> None:
    for key, value in seen.items():
        if (await conn.execute(update(settings_seen).where(settings_seen.c.key == key)
                               .values(fingerprint=value.fingerprint, value=value.value))).rowcount == 0:
            await conn.execute(delete(settings_seen).where(settings_seen.c.key == key))
            await conn.execute(insert(settings_seen).values(key=key, fingerprint=value.fingerprint,
                                                            value=value.value))
