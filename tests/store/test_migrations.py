"""The migrations (store/migrations): a 1.0 database upgraded in place keeps its data, learns each answer's engine."""

from __future__ import annotations

import importlib

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from assistant_stream.chat.answer import AnswerView
from assistant_stream.store.database import MIGRATIONS, normalize_url
from assistant_stream.store.storage import Storage
from tests.support.storage import A, B, head_revision, scalar


async def _upgrade_to(url: str, revision: str) -> None:
    def upgrade(sync_conn: Connection) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    engine = create_async_engine(normalize_url(url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade)
    finally:
        await engine.dispose()


async def _version_1_rows(url: str) -> None:
    """What 1.0 stored: a question, a streamed answer, a TaskProcessing answer (model "nextcloud"), a failure."""
    engine = create_async_engine(normalize_url(url))
    try:
        async with engine.begin() as conn:
            await _insert(conn)
    finally:
        await engine.dispose()


async def _insert(conn: AsyncConnection) -> None:
    await conn.execute(text("INSERT INTO sessions (id, user_id, title, timestamp, created_at, updated_at) "
                            "VALUES (1, :u, 't', 1, 1, 1)"), {"u": A})
    rows = [(1, "human", None, "done", None), (2, "assistant", "gpt-4o", "done", None),
            (3, "assistant", "nextcloud", "done", None), (4, "assistant", "gpt-4o", "error", "It broke")]
    for mid, role, model, status, error in rows:
        await conn.execute(text(
            "INSERT INTO messages (id, session_id, role, content, reasoning, status, error, reply_to, model, "
            "sources, attachments, timestamp, created_at, updated_at) VALUES "
            "(:id, 1, :role, 'x', '', :status, :error, :reply, :model, '[]', '[]', 1, 1, 1)"),
            {"id": mid, "role": role, "status": status, "error": error, "reply": None if mid == 1 else 1,
             "model": model})


async def test_0002_backfills_the_engine_of_old_answers(storage_url: str) -> None:
    await _upgrade_to(storage_url, "0001")
    await _version_1_rows(storage_url)
    storage = Storage(storage_url)
    try:
        await storage.migrate()  # what the app does at start-up: to the head
        assert await scalar(storage_url, "SELECT version_num FROM alembic_version") == head_revision()
        human, streamed, old_tp, old_error = [await storage.get_message(A, 1, i) for i in range(1, 5)]
        assert human["engine"] is None
        assert streamed["engine"] == "stream"
        assert old_tp["engine"] == "taskprocessing" and old_tp["content"] == "x"
        assert old_error["engine"] == "stream" and old_error["error_code"] is None
        # A replay of an old failure: its message kept, its code unknown.
        view = AnswerView.of_row(old_error)
        assert view.engine == "stream" and view.error is not None
        assert (view.error.code, view.error.message) == ("generation_failed", "It broke")
        assert AnswerView.of_row(old_tp).engine == "taskprocessing"
    finally:
        await storage.close()


async def test_0003_keeps_every_row_and_autoincrement(storage_url: str) -> None:
    await _upgrade_to(storage_url, "0002")
    await _version_1_rows(storage_url)
    storage = Storage(storage_url)
    try:
        await storage.migrate()
        assert [m["id"] for m in await storage.list_messages(A, 1, 20, 0)] == [1, 2, 3, 4]
        assert (await storage.get_session(A, 1))["context_chat"] is False
        if storage.is_sqlite:  # (the 1.0 rows were inserted with explicit ids: PostgreSQL's sequence is behind)
            await storage.delete_session(A, 1)
            assert (await storage.create_session(A, None, None))["id"] > 1  # AUTOINCREMENT kept: ids not reused
    finally:
        await storage.close()


# --- 0006: the message tree --------------------------------------------------------------------------

TREE = importlib.import_module("assistant_stream.store.migrations.versions.0006_message_tree_and_options")
# What 1.0 stored in session 1, in id order. 2 was an answer to 1 that a regeneration deleted; its new version
# (5) came after the next question. 7, the answer to 6, was deleted by the user. The rest: a failure, a restart.
V1 = [(1, "human", None, "done", "q1"), (3, "human", None, "done", "q2"), (4, "assistant", 3, "done", "a2"),
      (5, "assistant", 1, "done", "a1 regenerated"), (6, "human", None, "done", "q3"),
      (8, "human", None, "done", "q4"), (9, "assistant", 8, "interrupted", "a4 half"),
      (10, "assistant", 8, "error", "")]


async def _v1_tree_rows(url: str) -> None:
    engine = create_async_engine(normalize_url(url))
    try:
        async with engine.begin() as conn:
            for sid, user in ((1, A), (2, B), (3, A)):
                await conn.execute(text("INSERT INTO sessions (id, user_id, title, timestamp, created_at, "
                                        "updated_at) VALUES (:id, :u, 't', 1, 1, 1)"), {"id": sid, "u": user})
            rows = [(1, *r) for r in V1] + [(2, 11, "human", None, "done", "bob q"),
                                           (2, 12, "assistant", 11, "done", "bob a")]
            for sid, mid, role, reply, status, content in rows:
                await conn.execute(text(
                    "INSERT INTO messages (id, session_id, role, content, reasoning, status, reply_to, model, engine, "
                    "sources, attachments, timestamp, created_at, updated_at) VALUES (:id, :s, :role, :c, '', "
                    ":status, :reply, :model, :engine, '[]', '[]', :ts, 1, 1)"),
                    {"id": mid, "ts": mid, "s": sid, "role": role, "c": content, "status": status, "reply": reply,
                     "model": "gpt-4o" if role == "assistant" else None,
                     "engine": "stream" if role == "assistant" else None})
            if conn.dialect.name == "postgresql":  # 1.0 got its ids from the sequences: move them past these
                await conn.execute(text("SELECT setval('sessions_id_seq', (SELECT MAX(id) FROM sessions))"))
                await conn.execute(text("SELECT setval('messages_id_seq', (SELECT MAX(id) FROM messages))"))
    finally:
        await engine.dispose()


async def test_0006_carries_1_0_conversations_over_as_one_branch_without_loss(storage_url: str) -> None:
    await _upgrade_to(storage_url, TREE.down_revision)
    await _v1_tree_rows(storage_url)
    before = await _all_rows(storage_url)
    storage = Storage(storage_url)
    try:
        await storage.migrate()
        after = await _all_rows(storage_url)
        assert {k: {c: v for c, v in row.items() if c in before[k]} for k, row in after.items()} == before
        shown = await storage.list_messages(A, 1, 200, 0)
        assert [m["id"] for m in shown] == [r[0] for r in V1]  # every message, in the order 1.0 showed them
        assert [m["parent_id"] for m in shown] == [None, 1, 3, 4, 5, 6, 8, 9]
        assert all(m["sibling_ids"] == [m["id"]] for m in shown)
        assert {m["connection"] for m in shown if m["role"] == "assistant"} == {"default"}
        assert [m["id"] for m in await storage.list_messages(B, 2, 200, 0)] == [11, 12]
        assert await storage.list_messages(A, 3, 200, 0) == []
        # The routes of 1.0 still find what they found: the answer to a question, the question to answer.
        assert (await storage.answer_to(A, 1, 1))["id"] == 5  # type: ignore[index]
        assert (await storage.answer_to(A, 1, 3))["id"] == 4  # type: ignore[index]
        assert (await storage.last_human_message(A, 1))["id"] == 8
        assert [c for _r, c in await storage.history(1, 8, 100)] == ["q1", "q2", "a2", "a1 regenerated", "q3",
                                                                     "q4"]
        # And the tree goes on from there: a new message follows the last one, a new version sits next to its own.
        new = await storage.add_message(A, 1, "human", "q5")
        assert new["parent_id"] == 10
        again = await storage.add_message(A, 1, "assistant", "a2 again", reply_to=3, parent=3)
        assert again["sibling_ids"] == [4, again["id"]]
        assert [m["id"] for m in await storage.list_messages(A, 1, 200, 0)] == [1, 3, again["id"]]
        await storage.switch_branch(A, 1, 4)
        assert [m["id"] for m in await storage.list_messages(A, 1, 200, 0)][-2:] == [10, new["id"]]
        first = await storage.add_message(A, 3, "human", "first")
        assert first["parent_id"] is None and [m["id"] for m in await storage.list_messages(A, 3, 9, 0)] == [
            first["id"]]
    finally:
        await storage.close()


async def _all_rows(url: str) -> dict[int, dict[str, object]]:
    engine = create_async_engine(normalize_url(url))
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT * FROM messages ORDER BY id"))).mappings().all()
            return {int(r["id"]): dict(r) for r in rows}
    finally:
        await engine.dispose()
