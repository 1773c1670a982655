"""Taking over a dead process's answers (chat/takeover.py): interrupted with their saved text, their readers
told with a terminal event, never an answer that is alive or already ended."""

from __future__ import annotations

from assistant_stream.chat.answer import AnswerView
from assistant_stream.chat.takeover import Takeover, wait_for_end
from assistant_stream.store.coordination_memory import MemoryCoordinator
from assistant_stream.store.eventlog_memory import MemoryEventLog
from assistant_stream.store.storage import Storage
from tests.support.generations import sqlite_storage  # noqa: F401 (the `storage` fixture)

A = "alice"


async def running_answer(storage: Storage, text: str) -> int:
    sid = (await storage.create_session(A, None, None))["id"]
    human = await storage.add_message(A, sid, "human", "q")
    answer = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=human["id"])
    await storage.save_progress(answer["id"], text, "")
    return answer["id"]


async def test_a_reaped_answer_is_interrupted_with_its_text_and_its_readers_told(storage: Storage) -> None:
    log, coord = MemoryEventLog(), MemoryCoordinator()
    takeover = Takeover(storage, log, coord, owned=lambda key: False)
    assert coord.on_reap == takeover.reap
    mid = await running_answer(storage, "half an ans")
    log.open(f"m{mid}")  # the dead owner's log, as the reaper's process sees it
    log.append(f"m{mid}", "chunk", "half an ans")
    await takeover.reap({"key": f"m{mid}", "message_id": mid, "user_id": A, "session_id": 1, "node": "x"})
    row = await storage.get_message_by_id(mid)
    assert row is not None and (row["status"], row["content"]) == ("interrupted", "half an ans")
    events, ended = await log.read(f"m{mid}", 0)
    assert ended and events[-1][1] == "done" and isinstance(events[-1][2], AnswerView)
    assert events[-1][2].status == "interrupted" and await wait_for_end(log, f"m{mid}", 0.1)
    await takeover.reap({"key": f"m{mid}", "message_id": mid, "user_id": A, "session_id": 1, "node": "x"})
    assert [k for _, k, _ in (await log.read(f"m{mid}", 0))[0]].count("done") == 1  # once


async def test_the_sweep_ends_abandoned_answers_but_not_live_or_own_ones(storage: Storage) -> None:
    coord = MemoryCoordinator()
    abandoned, own, live = [await running_answer(storage, t) for t in ("a", "b", "c")]
    token = await coord.begin(A, session_id=99, max_concurrent=9, max_starts=0)
    coord.bind(token, f"m{live}", user_id=A, session_id=99, message_id=live)
    takeover = Takeover(storage, MemoryEventLog(), coord, owned=lambda key: key == f"m{own}", stale_after=0)
    assert await takeover.sweep() == 1
    statuses = [(await storage.get_message_by_id(m) or {})["status"] for m in (abandoned, own, live)]
    assert statuses == ["interrupted", "generating", "generating"]
