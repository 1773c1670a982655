"""Chat sessions: created, listed (by last activity), searched, renamed and deleted, always within one user's own."""

from __future__ import annotations

import re

from sqlalchemy import Integer, delete, exists, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.errors import NotFound
from ..core.limits import MAX_TITLE
from .database import Database
from .models import OPTION_FIELDS, SESSION_FIELDS, messages, sessions
from .values import Record, id_value, int_value, now, text_value

_SESSION_COLS = [sessions.c[f] for f in SESSION_FIELDS]

# What the list adds to each session: when something last happened in it (its newest message, else the
# session itself), whether an answer is being generated in it, and whether it has no message yet.
_LAST_ACTIVITY = func.coalesce(
    select(func.max(messages.c.updated_at)).where(messages.c.session_id == sessions.c.id).scalar_subquery(),
    sessions.c.updated_at).label("last_activity")
_GENERATING = exists().where(messages.c.session_id == sessions.c.id,
                             messages.c.status == "generating").label("generating")
_EMPTY = (~exists().where(messages.c.session_id == sessions.c.id)).label("empty")

SEARCH_TERMS = 8
SEARCH_RESULTS = 100
_TERM = re.compile(r"[^\W_]+")
# Ids of the sessions whose title or one of whose messages holds every term (as a word prefix), by the
# database's own full-text index (migration 0004).
_MATCHING_SQLITE = text(
    "SELECT m.session_id FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
    "WHERE messages_fts MATCH :query UNION SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH :query")
_MATCHING_POSTGRES = text(
    "SELECT session_id FROM messages WHERE to_tsvector('simple', coalesce(content, '')) "
    "@@ to_tsquery('simple', :query) UNION SELECT id FROM sessions "
    "WHERE to_tsvector('simple', coalesce(title, '')) @@ to_tsquery('simple', :query)")


def search_terms(query: str) -> list[str]:
    """The words of a search, lower case: letters and digits only, so no query syntax gets through."""
    return [t[:64] for t in _TERM.findall(query.lower())][:SEARCH_TERMS]


def _full_text(dialect: str, terms: list[str]) -> tuple[object, str]:
    """The statement that finds the matching session ids and its query string, in the dialect's syntax."""
    if dialect == "sqlite":
        return _MATCHING_SQLITE, " AND ".join(f'"{t}"*' for t in terms)
    return _MATCHING_POSTGRES, " & ".join(f"{t}:*" for t in terms)


def _listed(row: object) -> Record:
    item = dict(row._mapping)  # type: ignore[attr-defined]
    item["generating"] = bool(item["generating"])
    item["empty"] = bool(item["empty"])
    item["title_manual"] = bool(item["title_manual"])
    return item


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

    async def list_sessions(self, user_id: str, query: str | None = None) -> list[Record]:
        """The user's sessions, the most recently active first; with ``query``, only those whose title or
        messages contain all its words (full-text search, at most SEARCH_RESULTS)."""
        terms = search_terms(query or "")

        async def run(conn: AsyncConnection) -> list[Record]:
            stmt = select(*_SESSION_COLS, _LAST_ACTIVITY, _GENERATING, _EMPTY).where(sessions.c.user_id == user_id)
            if query is not None:
                if not terms:
                    return []
                matching, fts_query = _full_text(conn.dialect.name, terms)
                stmt = stmt.where(sessions.c.id.in_(
                    matching.bindparams(query=fts_query).columns(session_id=Integer))).limit(SEARCH_RESULTS)
            rows = await conn.execute(stmt.order_by(_LAST_ACTIVITY.desc(), sessions.c.id.desc()))
            return [_listed(r) for r in rows]

        return await self.run(run, write=False)

    async def update_session_title(self, user_id: str, session_id: int, title: str, *,
                                   generated: bool = False) -> Record:
        """The user's title (kept from then on), or a generated one (written only if the user gave none)."""
        title = text_value(title, what="title", limit=MAX_TITLE)

        async def run(conn: AsyncConnection) -> Record:
            await session_of(conn, user_id, session_id)
            stmt = update(sessions).where(sessions.c.id == session_id)
            if generated:
                stmt = stmt.where(sessions.c.title_manual.is_(False)).values(title=title, updated_at=now())
            else:
                stmt = stmt.values(title=title, title_manual=True, updated_at=now())
            await conn.execute(stmt)
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

    async def session_options(self, user_id: str, session_id: int) -> Record:
        """The conversation's model and prompt options (None: the admin's default)."""
        async def run(conn: AsyncConnection) -> Record:
            row = (await conn.execute(select(*[sessions.c[f] for f in OPTION_FIELDS]).where(
                sessions.c.id == id_value(session_id, "Session"), sessions.c.user_id == user_id))).first()
            if row is None:
                raise NotFound("Session not found")
            return dict(row._mapping)

        return await self.run(run, write=False)

    async def set_session_options(self, user_id: str, session_id: int, values: Record) -> Record:
        """Change the options named in ``values`` (checked by the caller; None sets the default back)."""
        changes = {k: v for k, v in values.items() if k in OPTION_FIELDS}

        async def run(conn: AsyncConnection) -> Record:
            await session_of(conn, user_id, session_id)
            if changes:
                await conn.execute(update(sessions).where(sessions.c.id == session_id).values(**changes))
            row = (await conn.execute(select(*[sessions.c[f] for f in OPTION_FIELDS])
                                      .where(sessions.c.id == session_id))).one()
            return dict(row._mapping)

        return await self.run(run, write=True)
