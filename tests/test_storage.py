"""Storage on SQLite and on a real PostgreSQL: ownership, paging, lifecycle, validation, failures."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from assistant_stream.core.errors import InvalidInput, NotFound, StorageUnavailable, TooLarge
from assistant_stream.core.limits import MAX_CONTENT, MAX_TITLE
from assistant_stream.store.database import DB_FILE, normalize_url
from assistant_stream.store.models import MESSAGE_FIELDS, SESSION_FIELDS
from assistant_stream.store.storage import Storage

A, B = "alice", "bob"


@pytest.fixture
async def storage(storage_url: str) -> AsyncIterator[Storage]:
    s = Storage(storage_url)
    await s.migrate()
    try:
        yield s
    finally:
        await s.close()


async def _scalar(url: str, sql: str, **params: object) -> object:
    """Read the database behind Storage's back (a separate engine), to check what was really stored."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar()
    finally:
        await engine.dispose()


def _head_revision() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from assistant_stream.store import database

    cfg = Config()
    cfg.set_main_option("script_location", str(database.MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


async def _chat(s: Storage, user: str = A, n: int = 0) -> tuple[int, list[int]]:
    session = await s.create_session(user, "chat", None)
    ids = [(await s.add_message(user, session["id"], "human", f"m{i}"))["id"] for i in range(n)]
    return session["id"], ids


# --- schema ----------------------------------------------------------------------------------------


async def test_migrate_is_idempotent(storage: Storage, storage_url: str) -> None:
    sid, _ = await _chat(storage, n=1)
    await storage.migrate()  # second run: no error, no data loss
    await storage.migrate()
    assert await _scalar(storage_url, "SELECT version_num FROM alembic_version") == _head_revision()
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
    sid, ids = await _chat(storage, n=2)
    await storage.delete_message(A, sid, ids[-1])
    again = await storage.add_message(A, sid, "human", "x")
    assert again["id"] > ids[-1]
    await storage.delete_session(A, sid)
    assert (await storage.create_session(A, None, None))["id"] > sid


# --- sessions ---------------------------------------------------------------------------------------


async def test_session_lifecycle(storage: Storage) -> None:
    before = int(time.time())
    s1 = await storage.create_session(A, "First", 1_700_000_000)
    s2 = await storage.create_session(A, None, None)
    assert set(s1) == set(SESSION_FIELDS)
    assert s1["user_id"] == A and s1["title"] == "First" and s1["timestamp"] == 1_700_000_000
    assert s2["title"] is None and before <= s2["timestamp"] <= int(time.time()) + 1
    assert await storage.get_session(A, s1["id"]) == s1

    updated = await storage.update_session_title(A, s1["id"], "Renamed")
    assert updated["title"] == "Renamed"
    assert (await storage.get_session(A, s1["id"]))["title"] == "Renamed"

    await storage.delete_session(A, s2["id"])
    with pytest.raises(NotFound):
        await storage.get_session(A, s2["id"])
    assert [s["id"] for s in await storage.list_sessions(A)] == [s1["id"]]


async def test_list_sessions_newest_first_ties_by_id(storage: Storage) -> None:
    old = await storage.create_session(A, "old", 100)
    tie1 = await storage.create_session(A, "tie1", 200)
    tie2 = await storage.create_session(A, "tie2", 200)
    new = await storage.create_session(A, "new", 300)
    await storage.create_session(B, "other", 250)
    assert [s["id"] for s in await storage.list_sessions(A)] == [new["id"], tie2["id"], tie1["id"], old["id"]]
    assert [s["title"] for s in await storage.list_sessions(B)] == ["other"]
    assert await storage.list_sessions("nobody") == []


# --- ownership ---------------------------------------------------------------------------------------


async def test_other_users_ids_are_not_found_everywhere(storage: Storage) -> None:
    sid, (mid,) = await _chat(storage, A, 1)
    answer = await storage.add_message(A, sid, "assistant", "hi", reply_to=mid)
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: storage.get_session(B, sid),
        lambda: storage.update_session_title(B, sid, "mine now"),
        lambda: storage.delete_session(B, sid),
        lambda: storage.add_message(B, sid, "human", "intrude"),
        lambda: storage.get_message(B, sid, mid),
        lambda: storage.get_message(B, sid, answer["id"]),
        lambda: storage.list_messages(B, sid, 20, 0),
        lambda: storage.delete_message(B, sid, mid),
        lambda: storage.last_human_message(B, sid),
        lambda: storage.answer_to(B, sid, mid),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            await call()
    assert await storage.list_sessions(B) == []
    assert await storage.count_generating(B) == 0
    # Nothing of A's changed.
    assert (await storage.get_session(A, sid))["title"] == "chat"
    assert [m["id"] for m in await storage.list_messages(A, sid, 20, 0)] == [mid, answer["id"]]


async def test_message_of_another_session_is_not_found(storage: Storage) -> None:
    sid1, (mid1,) = await _chat(storage, A, 1)
    sid2, _ = await _chat(storage, A, 1)
    with pytest.raises(NotFound):
        await storage.get_message(A, sid2, mid1)
    with pytest.raises(NotFound):
        await storage.delete_message(A, sid2, mid1)
    assert (await storage.get_message(A, sid1, mid1))["content"] == "m0"


@pytest.mark.parametrize("bad", [0, -1, 2**31, 2**40, True, "1", None])
async def test_impossible_ids_are_not_found(storage: Storage, bad: object) -> None:
    sid, _ = await _chat(storage, A, 1)
    with pytest.raises(NotFound):
        await storage.get_session(A, bad)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await storage.get_message(A, sid, bad)  # type: ignore[arg-type]


# --- messages ---------------------------------------------------------------------------------------


async def test_add_and_get_message_shape(storage: Storage) -> None:
    sid, _ = await _chat(storage)
    session_before = await storage.get_session(A, sid)
    m = await storage.add_message(A, sid, "human", "Hello", 1_700_000_123)
    assert set(m) == set(MESSAGE_FIELDS)
    assert m == await storage.get_message(A, sid, m["id"])
    assert (m["session_id"], m["role"], m["content"]) == (sid, "human", "Hello")
    assert m["timestamp"] == 1_700_000_123
    assert (m["status"], m["reasoning"], m["sources"], m["attachments"]) == ("done", "", "[]", "[]")
    assert m["reply_to"] is None and m["error"] is None and m["ocp_task_id"] is None
    assert (await storage.get_session(A, sid))["updated_at"] >= session_before["updated_at"]

    a = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=m["id"], model="gpt")
    assert (a["status"], a["reply_to"], a["model"], a["content"]) == ("generating", m["id"], "gpt", "")
    assert abs(a["timestamp"] - time.time()) < 5


async def test_paging_like_nextcloud_assistant(storage: Storage) -> None:
    sid, ids = await _chat(storage, A, 25)

    async def page(limit: int, cursor: int) -> list[int]:
        return [m["id"] for m in await storage.list_messages(A, sid, limit, cursor)]

    assert await page(10, 0) == ids[15:25]  # the newest 10, oldest first
    assert await page(10, 10) == ids[5:15]
    assert await page(10, 20) == ids[0:5]
    assert await page(10, 25) == []
    assert await page(200, 0) == ids
    assert await page(1, 0) == [ids[-1]]
    empty, _ = await _chat(storage, A)
    assert await storage.list_messages(A, empty, 20, 0) == []
    for limit, cursor in [(0, 0), (201, 0), (10, -1)]:
        with pytest.raises(InvalidInput):
            await storage.list_messages(A, sid, limit, cursor)


async def test_delete_message_keeps_the_answer(storage: Storage) -> None:
    sid, (q,) = await _chat(storage, A, 1)
    a = await storage.add_message(A, sid, "assistant", "answer", reply_to=q)
    await storage.delete_message(A, sid, q)
    with pytest.raises(NotFound):
        await storage.get_message(A, sid, q)
    with pytest.raises(NotFound):
        await storage.delete_message(A, sid, q)
    assert (await storage.get_message(A, sid, a["id"]))["reply_to"] == q


async def test_delete_session_cascades(storage: Storage, storage_url: str) -> None:
    sid, ids = await _chat(storage, A, 3)
    keep, kept_ids = await _chat(storage, A, 2)
    await storage.delete_session(A, sid)
    assert all([await storage.get_message_by_id(i) is None for i in ids])
    assert await _scalar(storage_url, "SELECT count(*) FROM messages WHERE session_id = :s", s=sid) == 0
    assert [m["id"] for m in await storage.list_messages(A, keep, 20, 0)] == kept_ids
    with pytest.raises(NotFound):
        await storage.delete_session(A, sid)


async def test_database_cascade_is_on(storage: Storage, storage_url: str) -> None:
    # The FK itself (not only Storage's explicit delete) removes messages: foreign_keys=ON on SQLite.
    sid, _ = await _chat(storage, A, 2)
    engine = create_async_engine(storage_url)
    try:
        async with engine.begin() as conn:
            if storage.is_sqlite:
                await conn.execute(text("PRAGMA foreign_keys=ON"))
            await conn.execute(text("DELETE FROM sessions WHERE id = :id"), {"id": sid})
    finally:
        await engine.dispose()
    assert await _scalar(storage_url, "SELECT count(*) FROM messages") == 0


async def test_last_human_message_and_answer_to(storage: Storage) -> None:
    sid, _ = await _chat(storage)
    with pytest.raises(NotFound):
        await storage.last_human_message(A, sid)
    q1 = await storage.add_message(A, sid, "human", "q1")
    assert await storage.answer_to(A, sid, q1["id"]) is None
    old = await storage.add_message(A, sid, "assistant", "a1", reply_to=q1["id"])
    new = await storage.add_message(A, sid, "assistant", "a1 again", reply_to=q1["id"])
    q2 = await storage.add_message(A, sid, "human", "q2")
    await storage.add_message(A, sid, "assistant", "unrelated")
    assert (await storage.last_human_message(A, sid))["id"] == q2["id"]
    assert (await storage.answer_to(A, sid, q1["id"]))["id"] == new["id"]  # type: ignore[index]
    await storage.delete_message(A, sid, new["id"])
    assert (await storage.answer_to(A, sid, q1["id"]))["id"] == old["id"]  # type: ignore[index]
    assert await storage.answer_to(A, sid, q2["id"]) is None


async def test_history_is_what_the_model_sees(storage: Storage) -> None:
    sid, _ = await _chat(storage)
    other, _ = await _chat(storage, A, 1)
    add = storage.add_message
    await add(A, sid, "system", "sys")
    h1 = await add(A, sid, "human", "h1")
    await add(A, sid, "assistant", "a1", reply_to=h1["id"])
    h2 = await add(A, sid, "human", "h2")
    for status, content in [("error", "failed"), ("generating", "running"), ("done", ""),
                            ("cancelled", "a2 cut"), ("interrupted", "a2 half")]:
        await add(A, sid, "assistant", content, status=status, reply_to=h2["id"])
    h3 = await add(A, sid, "human", "")
    after = await add(A, sid, "human", "later")

    expected = [("human", "h1"), ("assistant", "a1"), ("human", "h2"), ("assistant", "a2 cut"),
                ("assistant", "a2 half"), ("human", "")]
    assert await storage.history(sid, h3["id"] + 1, 100) == expected
    assert await storage.history(sid, h3["id"] + 1, 3) == expected[-3:]
    assert await storage.history(sid, h3["id"], 100) == expected[:-1]
    assert await storage.history(sid, h1["id"], 100) == []
    assert ("human", "later") in await storage.history(sid, after["id"] + 1, 100)
    assert await storage.history(other, h3["id"] + 1, 100) == [("human", "m0")]


async def test_generating_and_count(storage: Storage) -> None:
    s1, (q1,) = await _chat(storage, A, 1)
    s2, (q2,) = await _chat(storage, A, 1)
    sb, (qb,) = await _chat(storage, B, 1)
    assert await storage.generating_message(s1) is None
    assert await storage.count_generating(A) == 0
    g1 = await storage.add_message(A, s1, "assistant", "", status="generating", reply_to=q1)
    await storage.add_message(A, s2, "assistant", "", status="generating", reply_to=q2)
    await storage.add_message(B, sb, "assistant", "", status="generating", reply_to=qb)
    await storage.add_message(A, s1, "assistant", "old", status="done", reply_to=q1)
    assert (await storage.generating_message(s1))["id"] == g1["id"]  # type: ignore[index]
    assert (await storage.count_generating(A), await storage.count_generating(B)) == (2, 1)
    await storage.finish_message(g1["id"], status="done", content="x", reasoning="")
    assert await storage.generating_message(s1) is None
    assert await storage.count_generating(A) == 1


async def test_progress_then_finish(storage: Storage) -> None:
    sid, (q,) = await _chat(storage, A, 1)
    a = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=q, model="m")
    await storage.save_progress(a["id"], "Hel", "think")
    got = await storage.get_message(A, sid, a["id"])
    assert (got["content"], got["reasoning"], got["status"]) == ("Hel", "think", "generating")

    done = await storage.finish_message(
        a["id"], status="done", content="Hello", reasoning="thought", finish_reason="stop",
        prompt_tokens=3, completion_tokens=5, total_tokens=8, tokens_per_second=41.5)
    assert done == await storage.get_message(A, sid, a["id"])
    assert done is not None
    assert (done["status"], done["content"], done["reasoning"], done["finish_reason"]) == \
        ("done", "Hello", "thought", "stop")
    assert (done["prompt_tokens"], done["completion_tokens"], done["total_tokens"]) == (3, 5, 8)
    assert done["tokens_per_second"] == pytest.approx(41.5)
    assert done["error"] is None and done["model"] == "m"

    # A late checkpoint must not overwrite the final text.
    await storage.save_progress(a["id"], "stale", "stale")
    assert (await storage.get_message(A, sid, a["id"]))["content"] == "Hello"

    failed = await storage.finish_message(a["id"], status="error", content="", reasoning="",
                                          error="The AI provider failed")
    assert failed is not None and (failed["status"], failed["error"]) == ("error", "The AI provider failed")
    with pytest.raises(ValueError):
        await storage.finish_message(a["id"], status="generating", content="", reasoning="")


async def test_deleted_while_generating(storage: Storage) -> None:
    sid, (q,) = await _chat(storage, A, 1)
    a = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=q)
    await storage.delete_message(A, sid, a["id"])
    await storage.save_progress(a["id"], "text", "")  # no error
    assert await storage.finish_message(a["id"], status="done", content="text", reasoning="") is None
    assert await storage.get_message_by_id(a["id"]) is None
    await storage.delete_session(A, sid)
    assert await storage.finish_message(a["id"], status="cancelled", content="", reasoning="") is None


async def test_mark_interrupted_keeps_saved_text(storage: Storage) -> None:
    sid, (q,) = await _chat(storage, A, 1)
    g1 = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=q)
    g2 = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=q)
    done = await storage.add_message(A, sid, "assistant", "final", reply_to=q)
    await storage.save_progress(g1["id"], "half an answer", "some thoughts")
    assert await storage.mark_interrupted() == 2
    m1 = await storage.get_message_by_id(g1["id"])
    assert m1 is not None
    assert (m1["status"], m1["content"]) == ("interrupted", "half an answer")
    assert m1["reasoning"] == "some thoughts"
    assert (await storage.get_message_by_id(g2["id"]))["status"] == "interrupted"  # type: ignore[index]
    assert (await storage.get_message_by_id(done["id"]))["status"] == "done"  # type: ignore[index]
    assert await storage.mark_interrupted() == 0


async def test_get_message_by_id(storage: Storage) -> None:
    sid, (mid,) = await _chat(storage, B, 1)
    assert (await storage.get_message_by_id(mid))["session_id"] == sid  # type: ignore[index]
    assert await storage.get_message_by_id(mid + 1000) is None


# --- validation ---------------------------------------------------------------------------------------


async def test_validation(storage: Storage) -> None:
    sid, _ = await _chat(storage)
    await storage.create_session(A, "t" * MAX_TITLE, None)
    with pytest.raises(InvalidInput, match="title is too long"):
        await storage.create_session(A, "t" * (MAX_TITLE + 1), None)
    with pytest.raises(InvalidInput, match="title is too long"):
        await storage.update_session_title(A, sid, "t" * (MAX_TITLE + 1))
    with pytest.raises(InvalidInput, match="title must be text"):
        await storage.update_session_title(A, sid, 5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="timestamp"):
        await storage.create_session(A, None, -1)
    with pytest.raises(InvalidInput, match="timestamp"):
        await storage.add_message(A, sid, "human", "x", 2**63)

    big = await storage.add_message(A, sid, "human", "x" * MAX_CONTENT)
    assert len(big["content"]) == MAX_CONTENT
    with pytest.raises(TooLarge, match="too long"):
        await storage.add_message(A, sid, "human", "x" * (MAX_CONTENT + 1))
    with pytest.raises(InvalidInput, match="role"):
        await storage.add_message(A, sid, "user", "x")
    with pytest.raises(InvalidInput, match="status"):
        await storage.add_message(A, sid, "assistant", "x", status="weird")
    with pytest.raises(InvalidInput, match="must be text"):
        await storage.add_message(A, sid, "human", None)  # type: ignore[arg-type]
    # Rejected writes left nothing behind.
    assert [len(m["content"]) for m in await storage.list_messages(A, sid, 20, 0)] == [MAX_CONTENT]


async def test_text_that_databases_reject_is_cleaned(storage: Storage) -> None:
    sid, _ = await _chat(storage)
    m = await storage.add_message(A, sid, "human", "a\x00b \ud800 ünïcødé 🎉")
    assert m["content"] == "ab \ufffd ünïcødé 🎉"
    s = await storage.update_session_title(A, sid, "x\x00y")
    assert s["title"] == "xy"
    a = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=m["id"])
    await storage.save_progress(a["id"], "p\x00", "r\udfff")
    done = await storage.finish_message(a["id"], status="done", content="c\x00", reasoning="", error="e\x00")
    assert done is not None and (done["content"], done["error"]) == ("c", "e")


# --- concurrency and failures ----------------------------------------------------------------------


async def test_concurrent_writes(storage: Storage) -> None:
    sid, (q,) = await _chat(storage, A, 1)
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
    sid, _ = await _chat(storage, A, 1)
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
    sid, _ = await _chat(storage, A, 0)
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
