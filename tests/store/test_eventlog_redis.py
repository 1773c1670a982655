"""The Redis Streams event log: the shared contract read by its own process and by another one, retention,
a Redis restart in the middle of an answer, and an owner that learns another process ended its log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from assistant_stream.store.redis_hub import RedisHub, SharedStateUnavailable
from tests.support.eventlog_contract import (  # noqa: F401 (the contract's tests run here)
    Pair,
    read_all,
    redis_log,
    test_an_answer_of_150000_one_character_tokens_stays_small,
    test_followers_get_every_event_exactly_once_and_the_end,
    test_replay_from_every_id_is_exact_however_chunks_were_merged,
    test_seal_ends_an_abandoned_log_once,
    test_unknown_and_closed_logs,
    test_wait_times_out_and_one_timeout_does_not_wake_others,
    text,
)
from tests.support.redis_server import RedisServer


@pytest.fixture(params=["same-process", "other-process"])
async def pair(request: pytest.FixtureRequest, redis_url: str, redis_prefix: str) -> AsyncIterator[Pair]:
    hubs: list[RedisHub] = []
    hub, writer = await redis_log(redis_url, redis_prefix)
    hubs.append(hub)
    reader = writer
    if request.param == "other-process":  # its own hub and connections: everything goes through Redis
        hub2, reader = await redis_log(redis_url, redis_prefix)
        hubs.append(hub2)
    try:
        yield Pair(writer, reader, request.param)
    finally:
        await writer.aclose()
        for h in hubs:
            await h.aclose()


async def test_closed_logs_expire_after_retention(redis_url: str, redis_prefix: str) -> None:
    hub, log = await redis_log(redis_url, redis_prefix, retention=7)
    try:
        log.open("a")
        log.append("a", "started", {})
        assert await log.drain()
        assert await hub.client.pttl(log.stream("a")) > 7_000  # open: kept for hours
        log.append("a", "done", {})
        log.close("a")
        assert await log.drain()
        assert 0 < await hub.client.pttl(log.stream("a")) <= 7_000
    finally:
        await log.aclose()
        await hub.aclose()


async def test_redis_restart_mid_answer_the_owner_writes_its_log_again(own_redis: RedisServer) -> None:
    """Redis loses everything; the owner keeps appending; once Redis is back a reader elsewhere gets it all."""
    hub, w = await redis_log(own_redis.url, "r:")
    hub2, r = await redis_log(own_redis.url, "r:")
    try:
        w.open("m1")
        w.append("m1", "started", {})
        w.append("m1", "chunk", "before ")
        assert await w.drain()
        own_redis.stop()
        with pytest.raises(SharedStateUnavailable):
            await r.read("m1", 0)
        w.append("m1", "chunk", "during ")
        await asyncio.sleep(0.3)
        own_redis.start()
        w.append("m1", "chunk", "after")
        w.append("m1", "done", {"done": True})
        w.close("m1")
        assert await w.drain(10)
        events, closed = await read_all(r, "m1", 0)
        assert closed and text(events) == "before during after"
    finally:
        await w.aclose()
        for h in (hub, hub2):
            await h.aclose()


async def test_a_log_sealed_elsewhere_tells_its_owner(redis_url: str, redis_prefix: str) -> None:
    hub, w = await redis_log(redis_url, redis_prefix)
    hub2, r = await redis_log(redis_url, redis_prefix)
    lost: list[str] = []
    w.on_lost = lost.append
    try:
        w.open("o")
        w.append("o", "started", {})
        assert await w.drain()
        assert await r.seal("o", "done", {"done": True, "status": "interrupted"})
        w.append("o", "chunk", "still alive")
        assert await w.drain()
        assert lost == ["o"]
        events, closed = await read_all(r, "o", 0)
        assert closed and [k for _, k, _ in events] == ["started", "done"]
    finally:
        await w.aclose()
        for h in (hub, hub2):
            await h.aclose()
