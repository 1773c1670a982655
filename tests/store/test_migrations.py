"""The migrations (store/migrations): a 1.0 database upgraded in place keeps its data, learns each answer's engine."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from assistant_stream.chat.answer import AnswerView
from assistant_stream.store.database import MIGRATIONS, normalize_url
from assistant_stream.store.storage import Storage
from tests.support.storage import A, head_revision, scalar


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
