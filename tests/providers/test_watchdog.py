"""IdleWatchdog (providers/watchdog.py): one timer for a stream's first-byte and idle timeouts."""

from __future__ import annotations

import asyncio

import pytest

from assistant_stream.providers.watchdog import IdleWatchdog


async def test_reads_keep_it_quiet_and_silence_cancels_the_task_once() -> None:
    async def reader() -> str:
        dog = IdleWatchdog(first=0.2, idle=0.1)
        try:
            for _ in range(6):  # 0.3 s of reads 0.05 s apart: longer than both limits, never idle too long
                await asyncio.sleep(0.05)
                dog.touch()
            assert dog.limit == 0.1 and not dog.fired
            try:
                await asyncio.sleep(5)  # silence
            except asyncio.CancelledError:
                assert dog.absorb()  # its own cancel: the task is not cancelling any more
                return "timed out"
            return "not cancelled"
        finally:
            dog.close()

    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await asyncio.wait_for(reader(), 5) == "timed out"
    assert 0.35 <= loop.time() - began < 1.5


async def test_a_cancel_from_elsewhere_is_not_taken_for_a_timeout() -> None:
    ready = asyncio.Event()

    async def reader() -> None:
        dog = IdleWatchdog(first=5, idle=5)
        try:
            ready.set()
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            assert not dog.absorb()
            raise
        finally:
            dog.close()

    task = asyncio.create_task(reader())
    await ready.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
