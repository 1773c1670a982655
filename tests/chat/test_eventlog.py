"""The in-process event log: ids, replay from any id, live following, closing."""

from __future__ import annotations

import asyncio

from assistant_stream.chat.eventlog import MemoryEventLog
from tests.support.clock import FakeClock


async def test_replay_from_any_id_then_follow() -> None:
    log = MemoryEventLog()
    log.open("k")
    for i in range(5):
        assert log.append("k", "chunk", str(i)) == i + 1
    for after in range(6):
        events, closed = log.read("k", after)
        assert [e[0] for e in events] == list(range(after + 1, 6)) and not closed

    async def reader(ready: asyncio.Event) -> list[str]:
        seen, after = [], 0
        while True:
            events, closed = log.read("k", after)
            seen += [d for _, _, d in events]
            after = events[-1][0] if events else after
            ready.set()  # caught up: whatever comes next, wait() sees it (it checks before sleeping)
            if closed:
                return seen
            await log.wait("k", after, 5)

    ready = [asyncio.Event() for _ in range(3)]
    readers = [asyncio.create_task(reader(r)) for r in ready]
    await asyncio.gather(*(r.wait() for r in ready))
    log.append("k", "chunk", "5")
    log.append("k", "done", {"done": True})
    log.close("k")
    results = await asyncio.gather(*readers)
    assert all(r[:6] == [str(i) for i in range(6)] and r[6] == {"done": True} for r in results)


async def test_wait_times_out_without_events_and_one_timeout_does_not_wake_others() -> None:
    log = MemoryEventLog()
    log.open("k")
    assert await log.wait("k", 0, 0.01) is False
    slow = asyncio.create_task(log.wait("k", 0, 5))
    assert await log.wait("k", 0, 0.01) is False
    log.append("k", "chunk", "x")
    assert await slow is True


async def test_closed_logs_expire_after_retention() -> None:
    clock = FakeClock()
    log = MemoryEventLog(retention=300, clock=clock)
    log.open("a")
    log.close("a")
    clock.advance(299)
    log.open("b")  # opening sweeps expired logs
    assert log.has("a") and log.last_id("a") == 0
    clock.advance(2)
    log.open("c")
    assert not log.has("a") and log.has("b")
    assert log.read("a", 0) == ([], True)
