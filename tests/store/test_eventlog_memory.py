"""The in-memory event log: the shared contract (tests/support/eventlog_contract.py), and retention."""

from __future__ import annotations

import pytest

from assistant_stream.store.eventlog_memory import SEGMENT_CHARS, MemoryEventLog
from tests.support.clock import FakeClock
from tests.support.eventlog_contract import (  # noqa: F401 (the contract's tests run here)
    Pair,
    read_all,
    test_an_answer_of_150000_one_character_tokens_stays_small,
    test_followers_get_every_event_exactly_once_and_the_end,
    test_replay_from_every_id_is_exact_however_chunks_were_merged,
    test_seal_ends_an_abandoned_log_once,
    test_unknown_and_closed_logs,
    test_wait_times_out_and_one_timeout_does_not_wake_others,
)


@pytest.fixture
def pair() -> Pair:
    log = MemoryEventLog()
    return Pair(log, log, "memory")


async def test_closed_logs_expire_after_retention() -> None:
    clock = FakeClock()
    log = MemoryEventLog(retention=300, clock=clock)
    log.open("a")
    log.close("a")
    clock.advance(299)
    log.open("b")  # opening sweeps expired logs
    assert await log.has("a") and await log.last_id("a") == 0
    clock.advance(2)
    log.open("c")
    assert not await log.has("a") and await log.has("b")
    assert await log.read("a", 0) == ([], True)


async def test_text_merges_into_segments_and_other_events_stay_apart() -> None:
    log = MemoryEventLog()
    log.open("k")
    log.append("k", "started", {"n": 1})
    for _ in range(SEGMENT_CHARS + 10):
        log.append("k", "chunk", "x")
    log.append("k", "reasoning", "r")
    log.append("k", "chunk", "y")
    events, _ = await read_all(log, "k", 0)
    assert [(k, len(d) if isinstance(d, str) else d) for _, k, d in events] == [
        ("started", {"n": 1}), ("chunk", SEGMENT_CHARS), ("chunk", 10), ("reasoning", 1), ("chunk", 1)]
    assert log.append("k", "chunk", "") == events[-1][0]  # nothing to deliver: the id does not move
