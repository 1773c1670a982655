"""The link to Redis (store/redis_hub.py): clear errors when it is away (no password in them), a restart told
apart from a blip, control messages to one process, and one blocking read that wakes every waiting reader."""

from __future__ import annotations

import asyncio

import pytest

from assistant_stream.store.redis_hub import RedisHub, SharedStateUnavailable, display
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer


async def test_an_unreachable_redis_is_a_clear_error_without_the_password() -> None:
    url = f"redis://:s3cret-pass@127.0.0.1:{free_port()}/0"
    hub = RedisHub(url)
    with pytest.raises(SharedStateUnavailable) as exc:
        await hub.start(wait=0.3)
    assert "127.0.0.1" in exc.value.message and "s3cret" not in exc.value.message
    assert exc.value.code == "storage_unavailable" and exc.value.status == 503 and "Redis" in exc.value.message
    assert display(url) == f"redis://127.0.0.1:{url.rsplit(':', 1)[1]}"
    await hub.aclose()


async def test_a_restart_is_seen_as_a_new_epoch_and_calls_fail_clearly_meanwhile(own_redis: RedisServer) -> None:
    hub = RedisHub(own_redis.url, prefix="h:")
    await hub.start()
    changed: list[bool] = []
    hub.on_epoch_change(lambda: changed.append(True))
    try:
        assert await hub.check_epoch() is False
        own_redis.stop()
        with pytest.raises(SharedStateUnavailable):
            await hub.call(hub.client.ping)
        assert not hub.healthy
        own_redis.start()
        assert await hub.check_epoch() is True and changed == [True]  # everything it had there is gone
        assert await hub.call(hub.client.ping) and hub.healthy
    finally:
        await hub.aclose()


async def test_control_messages_reach_the_named_process_only(redis_url: str, redis_prefix: str) -> None:
    hubs = [RedisHub(redis_url, prefix=redis_prefix) for _ in range(2)]
    got: list[list[dict[bytes, bytes]]] = [[], []]
    for hub, box in zip(hubs, got, strict=True):
        hub.on_control(box.append)
        await hub.start()
    try:
        await hubs[0].send_control(hubs[1].node, {"stop": "m1"})
        for _ in range(200):
            if got[1]:
                break
            await asyncio.sleep(0.01)
        assert got == [[], [{b"stop": b"m1"}]]
    finally:
        for hub in hubs:
            await hub.aclose()


async def test_one_blocking_read_wakes_the_waiters_of_many_streams(redis_url: str, redis_prefix: str) -> None:
    hub = RedisHub(redis_url, prefix=redis_prefix)
    await hub.start()
    try:
        names = [f"{redis_prefix}s{i}" for i in range(20)]
        waiters = [asyncio.create_task(hub.wait(n, 0, 5)) for n in names]
        assert await hub.wait(f"{redis_prefix}quiet", 0, 0.05) is False  # nothing there: times out
        for n in names:
            await hub.client.xadd(n, {"k": "chunk", "d": "x"}, id="0-1")
        assert await asyncio.wait_for(asyncio.gather(*waiters), 5) == [True] * 20
        assert await hub.wait(names[0], 1, 0.05) is False  # it has nothing after 0-1
    finally:
        await hub.aclose()
