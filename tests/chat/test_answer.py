"""AnswerView (chat/answer.py): the same view from a finished generation and from the row it saved."""

from __future__ import annotations

import asyncio

import pytest

from assistant_stream.chat.answer import AnswerView
from assistant_stream.chat.budgets import BudgetGuard
from assistant_stream.chat.manager import GenerationManager
from assistant_stream.core.config_store import ConfigStore
from assistant_stream.core.errors import ProviderNotFound
from assistant_stream.core.events import Finish, ReasoningDelta, TextDelta, Usage
from assistant_stream.store.eventlog_memory import MemoryEventLog
from assistant_stream.store.storage import Storage
from tests.support.engines import ListEngine, always
from tests.support.generations import sqlite_storage  # noqa: F401 (the `storage` fixture)

A = "alice"


@pytest.mark.parametrize("engine", [
    ListEngine([ReasoningDelta("why"), TextDelta("a"), TextDelta("b"), Finish("length"), Usage(3, 2, 5)]),
    ListEngine([TextDelta("so far")], error=ProviderNotFound("no such model", partial=True)),
    ListEngine([TextDelta("Bonjour"), Finish("stop")], name="taskprocessing"),
], ids=["done", "failed", "taskprocessing"])
async def test_a_generation_and_its_row_give_the_same_view(storage: Storage, engine: ListEngine) -> None:
    manager = GenerationManager(storage=storage, config=ConfigStore(None, environ={}), eventlog=MemoryEventLog(),
                                engine_for=always(engine), budget=BudgetGuard(storage, None))
    sid = (await storage.create_session(A, None, None))["id"]
    mid = (await storage.add_message(A, sid, "human", "q"))["id"]
    gen = await manager.answer(A, sid, mid)
    assert not isinstance(gen, dict) and gen.task is not None
    await asyncio.wait_for(gen.task, 5)
    live = AnswerView.of_generation(gen)
    stored = AnswerView.of_row(await storage.get_message(A, sid, gen.message_id or 0))
    assert live.error is None or (stored.error is not None and type(stored.error) is type(live.error))
    assert live.error is None or stored.error.message == live.error.message  # type: ignore[union-attr]
    live_fields = {k: v for k, v in vars_of(live).items() if k not in ("error", "first_token")}
    stored_fields = {k: v for k, v in vars_of(stored).items() if k not in ("error", "first_token")}
    assert live_fields == stored_fields
    # Without the provider's usage the row holds an estimate; the view (the done event) says what was reported.
    assert stored.message is not None and stored.message["usage_estimated"] == (live.usage is None)
    await manager.shutdown()


def vars_of(view: AnswerView) -> dict[str, object]:
    return {name: getattr(view, name) for name in AnswerView.__slots__}  # type: ignore[attr-defined]


def test_a_running_generation_is_generating_until_it_is_saved() -> None:
    from assistant_stream.chat.generation import Generation

    gen = Generation(key="m1", kind="answer", user_id=A, session_id=1, message_id=1, reply_to=0, model="m",
                     engine="stream")
    gen.status = "done"  # ended, but not yet saved and announced
    assert AnswerView.of_generation(gen).status == "generating" and not AnswerView.of_generation(gen).done
    assert AnswerView.of_generation(gen, ended=True).status == "done"
    gen.finished = True
    assert AnswerView.of_generation(gen).done
