"""One contract for coordination (limits, one answer per session) in one process (memory) and across processes
(Redis); tests/store/test_coordination_memory.py and test_coordination_redis.py give the tests a ``cluster``."""

from __future__ import annotations

from typing import Any

import pytest

from assistant_stream.core.errors import RateLimited, SessionBusy
from assistant_stream.store.coordination_memory import MemoryCoordinator
from assistant_stream.store.coordination_redis import RedisCoordinator
from assistant_stream.store.redis_hub import RedisHub

__all__ = ["Cluster"]


class Cluster:
    """Coordinators standing for processes; ``make()`` adds one (on Redis) or returns the only one (memory)."""

    def __init__(self, kind: str, url: str = "", prefix: str = "") -> None:
        self.kind, self.url, self.prefix = kind, url, prefix
        self.hubs: list[RedisHub] = []
        self.coords: list[Any] = []

    async def make(self, lease: float = 5.0) -> Any:
        if self.kind == "memory":
            if not self.coords:
                self.coords.append(MemoryCoordinator())
            return self.coords[0]
        hub = RedisHub(self.url, prefix=self.prefix)
        await hub.start()
        coord = RedisCoordinator(hub, lease=lease)
        await coord.start()
        self.hubs.append(hub)
        self.coords.append(coord)
        return coord

    async def close(self) -> None:
        for coord in self.coords:
            await coord.aclose()
        for hub in self.hubs:
            await hub.aclose()


async def test_one_answer_per_session(cluster: Cluster) -> None:
    a = await cluster.make()
    token = await a.begin("alice", session_id=1, max_concurrent=5, max_starts=0)
    with pytest.raises(SessionBusy) as busy:
        await a.begin("alice", session_id=1, max_concurrent=5, max_starts=0)
    assert busy.value.current is None  # still starting: no event log to attach to yet
    a.bind(token, "m10", user_id="alice", session_id=1, message_id=10)
    if cluster.kind == "redis":
        await a.renew()
    with pytest.raises(SessionBusy) as busy:
        await a.begin("alice", session_id=1, max_concurrent=5, max_starts=0)
    assert busy.value.current == "m10" and await a.session_key(1) == "m10"
    await a.begin("alice", session_id=2, max_concurrent=5, max_starts=0)  # other sessions are free
    await a.end(token, "m10", user_id="alice", session_id=1)
    assert await a.session_key(1) is None
    await a.begin("alice", session_id=1, max_concurrent=5, max_starts=0)


async def test_concurrent_answers_per_user(cluster: Cluster) -> None:
    a = await cluster.make()
    b = await cluster.make()  # on Redis a second process: the limit is per user, not per process
    t1 = await a.begin("bob", session_id=11, max_concurrent=2, max_starts=0)
    await b.begin("bob", session_id=12, max_concurrent=2, max_starts=0)
    with pytest.raises(RateLimited) as exc:
        await b.begin("bob", session_id=13, max_concurrent=2, max_starts=0)
    assert exc.value.code == "too_many_generations" and exc.value.retry_after
    await a.begin("carol", session_id=14, max_concurrent=2, max_starts=0)  # other users are not affected
    await a.end(t1, None, user_id="bob", session_id=11)
    await b.begin("bob", session_id=13, max_concurrent=2, max_starts=0)


async def test_starts_per_minute_titles_included_and_a_refused_start_is_not_counted(cluster: Cluster) -> None:
    a = await cluster.make()
    b = await cluster.make()
    t = await a.begin("dave", session_id=None, max_concurrent=0, max_starts=3)  # a title
    await b.begin("dave", session_id=21, max_concurrent=9, max_starts=3)
    await a.end(t, None, user_id="dave", session_id=None, started=False)  # never started: not counted
    await a.begin("dave", session_id=22, max_concurrent=9, max_starts=3)
    await b.begin("dave", session_id=23, max_concurrent=9, max_starts=3)
    with pytest.raises(RateLimited) as exc:
        await a.begin("dave", session_id=24, max_concurrent=9, max_starts=3)
    assert exc.value.code == "rate_limited" and 55 <= exc.value.retry_after <= 60
    with pytest.raises(RateLimited):
        await b.begin("dave", session_id=None, max_concurrent=0, max_starts=3)
