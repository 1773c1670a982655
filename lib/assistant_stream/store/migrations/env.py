"""Alembic environment: runs on the connection Storage.migrate() hands over, or on DATABASE_URL (CLI)."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

# Any fixed number: two app instances starting at once on one PostgreSQL must not migrate in parallel.
_PG_MIGRATION_LOCK = 0x61737374  # "asst"


def _run(connection: Connection) -> None:
    # render_as_batch: SQLite can only alter tables by copying them; batch mode does that for us.
    context.configure(connection=connection, target_metadata=None,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        context.run_migrations()


async def _run_cli() -> None:
    # Developer use: `alembic -c lib/assistant_stream/store/migrations/alembic.ini upgrade head`.
    from assistant_stream.store.database import normalize_url

    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("DATABASE_URL")
    engine = create_async_engine(normalize_url(url or "sqlite:///assistant_stream.db"))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported")

_connection = context.config.attributes.get("connection")
if _connection is not None:
    _run(_connection)
else:
    asyncio.run(_run_cli())
