"""GenerationManager helpers for the chat tests: a manager over a real database, a question, a finished answer."""

from __future__ import annotations

import asyncio
from typing import Any

from assistant_stream.chat.generation import Generation
from assistant_stream.chat.manager import GenerationManager
from assistant_stream.core.config_store import ConfigStore
from assistant_stream.store.eventlog_memory import MemoryEventLog
from assistant_stream.store.storage import Storage
from tests.support.engines import ListEngine, always

A = "alice"


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
