"""Running one generation (chat/runner.py): it ends the same with or without readers; its text enters clean."""

from __future__ import annotations

import asyncio

from assistant_stream.chat.answer import AnswerView
from assistant_stream.chat.generation import Generation, answer_key
from assistant_stream.chat.persistence import AnswerSaver
from assistant_stream.chat.runner import Runner
from assistant_stream.core.events import ChatMessage, Finish, TextDelta
from assistant_stream.store.eventlog_memory import MemoryEventLog
from assistant_stream.store.storage import Storage
from tests.support.engines import ListEngine
from tests.support.generations import sqlite_storage  # noqa: F401 (the `storage` fixture)

A = "alice"


async def generation(storage: Storage) -> Generation:
    sid = (await storage.create_session(A, None, None))["id"]
    human = await storage.add_message(A, sid, "human", "q")
    row = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=human["id"], engine="stream")
    return Generation(key=answer_key(row["id"]), kind="answer", user_id=A, session_id=sid, message_id=row["id"],
                      reply_to=human["id"], model="m", engine="stream")


async def test_model_text_is_cleaned_where_it_enters(storage: Storage) -> None:
    log = MemoryEventLog()
    ended: list[Generation] = []
    runner = Runner(log, AnswerSaver(storage), ended.append)
    gen = await generation(storage)
    runner.launch(gen, ListEngine([TextDelta("a\x00b"), TextDelta("\ud800!"), Finish("stop")]),
                  [ChatMessage("user", "q")])
    assert gen.task is not None
    await gen.task
    events, _ = await log.read(gen.key, 0)
    assert "".join(data for _id, kind, data in events if kind == "chunk") == "ab\ufffd!"  # the log merges chunks
    row = await storage.get_message(A, gen.session_id, gen.message_id or 0)
    assert row["content"] == gen.text == "ab\ufffd!"  # streamed == stored == what a replay sends
    assert ended == [gen] and gen.finished


async def test_cancelling_the_task_still_saves_and_announces_the_end(storage: Storage) -> None:
    log = MemoryEventLog()
    runner = Runner(log, AnswerSaver(storage), lambda _gen: None)
    gen = await generation(storage)
    runner.launch(gen, ListEngine([TextDelta("kept")], hold=asyncio.Event()), [ChatMessage("user", "q")])
    assert gen.task is not None
    while not gen.chunks:
        await asyncio.sleep(0.005)
    gen.task.cancel()  # a restart, not a user's stop
    await asyncio.gather(gen.task, return_exceptions=True)
    await runner.wait_finishing(timeout=5)
    events, closed = await log.read(gen.key, 0)
    final = events[-1][2]
    assert closed and isinstance(final, AnswerView) and final.status == "interrupted"
    assert (await storage.get_message(A, gen.session_id, gen.message_id or 0))["status"] == "interrupted"
