"""Coordination across processes through Redis: the shared contract, with each coordinator standing for a
process, plus what only several processes have: stop requests, leases, reaping a dead owner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.coordination_contract import (  # noqa: F401 (the contract's tests run here)
    Cluster,
    test_concurrent_answers_per_user,
    test_one_answer_per_session,
    test_starts_per_minute_titles_included_and_a_refused_start_is_not_counted,
)


@pytest.fixture
async def cluster(redis_url: str, redis_prefix: str) -> AsyncIterator[Cluster]:
    c = Cluster("redis", redis_url, redis_prefix)
    yield c
    await c.close()


async def test_stop_reaches_the_owning_process(cluster: Cluster) -> None:
    a = await cluster.make()
    b = await cluster.make()
    stops: list[str] = []
    a.on_stop = stops.append
    token = await a.begin("erin", session_id=31, max_concurrent=5, max_starts=0)
    a.bind(token, "m31", user_id="erin", session_id=31, message_id=31)
    await a.renew()
    assert await a.request_stop("m31") is False  # its own: the caller stops it locally
    assert await b.request_stop("m31") is True
    for _ in range(200):
        if stops:
            break
        await asyncio.sleep(0.01)
    assert stops == ["m31"]
    assert await b.request_stop("m-nobody") is False


async def test_a_dead_owner_is_reaped_once_and_its_slots_freed(cluster: Cluster) -> None:
    owner = await cluster.make(lease=1.0)
    reapers = [await cluster.make(lease=1.0), await cluster.make(lease=1.0)]
    reaped: list[dict[str, Any]] = []

    async def on_reap(info: dict[str, Any]) -> None:
        reaped.append(info)

    for r in reapers:
        r.on_reap = on_reap
    token = await owner.begin("frank", session_id=41, max_concurrent=1, max_starts=0)
    owner.bind(token, "m41", user_id="frank", session_id=41, message_id=41)
    await owner.renew()
    await asyncio.sleep(1.6)
    assert reaped == [], "a renewing owner is never reaped"
    await owner.aclose()  # it dies: no more renewals (and no `end`)
    loop = asyncio.get_running_loop()
    died = loop.time()
    while not reaped and loop.time() - died < 5:
        await asyncio.sleep(0.05)
    took = loop.time() - died
    await asyncio.sleep(1.2)  # the other reaper had its turn too
    assert len(reaped) == 1 and took < 3.5, (reaped, took)
    assert reaped[0] | {"node": ""} == {"key": "m41", "message_id": 41, "user_id": "frank", "session_id": 41,
                                        "node": ""}
    # Its session and its slot in frank's concurrent answers are free again.
    await reapers[0].begin("frank", session_id=41, max_concurrent=1, max_starts=0)


async def test_an_owner_that_only_looked_dead_learns_it_lost(cluster: Cluster) -> None:
    owner = await cluster.make(lease=1.0)
    reaper = await cluster.make(lease=1.0)
    lost: list[str] = []
    owner.on_lost = lost.append
    for task in owner._tasks:  # a stalled process: nothing renews
        task.cancel()
    token = await owner.begin("gina", session_id=51, max_concurrent=5, max_starts=0)
    owner.bind(token, "m51", user_id="gina", session_id=51, message_id=51)
    await owner.renew()
    reaped: list[str] = []

    async def on_reap(info: dict[str, Any]) -> None:
        reaped.append(info["key"])

    reaper.on_reap = on_reap
    for _ in range(100):
        if reaped:
            break
        await asyncio.sleep(0.05)
    assert reaped == ["m51"]
    assert await owner.renew() == ["m51"] and lost == ["m51"]
    assert await reaper.is_live(["m51"]) == [True]  # marked reaped, so nobody takes the lease again
