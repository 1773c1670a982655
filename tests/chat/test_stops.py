"""Stops (chat/stops.py): a stop relayed from another process, and an answer another process took over."""

from __future__ import annotations

import asyncio

from assistant_stream.chat.generation import Generation
from assistant_stream.chat.stops import Stops
from assistant_stream.store.coordination_memory import MemoryCoordinator
from assistant_stream.store.eventlog_memory import MemoryEventLog


def running(key: str) -> Generation:
    gen = Generation(key=key, kind="answer", user_id="alice", session_id=1, message_id=int(key[1:]), reply_to=None,
                     model="m", engine="stream")
    gen.task = asyncio.ensure_future(asyncio.sleep(60))
    return gen


async def test_a_relayed_stop_cancels_the_answer_here_and_a_lost_one_is_no_users_stop() -> None:
    stopped, lost = running("m1"), running("m2")
    stops = Stops(None, MemoryEventLog(), MemoryCoordinator(), {"m1": stopped, "m2": lost})  # type: ignore[arg-type]
    stops.here("m1")
    stops.lost("m2")
    stops.here("m3")  # not generated here: nothing to do
    await asyncio.wait([stopped.task, lost.task], timeout=1)  # type: ignore[list-item]
    assert stopped.task.cancelled() and stopped.stop_requested is True  # type: ignore[union-attr]
    # Taken over by another process: it ends here as interrupted, not as the user's cancelled.
    assert lost.task.cancelled() and lost.stop_requested is False  # type: ignore[union-attr]
