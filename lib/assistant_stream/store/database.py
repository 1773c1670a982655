"""The database: SQLite (WAL) or PostgreSQL through SQLAlchemy 2 async; one transaction per call, retried safely."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Self, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..core.errors import AppError, NotFound, StorageUnavailable

log = logging.getLogger(__name__)
# aiosqlite's DEBUG lines carry every query with its parameters: chat text and attached files' text would
# reach the log whenever LOG_LEVEL=DEBUG. Its INFO and above say nothing of the data.
logging.getLogger("aiosqlite").setLevel(logging.INFO)

T = TypeVar("T")

DB_FILE = "assistant_stream.db"
MIGRATIONS = Path(__file__).with_name("migrations")
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


class Database:
    """The engine and its transactions; the query classes (sessions, messages) build on it."""

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
            _setup_sqlite(self._engine, busy_timeout_ms)

    @classmethod
    def from_env(cls, persistent_dir: str, database_url: str | None) -> Self:
        """DATABASE_URL if set, else SQLite in the ExApp's persistent storage directory."""
        if database_url and database_url.strip():
            return cls(database_url)
        path = Path(persistent_dir).resolve() / DB_FILE
        os.makedirs(path.parent, exist_ok=True)
        return cls(f"sqlite+aiosqlite:///{path}")

    @property
    def engine(self) -> AsyncEngine:
        """The SQLAlchemy engine (for fault injection in tests; the app uses ``run``)."""
        return self._engine

    async def close(self) -> None:
        await self._engine.dispose()

    async def run(self, fn: Callable[[AsyncConnection], Awaitable[T]], *, write: bool) -> T:
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
                    raise StorageUnavailable(f"The database is unavailable ({cause}), try again shortly") from exc
                await asyncio.sleep(self.BACKOFF[min(attempt, len(self.BACKOFF) - 1)])
        raise AssertionError("unreachable")

    async def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent; the only way tables are created)."""
        def upgrade(sync_conn: Connection) -> None:
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, "head")

        async def run(conn: AsyncConnection) -> None:
            await conn.run_sync(upgrade)

        await self.run(run, write=True)
        log.debug("Database schema up to date (%s)", "SQLite" if self.is_sqlite else "PostgreSQL")


def _setup_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    sync_engine = engine.sync_engine

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
