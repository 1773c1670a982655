"""Chat sessions and messages in SQLite (WAL) or PostgreSQL, through SQLAlchemy 2 async."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Row, and_, delete, event, func, insert, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from .errors import AppError, BadRequest, NotFound, PayloadTooLarge, StorageError
from .models import FINAL_STATUSES, MESSAGE_FIELDS, ROLES, SESSION_FIELDS, STATUSES, messages, sessions

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_TITLE = 500
MAX_CONTENT = 100_000
MAX_ID = 2**31 - 1  # ids are 32-bit columns: a larger id cannot exist, and PostgreSQL would reject it
MAX_TIMESTAMP = 2**53  # anything a JSON client can send exactly; far beyond any real date
DB_FILE = "assistant_stream.db"
_MIGRATIONS = Path(__file__).with_name("migrations")
_SESSION_COLS = [sessions.c[f] for f in SESSION_FIELDS]
_MESSAGE_COLS = [messages.c[f] for f in MESSAGE_FIELDS]
_SURROGATE = re.compile("[\ud800-\udfff]")
_LOCKED = ("database is locked", "database table is locked", "database is busy")


def normalize_url(url: str) -> str:
    """Pick the async drivers: ``postgres://``/``postgresql://`` -> asyncpg, ``sqlite://`` -> aiosqlite."""
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+asyncpg://" + url[len(prefix):]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://"):]
    if url.startswith("postgresql+asyncpg://") and "sslmode=" in url:
        # libpq-style URLs say sslmode=require; asyncpg only knows ssl= (same values) and would fail.
        parsed = make_url(url)
        if "sslmode" in parsed.query and "ssl" not in parsed.query:
            parsed = parsed.difference_update_query(["sslmode"]).update_query_dict(
                {"ssl": parsed.query["sslmode"]})
            url = parsed.render_as_string(hide_password=False)
    return url


def _now() -> int:
    return int(time.time())


def _text(value: str, *, what: str, limit: int | None = None, too_large: type[AppError] = BadRequest) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"The {what} must be text")
    if limit is not None and len(value) > limit:
        raise too_large(f"The {what} is too long (at most {limit} characters)")
    return _clean(value)


def _clean(value: str) -> str:
    # PostgreSQL rejects NUL in text and neither database can store a lone UTF-16 surrogate (which a
    # JSON "\ud800" escape or a broken model stream can produce): clean rather than fail a write.
    return _SURROGATE.sub("\ufffd", value.replace("\x00", ""))


def _id(value: Any, what: str) -> int:
    # Out-of-range ids cannot exist; reject them here instead of letting PostgreSQL raise a DataError.
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise NotFound(f"{what} not found")
    return value


def _int(value: Any, what: str, lo: int = 0, hi: int = MAX_TIMESTAMP) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise BadRequest(f"The {what} must be an integer between {lo} and {hi}")
    return value


def _row(row: Row[Any] | None) -> dict[str, Any] | None:
    return None if row is None else dict(row._mapping)


class Storage:
    """All persistent state. Every public method is one transaction; user-facing ones are user-scoped."""

    TRIES = 3
    BACKOFF = (0.1, 0.3)  # seconds to wait before the 2nd and 3rd try

    def __init__(self, url: str, *, busy_timeout_ms: int = 5000) -> None:
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kw: dict[str, Any] = {"hide_parameters": True}  # never put chat content into logs or errors
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        else:
            # pool_pre_ping: a PostgreSQL restart must not fail the next request on a dead connection.
            kw.update(pool_pre_ping=True, pool_size=5, max_overflow=10, pool_recycle=1800,
                      connect_args={"timeout": 5})
        self._engine = create_async_engine(self.url, **kw)
        # SQLite allows one writer at a time; queueing writers here is cheaper than letting them spin
        # on the file lock. PostgreSQL handles concurrent writers itself.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        if self.is_sqlite:
            self._setup_sqlite(busy_timeout_ms)

    def _setup_sqlite(self, busy_timeout_ms: int) -> None:
        sync_engine = self._engine.sync_engine

        @event.listens_for(sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Take BEGIN out of the sqlite3 module's hands (it would skip it before SELECTs) so that
            # every method really is one transaction; see the "begin" hook below.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                           f"busy_timeout={int(busy_timeout_ms)}"):
                cur.execute(f"PRAGMA {pragma}")
            cur.close()

        @event.listens_for(sync_engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # IMMEDIATE takes the write lock up front (waiting busy_timeout for it), so a write never
            # fails half-way on a read->write lock upgrade, and "locked" always means nothing was done.
            write = conn.get_execution_options().get("assistant_stream_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    @classmethod
    def from_env(cls, persistent_dir: str, database_url: str | None) -> Storage:
        """DATABASE_URL if set, else SQLite in the ExApp's persistent storage directory."""
        if database_url and database_url.strip():
            return cls(database_url)
        path = Path(persistent_dir).resolve() / DB_FILE
        os.makedirs(path.parent, exist_ok=True)
        return cls(f"sqlite+aiosqlite:///{path}")

    async def close(self) -> None:
        await self._engine.dispose()

    # --- transactions and errors ---------------------------------------------------------------

    async def _run(self, fn: Callable[[AsyncConnection], Awaitable[T]], *, write: bool) -> T:
        """Run ``fn`` in one transaction; retry only when nothing can have been written."""
        for attempt in range(self.TRIES):
            connected = False
            try:
                lock = self._write_lock if write and self._write_lock else contextlib.nullcontext()
                async with lock, self._engine.connect() as conn:
                    connected = True
                    if write:
                        conn = await conn.execution_options(assistant_stream_write=True)
                    async with conn.begin():
                        return await fn(conn)
            except AppError:
                raise
            except IntegrityError as exc:
                # The only constraint a validated write can hit is messages.session_id when the
                # session is deleted at the same moment.
                raise NotFound("Session not found") from exc
            except (DBAPIError, OSError, TimeoutError) as exc:
                cause = _cause(exc)
                # A failed connect or a SQLite lock (taken by BEGIN IMMEDIATE) means no statement ran;
                # anything else may have reached the database, so it is not retried.
                retry = (not connected or cause == "locked") and attempt + 1 < self.TRIES
                log.warning("Database %s (%s): %s", "error, retrying" if retry else "unavailable",
                            cause, _describe(exc))
                if not retry:
                    raise StorageError(f"The database is unavailable ({cause}), try again shortly") from exc
                await asyncio.sleep(self.BACKOFF[min(attempt, len(self.BACKOFF) - 1)])
        raise AssertionError("unreachable")

    async def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent; the only way tables are created)."""
        def upgrade(sync_conn: Connection) -> None:
            cfg = Config()
            cfg.set_main_option("script_location", str(_MIGRATIONS).replace("%", "%%"))
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, "head")

        async def run(conn: AsyncConnection) -> None:
            await conn.run_sync(upgrade)

        await self._run(run, write=True)

    # --- sessions ----------------------------------------------------------------------------------

    async def _session(self, conn: AsyncConnection, user_id: str, session_id: int) -> dict[str, Any]:
        row = (await conn.execute(select(*_SESSION_COLS).where(
            sessions.c.id == _id(session_id, "Session"), sessions.c.user_id == user_id))).first()
        if row is None:
            raise NotFound("Session not found")
        return dict(row._mapping)

    async def create_session(self, user_id: str, title: str | None, timestamp: int | None) -> dict[str, Any]:
        title = None if title is None else _text(title, what="title", limit=MAX_TITLE)
        now = _now()
        ts = now if timestamp is None else _int(timestamp, "timestamp")

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            new_id = (await conn.execute(insert(sessions).values(
                user_id=user_id, title=title, timestamp=ts, created_at=now, updated_at=now,
            ).returning(sessions.c.id))).scalar_one()
            return await self._session(conn, user_id, new_id)

        return await self._run(run, write=True)

    async def get_session(self, user_id: str, session_id: int) -> dict[str, Any]:
        async def run(conn: AsyncConnection) -> dict[str, Any]:
            return await self._session(conn, user_id, session_id)

        return await self._run(run, write=False)

    async def list_sessions(self, user_id: str) -> list[dict[str, Any]]:
        async def run(conn: AsyncConnection) -> list[dict[str, Any]]:
            rows = await conn.execute(select(*_SESSION_COLS).where(sessions.c.user_id == user_id)
                                      .order_by(sessions.c.timestamp.desc(), sessions.c.id.desc()))
            return [dict(r._mapping) for r in rows]

        return await self._run(run, write=False)

    async def update_session_title(self, user_id: str, session_id: int, title: str) -> dict[str, Any]:
        title = _text(title, what="title", limit=MAX_TITLE)

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            await self._session(conn, user_id, session_id)
            await conn.execute(update(sessions).where(sessions.c.id == session_id)
                               .values(title=title, updated_at=_now()))
            return await self._session(conn, user_id, session_id)

        return await self._run(run, write=True)

    async def delete_session(self, user_id: str, session_id: int) -> None:
        async def run(conn: AsyncConnection) -> None:
            await self._session(conn, user_id, session_id)
            # Explicit rather than relying on ON DELETE CASCADE alone: a SQLite connection opened
            # without foreign_keys=ON (e.g. a manual sqlite3 shell) would otherwise leave orphans.
            await conn.execute(delete(messages).where(messages.c.session_id == session_id))
            await conn.execute(delete(sessions).where(sessions.c.id == session_id))

        await self._run(run, write=True)

    # --- messages ------------------------------------------------------------------------------

    async def _message_by_id(self, conn: AsyncConnection, message_id: int) -> dict[str, Any] | None:
        return _row((await conn.execute(select(*_MESSAGE_COLS).where(messages.c.id == message_id))).first())

    def _scoped(self, user_id: str, session_id: int) -> Any:
        """Messages of one session, only if the session belongs to the user."""
        return select(*_MESSAGE_COLS).join(sessions, sessions.c.id == messages.c.session_id).where(
            messages.c.session_id == _id(session_id, "Session"), sessions.c.user_id == user_id)

    async def add_message(self, user_id: str, session_id: int, role: str, content: str,
                          timestamp: int | None = None, *, status: str = "done",
                          reply_to: int | None = None, model: str | None = None,
                          session_title: str | None = None, replaces: int | None = None) -> dict[str, Any]:
        """Insert a message; in the same transaction optionally set the session's title and delete the
        message it replaces (a regenerated answer), so a failure half-way leaves the database as it was."""
        if role not in ROLES:
            raise BadRequest(f"The role must be one of {', '.join(ROLES)}")
        if status not in STATUSES:
            raise BadRequest(f"The status must be one of {', '.join(STATUSES)}")
        content = _text(content, what="message", limit=MAX_CONTENT, too_large=PayloadTooLarge)
        now = _now()
        ts = now if timestamp is None else _int(timestamp, "timestamp")
        if reply_to is not None:
            reply_to = _id(reply_to, "Message")
        if session_title is not None:
            session_title = _text(session_title, what="title", limit=MAX_TITLE)
        if replaces is not None:
            replaces = _id(replaces, "Message")

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            await self._session(conn, user_id, session_id)
            if replaces is not None:
                gone = await conn.execute(delete(messages).where(messages.c.id == replaces,
                                                                 messages.c.session_id == session_id))
                if gone.rowcount == 0:
                    raise NotFound("Message not found")
            new_id = (await conn.execute(insert(messages).values(
                session_id=session_id, role=role, content=content, reasoning="", status=status,
                reply_to=reply_to, model=model, timestamp=ts, created_at=now, updated_at=now,
            ).returning(messages.c.id))).scalar_one()
            session_values: dict[str, Any] = {"updated_at": now}
            if session_title is not None:
                session_values["title"] = session_title
            await conn.execute(update(sessions).where(sessions.c.id == session_id).values(**session_values))
            message = await self._message_by_id(conn, new_id)
            assert message is not None
            return message

        return await self._run(run, write=True)

    async def get_message(self, user_id: str, session_id: int, message_id: int) -> dict[str, Any]:
        async def run(conn: AsyncConnection) -> dict[str, Any]:
            row = (await conn.execute(self._scoped(user_id, session_id)
                                      .where(messages.c.id == _id(message_id, "Message")))).first()
            if row is None:
                raise NotFound("Message not found")
            return dict(row._mapping)

        return await self._run(run, write=False)

    async def list_messages(self, user_id: str, session_id: int, limit: int,
                            cursor: int) -> list[dict[str, Any]]:
        """Assistant's paging: skip the ``cursor`` newest, take ``limit``, return them oldest first."""
        limit, cursor = _int(limit, "limit", 1, 200), _int(cursor, "cursor", 0, MAX_ID)

        async def run(conn: AsyncConnection) -> list[dict[str, Any]]:
            await self._session(conn, user_id, session_id)
            rows = await conn.execute(self._scoped(user_id, session_id)
                                      .order_by(messages.c.id.desc()).offset(cursor).limit(limit))
            return [dict(r._mapping) for r in reversed(rows.all())]

        return await self._run(run, write=False)

    async def delete_message(self, user_id: str, session_id: int, message_id: int) -> None:
        async def run(conn: AsyncConnection) -> None:
            result = await conn.execute(delete(messages).where(
                messages.c.id == _id(message_id, "Message"), messages.c.session_id == session_id,
                messages.c.session_id.in_(select(sessions.c.id).where(
                    sessions.c.id == _id(session_id, "Session"), sessions.c.user_id == user_id))))
            if result.rowcount == 0:
                raise NotFound("Message not found")

        await self._run(run, write=True)

    async def last_human_message(self, user_id: str, session_id: int) -> dict[str, Any]:
        async def run(conn: AsyncConnection) -> dict[str, Any]:
            await self._session(conn, user_id, session_id)
            row = (await conn.execute(self._scoped(user_id, session_id).where(messages.c.role == "human")
                                      .order_by(messages.c.id.desc()).limit(1))).first()
            if row is None:
                raise NotFound("This conversation has no message to answer")
            return dict(row._mapping)

        return await self._run(run, write=False)

    async def answer_to(self, user_id: str, session_id: int, human_message_id: int) -> dict[str, Any] | None:
        """The newest assistant message answering ``human_message_id`` (None if there is none yet)."""
        async def run(conn: AsyncConnection) -> dict[str, Any] | None:
            await self._session(conn, user_id, session_id)
            return _row((await conn.execute(self._scoped(user_id, session_id).where(
                messages.c.role == "assistant", messages.c.reply_to == _id(human_message_id, "Message"))
                .order_by(messages.c.id.desc()).limit(1))).first())

        return await self._run(run, write=False)

    async def history(self, session_id: int, before_message_id: int, limit: int) -> list[tuple[str, str]]:
        """What the model is sent: the newest ``limit`` usable messages before an id, oldest first."""
        limit = _int(limit, "limit", 0, MAX_ID)

        async def run(conn: AsyncConnection) -> list[tuple[str, str]]:
            # Failed or still-running answers and empty ones would only confuse the model.
            usable = or_(messages.c.role == "human", and_(
                messages.c.role == "assistant", messages.c.status.in_(("done", "cancelled", "interrupted")),
                messages.c.content != ""))
            rows = await conn.execute(
                select(messages.c.role, messages.c.content)
                .where(messages.c.session_id == session_id, messages.c.id < before_message_id, usable)
                .order_by(messages.c.id.desc()).limit(limit))
            return [(r.role, r.content) for r in reversed(rows.all())]

        return await self._run(run, write=False)

    async def generating_message(self, session_id: int) -> dict[str, Any] | None:
        async def run(conn: AsyncConnection) -> dict[str, Any] | None:
            return _row((await conn.execute(select(*_MESSAGE_COLS).where(
                messages.c.session_id == session_id, messages.c.status == "generating")
                .order_by(messages.c.id.desc()).limit(1))).first())

        return await self._run(run, write=False)

    async def count_generating(self, user_id: str) -> int:
        async def run(conn: AsyncConnection) -> int:
            return int((await conn.execute(
                select(func.count())
                .select_from(messages.join(sessions, sessions.c.id == messages.c.session_id))
                .where(sessions.c.user_id == user_id, messages.c.status == "generating"))).scalar_one())

        return await self._run(run, write=False)

    async def save_progress(self, message_id: int, content: str, reasoning: str) -> None:
        """Checkpoint a running answer; a no-op once the message is deleted or finished."""
        async def run(conn: AsyncConnection) -> None:
            await conn.execute(update(messages).where(
                messages.c.id == message_id, messages.c.status == "generating",
            ).values(content=_clean(content), reasoning=_clean(reasoning), updated_at=_now()))

        await self._run(run, write=True)

    async def finish_message(self, message_id: int, *, status: str, content: str, reasoning: str,
                             finish_reason: str | None = None, error: str | None = None,
                             prompt_tokens: int | None = None, completion_tokens: int | None = None,
                             total_tokens: int | None = None,
                             tokens_per_second: float | None = None) -> dict[str, Any] | None:
        """Store the final state of an answer; None if it was deleted meanwhile."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"finish_message: status must be one of {FINAL_STATUSES}, not {status!r}")
        values = {
            "status": status, "content": _clean(content), "reasoning": _clean(reasoning),
            "finish_reason": finish_reason, "error": None if error is None else _clean(error),
            "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": total_tokens, "tokens_per_second": tokens_per_second, "updated_at": _now(),
        }

        async def run(conn: AsyncConnection) -> dict[str, Any] | None:
            await conn.execute(update(messages).where(messages.c.id == message_id).values(**values))
            return await self._message_by_id(conn, message_id)

        return await self._run(run, write=True)

    async def mark_interrupted(self) -> int:
        """At start-up: answers a previous process left ``generating`` become ``interrupted``, text kept."""
        async def run(conn: AsyncConnection) -> int:
            result = await conn.execute(update(messages).where(messages.c.status == "generating")
                                        .values(status="interrupted", updated_at=_now()))
            return int(result.rowcount or 0)

        return await self._run(run, write=True)

    async def get_message_by_id(self, message_id: int) -> dict[str, Any] | None:
        """Internal lookup without user scope (generation bookkeeping only)."""
        async def run(conn: AsyncConnection) -> dict[str, Any] | None:
            return await self._message_by_id(conn, message_id)

        return await self._run(run, write=False)


def _cause(exc: BaseException) -> str:
    """A short, secret-free name for why the database failed (shown to users)."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    if any(s in text for s in _LOCKED):
        return "locked"
    if isinstance(exc, TimeoutError) or "timeout" in text or "timed out" in text:
        return "timeout"
    if isinstance(exc, OSError | InterfaceError) or isinstance(getattr(exc, "orig", None), OSError) \
            or "connect" in text or "refused" in text:
        return "cannot connect"
    if isinstance(exc, OperationalError):
        return "operational error"
    return "database error"


def _describe(exc: BaseException) -> str:
    # The driver's own message, never SQLAlchemy's (which appends the SQL statement); no URL is in it.
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__}: {str(orig).splitlines()[0] if str(orig) else ''}"[:300]

