"""Chat sessions: created, listed, renamed and deleted, always within one user's own."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.errors import NotFound
from ..core.limits import MAX_TITLE
from .database import Database
from .models import SESSION_FIELDS, messages, sessions
from .values import Record, id_value, int_value, now, text_value

_SESSION_COLS = [sessions.c[f] for f in SESSION_FIELDS]


async def session_of(conn: AsyncConnection, user_id: str, session_id: int) -> Record:
    """The session if it is the user's; NotFound otherwise (never tells which)."""
    row = (await conn.execute(select(*_SESSION_COLS).where(
        sessions.c.id == id_value(session_id, "Session"), sessions.c.user_id == user_id))).first()
    if row is None:
        raise NotFound("Session not found")
    return dict(row._mapping)


class SessionQueries(Database):
    """Every method is one transaction, scoped to ``user_id``."""

    async def create_session(self, user_id: str, title: str | None, timestamp: int | None) -> Record:
        title = None if title is None else text_value(title, what="title", limit=MAX_TITLE)
        created = now()
        ts = created if timestamp is None else int_value(timestamp, "timestamp")

        async def run(conn: AsyncConnection) -> Record:
            new_id = (await conn.execute(insert(sessions).values(
                user_id=user_id, title=title, timestamp=ts, created_at=created, updated_at=created,
            ).returning(sessions.c.id))).scalar_one()
            return await session_of(conn, user_id, new_id)

        return await self.run(run, write=True)

    async def get_session(self, user_id: str, session_id: int) -> Record:
        async def run(conn: AsyncConnection) -> Record:
            return await session_of(conn, user_id, session_id)

        return await self.run(run, write=False)

    async def list_sessions(self, user_id: str) -> list[Record]:
        async def run(conn: AsyncConnection) -> list[Record]:
            rows = await conn.execute(select(*_SESSION_COLS).where(sessions.c.user_id == user_id)
                                      .order_by(sessions.c.timestamp.desc(), sessions.c.id.desc()))
            return [dict(r._mapping) for r in rows]

        return await self.run(run, write=False)

    async def update_session_title(self, user_id: str, session_id: int, title: str) -> Record:
        title = text_value(title, what="title", limit=MAX_TITLE)

        async def run(conn: AsyncConnection) -> Record:
            await session_of(conn, user_id, session_id)
            await conn.execute(update(sessions).where(sessions.c.id == session_id)
                               .values(title=title, updated_at=now()))
            return await session_of(conn, user_id, session_id)

        return await self.run(run, write=True)

    async def delete_session(self, user_id: str, session_id: int) -> None:
        async def run(conn: AsyncConnection) -> None:
            await session_of(conn, user_id, session_id)
            # Explicit rather than relying on ON DELETE CASCADE alone: a SQLite connection opened
            # without foreign_keys=ON (e.g. a manual sqlite3 shell) would otherwise leave orphans.
            await conn.execute(delete(messages).where(messages.c.session_id == session_id))
            await conn.execute(delete(sessions).where(sessions.c.id == session_id))

        await self.run(run, write=True)
