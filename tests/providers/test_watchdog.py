"""IdleWatchdog (providers/watchdog.py): one timer for a stream's first-byte and idle timeouts."""

from __future__ import annotations

import asyncio

import pytest

from assistant_stream.providers.watchdog import IdleWatchdog


async def test_reads_keep_it_quiet_and_silence_cancels_the_task_once() -> None:
    loop = asyncio.get_running_loop()

    async def reader() -> tuple[str, float]:
        # Limits far above the 0.05 s between reads, so a loaded machine's late wake-ups cannot fire it.
        dog = IdleWatchdog(first=2.0, idle=1.0)
        try:
            for _ in range(6):
                await asyncio.sleep(0.05)
                dog.touch()
            assert dog.limit == 1.0 and not dog.fired
            touched = loop.time()
            try:
                await asyncio.sleep(30)  # silence
            except asyncio.CancelledError:
                assert dog.absorb()  # its own cancel: the task is not cancelling any more
                return "timed out", loop.time() - touched
            return "not cancelled", loop.time() - touched
        finally:
            dog.close()

    outcome, silent_for = await asyncio.wait_for(reader(), 20)
    assert outcome == "timed out"
    assert silent_for >= 0.99  # not before the idle limit since the last read (asyncio may fire a timer a hair early)


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
