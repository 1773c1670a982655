"""The database (store/database.py) on SQLite and a real PostgreSQL: migrations, transactions, failures."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from assistant_stream.core.errors import StorageUnavailable
from assistant_stream.store.database import DB_FILE, normalize_url
from assistant_stream.store.storage import Storage
from tests.support.storage import A, chat, head_revision, scalar

# --- schema ----------------------------------------------------------------------------------------


async def test_migrate_is_idempotent(storage: Storage, storage_url: str) -> None:
    sid, _ = await chat(storage, n=1)
    await storage.migrate()  # second run: no error, no data loss
    await storage.migrate()
    assert await scalar(storage_url, "SELECT version_num FROM alembic_version") == head_revision()
    assert len(await storage.list_messages(A, sid, 20, 0)) == 1


async def test_fresh_database_has_no_tables_until_migrated(storage_url: str) -> None:
    s = Storage(storage_url)
    try:
        with pytest.raises(StorageUnavailable):
            await s.list_sessions(A)
        await s.migrate()
        assert await s.list_sessions(A) == []
    finally:
        await s.close()


async def test_ids_are_not_reused_after_delete(storage: Storage) -> None:
    sid, ids = await chat(storage, n=2)
    await storage.delete_message(A, sid, ids[-1])
    again = await storage.add_message(A, sid, "human", "x")
    assert again["id"] > ids[-1]
    await storage.delete_session(A, sid)
    assert (await storage.create_session(A, None, None))["id"] > sid


async def test_database_cascade_is_on(storage: Storage, storage_url: str) -> None:
    # The FK itself (not only Storage's explicit delete) removes messages: foreign_keys=ON on SQLite.
    sid, _ = await chat(storage, A, 2)
    engine = create_async_engine(storage_url)
    try:
        async with engine.begin() as conn:
            if storage.is_sqlite:
                await conn.execute(text("PRAGMA foreign_keys=ON"))
            await conn.execute(text("DELETE FROM sessions WHERE id = :id"), {"id": sid})
    finally:
        await engine.dispose()
    assert await scalar(storage_url, "SELECT count(*) FROM messages") == 0


# --- concurrency and failures ----------------------------------------------------------------------


async def test_concurrent_writes(storage: Storage) -> None:
    sid, (q,) = await chat(storage, A, 1)
    gen = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=q)
    adds = [storage.add_message(A, sid, "human", f"c{i}") for i in range(50)]
    saves = [storage.save_progress(gen["id"], "x" * i, "") for i in range(50)]
    results = await asyncio.gather(*adds, *saves)
    added = results[:50]
    assert len({m["id"] for m in added}) == 50
    listed = await storage.list_messages(A, sid, 200, 0)
    assert {f"c{i}" for i in range(50)} <= {m["content"] for m in listed}
    assert len(listed) == 52
    # Reads alongside writes are fine too.
    await asyncio.gather(*[storage.list_messages(A, sid, 20, 0) for _ in range(20)],
                         *[storage.save_progress(gen["id"], "y", "") for _ in range(20)])


async def test_unreachable_postgresql_is_storage_error(caplog: pytest.LogCaptureFixture) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        s = Storage(f"postgresql://someone:hunter2secret@127.0.0.1:{port}/nope")
        s.BACKOFF = (0.01, 0.01)
        try:
            with caplog.at_level(logging.WARNING), pytest.raises(StorageUnavailable) as info:
                await s.create_session(A, "x", None)
            with pytest.raises(StorageUnavailable):
                await s.migrate()
        finally:
            await s.close()
    err = info.value
    assert err.status == 503 and err.code == "storage_unavailable"
    assert "database is unavailable" in err.message
    for leak in ("hunter2secret", "someone", "Traceback", "\n", str(port)):
        assert leak not in err.message
    assert "hunter2secret" not in caplog.text
    # Both calls were tried TRIES times.
    assert len([r for r in caplog.records if "retrying" in r.getMessage()]) == 2 * (Storage.TRIES - 1)


@pytest.mark.parametrize("storage_url", ["sqlite"], indirect=True)
async def test_locked_sqlite_is_storage_error_reads_still_work(storage: Storage, storage_url: str) -> None:
    path = storage_url.split(":///", 1)[1]
    sid, _ = await chat(storage, A, 1)
    await storage.close()
    s = Storage(storage_url, busy_timeout_ms=50)
    s.BACKOFF = (0.02, 0.02)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
        started = time.monotonic()
        with pytest.raises(StorageUnavailable) as info:
            await s.add_message(A, sid, "human", "blocked")
        assert time.monotonic() - started < 5
        assert "unavailable" in info.value.message and "locked" in info.value.message
        assert path not in info.value.message
        # WAL: readers are not blocked by the writer.
        assert len(await s.list_messages(A, sid, 20, 0)) == 1
    finally:
        other.rollback()
        other.close()
        await s.close()


@pytest.mark.parametrize("storage_url", ["sqlite"], indirect=True)
async def test_sqlite_lock_released_during_retries_succeeds(storage: Storage, storage_url: str,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    path = storage_url.split(":///", 1)[1]
    sid, _ = await chat(storage, A, 0)
    await storage.close()
    s = Storage(storage_url, busy_timeout_ms=50)
    s.BACKOFF = (0.2, 0.4)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    loop = asyncio.get_running_loop()
    loop.call_later(0.15, other.rollback)
    try:
        with caplog.at_level(logging.WARNING):
            m = await s.add_message(A, sid, "human", "eventually")
        assert m["content"] == "eventually"
        assert any("retrying (locked)" in r.getMessage() for r in caplog.records)
    finally:
        other.close()
        await s.close()


async def test_sqlite_pragmas(tmp_path: Path) -> None:
    s = Storage.from_env(str(tmp_path / "persistent"), None)
    try:
        await s.migrate()
        assert s.is_sqlite and (tmp_path / "persistent" / DB_FILE).exists()

        async def pragmas(conn):  # type: ignore[no-untyped-def]
            return [(await conn.exec_driver_sql(f"PRAGMA {p}")).scalar()
                    for p in ("journal_mode", "foreign_keys", "busy_timeout")]

        assert await s.run(pragmas, write=False) == ["wal", 1, 5000]
    finally:
        await s.close()


def test_url_normalisation(tmp_path: Path) -> None:
    assert normalize_url("postgres://u:p@h:5432/d") == "postgresql+asyncpg://u:p@h:5432/d"
    assert normalize_url(" postgresql://u@h/d ") == "postgresql+asyncpg://u@h/d"
    assert normalize_url("postgresql+asyncpg://u@h/d") == "postgresql+asyncpg://u@h/d"
    assert normalize_url("sqlite:////x/y.db") == "sqlite+aiosqlite:////x/y.db"
    assert normalize_url("postgres://u:p%40ss@h/d?sslmode=require") == \
        "postgresql+asyncpg://u:p%40ss@h/d?ssl=require"
    assert normalize_url("postgresql+asyncpg://u@h/d?ssl=disable") == "postgresql+asyncpg://u@h/d?ssl=disable"
    assert Storage.from_env(str(tmp_path), "postgres://u@h/d").url == "postgresql+asyncpg://u@h/d"
    assert Storage.from_env(str(tmp_path), "  ").url == f"sqlite+aiosqlite:///{tmp_path.resolve() / DB_FILE}"
