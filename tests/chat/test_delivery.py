"""Following an event log (chat/delivery.py): bounded batches for a reader that fell behind, keep-alive ticks."""

from __future__ import annotations

import asyncio

from assistant_stream.chat.delivery import bounded, follow
from assistant_stream.store.eventlog_memory import MemoryEventLog


def test_a_batch_holds_at_most_max_chars_of_text_but_always_one_event() -> None:
    events = [(1, "chunk", "a" * 6), (2, "chunk", "b" * 6), (3, "chunk", "c")]
    assert bounded(events, 10) == events[:1]  # type: ignore[arg-type]
    assert bounded(events, 12) == events[:2]  # type: ignore[arg-type]
    assert bounded([(1, "chunk", "x" * 50)], 10) == [(1, "chunk", "x" * 50)]  # type: ignore[arg-type]


async def test_follow_sends_batches_ticks_while_silent_and_ends_with_the_last_event() -> None:
    log = MemoryEventLog()
    log.open("k")
    log.append("k", "chunk", "a" * 40_000)
    log.append("k", "chunk", "b" * 40_000)  # over 64 KB together: two batches
    got: list[object] = []

    async def reader() -> None:
        async for batch in follow(log, "k", 0, heartbeat=0.05):
            got.append(None if batch is None else [(i, k) for i, k, _d in batch])
            if batch is None:
                log.append("k", "done", "the end")  # type: ignore[arg-type]

    await asyncio.wait_for(reader(), 5)
    # Ids are positions in the text: the first batch ends at 40,000 characters, the second at 80,000.
    assert got == [[(40_000, "chunk")], [(80_000, "chunk")], None, [(80_001, "done")]]
