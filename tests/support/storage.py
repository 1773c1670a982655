"""Storage in tests: a migrated Storage on each database, and reading behind its back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from assistant_stream.store.database import MIGRATIONS
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


async def scalar(url: str, sql: str, **params: object) -> object:
    """Read the database behind Storage's back (a separate engine), to check what was really stored."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar()
    finally:
        await engine.dispose()


def head_revision() -> str | None:
    """The newest migration (what a migrated database's alembic_version says)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


async def chat(s: Storage, user: str = A, n: int = 0) -> tuple[int, list[int]]:
    session = await s.create_session(user, "chat", None)
    ids = [(await s.add_message(user, session["id"], "human", f"m{i}"))["id"] for i in range(n)]
    return session["id"], ids
