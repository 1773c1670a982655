"""GenerationManager (chat/manager.py) on a real SQLite database: starting, finding, stopping, shutting down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from assistant_stream.chat.answer import AnswerView
from assistant_stream.chat.generation import Generation
from assistant_stream.chat.manager import GenerationManager
from assistant_stream.chat.models import AnswerPlan
from assistant_stream.core.config_store import ConfigStore
from assistant_stream.core.errors import (
    MessageNotFound,
    ModelNotAllowed,
    NothingToTitle,
    ProviderAuthError,
    SessionBusy,
    ShuttingDown,
)
from assistant_stream.core.events import Finish, ReasoningDelta, TextDelta, Usage
from assistant_stream.store.eventlog_memory import MemoryEventLog
from assistant_stream.store.storage import Storage
from tests.support.engines import ListEngine, always
from tests.support.generations import (
    A,
    finished,
    new_manager,
    question,
    sqlite_storage,  # noqa: F401 (the `storage` fixture)
)

WORDS = [TextDelta(w) for w in ("one ", "two ", "three")]

Make = Callable[..., GenerationManager]


@pytest.fixture
async def make(storage: Storage) -> AsyncIterator[Make]:
    made: list[GenerationManager] = []

    def factory(engine: ListEngine, **kw: Any) -> GenerationManager:
        made.append(manager := new_manager(storage, engine, **kw))
        return manager

    yield factory
    for manager in made:
        await manager.shutdown()


async def test_an_answer_runs_to_its_end_and_is_saved(make: Make, storage: Storage) -> None:
    log = MemoryEventLog()
    engine = ListEngine([ReasoningDelta("hmm"), *WORDS, Finish("stop"), Usage(5, 3, 8)])
    manager = make(engine, eventlog=log)
    sid, mid = await question(storage)
    gen = await manager.answer(A, sid, mid)
    assert isinstance(gen, Generation) and manager.active == 1 and manager.for_session(sid) is gen
    await finished(gen)
    events, closed = await log.read(gen.key, 0)
    # The three chunks are one event in the log (it merges small chunks; ids stay exact for resuming readers).
    assert closed and [kind for _id, kind, _data in events] == ["started", "reasoning", "chunk", "done"]
    assert events[2][2] == "one two three"
    final = events[-1][2]
    assert isinstance(final, AnswerView) and final.status == "done" and final.text == "one two three"
    row = await storage.get_message(A, sid, gen.message_id or 0)
    assert (row["status"], row["content"], row["reasoning"], row["engine"]) == ("done", "one two three", "hmm",
                                                                                 "stream")
    assert (row["finish_reason"], row["total_tokens"], row["model"]) == ("stop", 8, "m")
    assert manager.active == 0 and manager.for_session(sid) is None
    # The system prompt, then the question.
    assert [m.role for m in engine.prompts[0]] == ["system", "user"] and engine.prompts[0][-1].content == "Hi?"


async def test_asking_again_attaches_or_returns_the_stored_answer(make: Make, storage: Storage) -> None:
    gate = asyncio.Event()
    manager = make(ListEngine(WORDS, gate=gate))
    sid, mid = await question(storage)
    gen = await manager.answer(A, sid, mid)
    assert await manager.answer(A, sid, mid) is gen  # a reconnecting browser attaches
    gate.set()
    await finished(gen)
    stored = await manager.answer(A, sid, mid)
    assert isinstance(stored, dict) and stored["id"] == gen.message_id and stored["status"] == "done"


async def test_one_answer_at_a_time_per_session(make: Make, storage: Storage) -> None:
    gate = asyncio.Event()
    manager = make(ListEngine(WORDS, gate=gate))
    sid, mid = await question(storage)
    gen = await manager.answer(A, sid, mid)
    second = (await storage.add_message(A, sid, "human", "and?"))["id"]
    with pytest.raises(SessionBusy):
        await manager.answer(A, sid, second)
    with pytest.raises(SessionBusy):
        await manager.regenerate(A, sid, gen.message_id or 0)
    gate.set()
    await finished(gen)


async def test_an_engine_failure_is_stored_with_its_code_and_partial_text(make: Make, storage: Storage) -> None:
    log = MemoryEventLog()
    manager = make(ListEngine(WORDS[:1], error=ProviderAuthError("key refused", partial=True)), eventlog=log)
    sid, mid = await question(storage)
    gen = await finished(await manager.answer(A, sid, mid))
    events, _closed = await log.read(gen.key, 0)
    assert events[-1][1] == "error"
    row = await storage.get_message(A, sid, gen.message_id or 0)
    assert (row["status"], row["content"], row["error"], row["error_code"]) == ("error", "one ", "key refused",
                                                                                "provider_auth")


async def test_the_answer_deadline_cuts_a_slow_engine(make: Make, storage: Storage) -> None:
    manager = make(ListEngine(WORDS, delay=0.3), environ={"ANSWER_TIMEOUT": "0.5"})
    sid, mid = await question(storage)
    gen = await finished(await manager.answer(A, sid, mid))
    assert gen.status == "error" and gen.error is not None and gen.error.code == "provider_timeout"
    assert gen.error.partial and "0.5 s" in gen.error.message


async def test_stop_keeps_the_partial_text_as_cancelled(make: Make, storage: Storage) -> None:
    engine = ListEngine([*WORDS, *WORDS], delay=0.05)
    manager = make(engine)
    sid, mid = await question(storage)
    gen = await manager.answer(A, sid, mid)
    while gen.chunks < 2:
        await asyncio.sleep(0.01)
    stopped = await manager.stop(A, sid, mid)  # by the question's id, as the browser does
    assert stopped["status"] == "cancelled" and stopped["content"].startswith("one two ")
    assert len(stopped["content"]) < len("one two threeone two three") and engine.closed == 1
    with pytest.raises(MessageNotFound):
        await manager.stop(A, sid, (await storage.add_message(A, sid, "human", "unanswered"))["id"])


async def test_regenerate_adds_a_version_next_to_the_old_answer(make: Make, storage: Storage) -> None:
    manager = make(ListEngine(WORDS))
    sid, mid = await question(storage)
    first = await finished(await manager.answer(A, sid, mid))
    again = await finished(await manager.regenerate(A, sid, first.message_id or 0))
    assert again.reply_to == mid and again.message_id != first.message_id
    assert [m["id"] for m in await storage.list_messages(A, sid, 20, 0)] == [mid, again.message_id]
    old = await storage.get_message(A, sid, first.message_id or 0)
    assert old["content"] == "one two three" and old["sibling_ids"] == [first.message_id, again.message_id]
    with pytest.raises(MessageNotFound):
        await manager.regenerate(A, sid, mid)  # a question is not an answer


async def test_a_title_is_generated_cleaned_and_saved(make: Make, storage: Storage) -> None:
    manager = make(ListEngine([TextDelta('"Title: A trip '), TextDelta('to Paris"')]))
    sid, _mid = await question(storage, "Plan my weekend in Paris")
    gen = await finished(await manager.title(A, sid))
    assert manager.title_for(sid) is gen and gen.finished
    assert (await storage.get_session(A, sid))["title"] == "A trip to Paris"
    empty = (await storage.create_session(A, None, None))["id"]
    with pytest.raises(NothingToTitle):
        await manager.title(A, empty)


async def test_shutdown_saves_what_is_left_as_interrupted(storage: Storage) -> None:
    manager = GenerationManager(storage=storage, config=ConfigStore(None, environ={}), eventlog=MemoryEventLog(),
                                engine_for=always(ListEngine([*WORDS, *WORDS], delay=0.2)), shutdown_grace=0.3)
    sid, mid = await question(storage)
    gen = await manager.answer(A, sid, mid)
    await manager.shutdown()
    row = await storage.get_message(A, sid, gen.message_id or 0)
    assert row["status"] == "interrupted" and row["content"] == gen.text and gen.finished
    with pytest.raises(ShuttingDown):
        await manager.answer(A, sid, (await storage.add_message(A, sid, "human", "after"))["id"])


async def test_progress_is_saved_while_the_answer_runs(storage: Storage) -> None:
    hold = asyncio.Event()
    manager = GenerationManager(storage=storage, config=ConfigStore(None, environ={}), eventlog=MemoryEventLog(),
                                engine_for=always(ListEngine([WORDS[0]], hold=hold)), save_interval=0.05)
    manager.start_background()
    sid, mid = await question(storage)
    gen = await manager.answer(A, sid, mid)
    for _ in range(200):
        row = await storage.get_message(A, sid, gen.message_id or 0)
        if row["content"] == "one ":
            break
        await asyncio.sleep(0.02)
    assert (row["status"], row["content"]) == ("generating", "one ")  # saved before the answer ended
    hold.set()
    await finished(gen)
    await manager.shutdown()


async def test_the_conversations_model_and_options_reach_the_engine(storage: Storage) -> None:
    plans: list[AnswerPlan] = []
    engine = ListEngine(WORDS)

    async def engine_for(_settings: object, _user: str, chosen: AnswerPlan) -> ListEngine:
        plans.append(chosen)
        return engine

    environ = {"STREAMING_API_URL": "http://seed/v1", "STREAMING_MODEL": "m",
               "CONNECTIONS": '[{"id": "lab", "url": "http://lab/v1", "models": ["llama"]}]'}
    manager = GenerationManager(storage=storage, config=ConfigStore(None, environ=environ),
                                eventlog=MemoryEventLog(), engine_for=engine_for)
    try:
        sid, mid = await question(storage)
        await storage.set_session_options(A, sid, {"connection": "lab", "model": "llama", "system_prompt": "Mine."})
        gen = await finished(await manager.answer(A, sid, mid))
        row = await storage.get_message(A, sid, gen.message_id or 0)
        assert (row["model"], row["connection"], plans[-1].system_prompt) == ("llama", "lab", "Mine.")
        assert engine.prompts[-1][0].content == "Mine."
        await storage.set_session_options(A, sid, {"model": "gone"})
        with pytest.raises(ModelNotAllowed):
            await manager.regenerate(A, sid, gen.message_id or 0)
        title = await finished(await manager.title(A, sid))  # a title falls back to the default model
        assert title.model == "m"
    finally:
        await manager.shutdown()
