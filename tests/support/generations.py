"""Chat test helpers: a GenerationManager or ChatService over a real database, a question, a finished answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from assistant_stream.chat.generation import Generation
from assistant_stream.chat.manager import GenerationManager
from assistant_stream.chat.service import ChatService
from assistant_stream.core.config_store import ConfigStore
from assistant_stream.core.env import AppEnv
from assistant_stream.providers.transport import ProviderClient
from assistant_stream.store.eventlog_memory import MemoryEventLog
from assistant_stream.store.storage import Storage
from tests.support.engines import ListEngine, always

A = "alice"


@pytest.fixture(name="storage")
async def sqlite_storage(tmp_path: Path) -> AsyncIterator[Storage]:
    """A migrated SQLite Storage per test, for the chat tests that import it: it replaces, in their module, the
    plugin's ``storage`` on both databases (the store's tests cover PostgreSQL)."""
    s = Storage(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await s.migrate()
    yield s
    await s.close()


def new_manager(storage: Storage, engine: ListEngine, *, eventlog: MemoryEventLog | None = None,
                **kw: Any) -> GenerationManager:
    """A manager whose answers all come from ``engine`` (the seed's connection, model "m", is configured)."""
    environ = {"STREAMING_API_URL": "http://127.0.0.1:9/v1", "STREAMING_MODEL": "m", **kw.pop("environ", {})}
    return GenerationManager(storage=storage, config=ConfigStore(None, environ=environ),
                             eventlog=eventlog if eventlog is not None else MemoryEventLog(),
                             engine_for=always(engine), **kw)


async def question(storage: Storage, text: str = "Hi?") -> tuple[int, int]:
    """A new session of alice's with one question: (session id, message id)."""
    sid = (await storage.create_session(A, None, None))["id"]
    return sid, (await storage.add_message(A, sid, "human", text))["id"]


async def finished(gen: Generation) -> Generation:
    assert gen.task is not None
    await asyncio.wait_for(gen.task, 5)
    return gen


@contextlib.asynccontextmanager
async def chat_service(storage: Storage, engine: ListEngine, environ: dict[str, str] | None = None
                       ) -> AsyncIterator[ChatService]:
    """A ChatService without Nextcloud whose answers come from ``engine`` (held until the end: ``engine.hold``)."""
    config = ConfigStore(None, environ=environ or {})
    eventlog = MemoryEventLog()
    generations = GenerationManager(storage=storage, config=config, eventlog=eventlog, engine_for=always(engine))
    provider = ProviderClient()
    try:
        yield ChatService(env=AppEnv.from_environ({}), config=config, storage=storage, generations=generations,
                          eventlog=eventlog, provider=provider, nextcloud=None)
    finally:
        if engine.hold is not None:
            engine.hold.set()
        await generations.shutdown()
        await provider.aclose()
