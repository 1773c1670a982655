"""Coordination in one process: the shared contract (tests/support/coordination_contract.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from assistant_stream.core.errors import RateLimited, TooManyGenerations
from assistant_stream.store.coordination_memory import MemoryCoordinator
from tests.support.clock import FakeClock
from tests.support.coordination_contract import (  # noqa: F401 (the contract's tests run here)
    Cluster,
    test_concurrent_answers_per_user,
    test_one_answer_per_session,
    test_starts_per_minute_titles_included_and_a_refused_start_is_not_counted,
)


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    c = Cluster("memory")
    yield c
    await c.close()


async def test_the_start_window_slides_with_the_clock() -> None:
    clock = FakeClock()
    coord = MemoryCoordinator(clock=clock)
    for _ in range(2):
        await coord.begin("u", session_id=None, max_concurrent=0, max_starts=2)
    clock.advance(59)
    with pytest.raises(RateLimited) as refused:
        await coord.begin("u", session_id=None, max_concurrent=0, max_starts=2)
    assert refused.value.retry_after == pytest.approx(1)
    clock.advance(1.5)
    await coord.begin("u", session_id=None, max_concurrent=0, max_starts=2)


async def test_concurrent_answers_are_counted_until_they_end_and_titles_do_not_count() -> None:
    coord = MemoryCoordinator(clock=FakeClock())
    tokens = [await coord.begin("alice", session_id=i, max_concurrent=2, max_starts=0) for i in (1, 2)]
    with pytest.raises(TooManyGenerations) as info:
        await coord.begin("alice", session_id=3, max_concurrent=2, max_starts=0)
    assert info.value.retry_after == 5 and coord.running("alice") == 2
    await coord.begin("alice", session_id=None, max_concurrent=0, max_starts=0)  # a title does not wait
    await coord.end(tokens[0], None, user_id="alice", session_id=1)
    await coord.begin("alice", session_id=3, max_concurrent=2, max_starts=0)
