"""IdleWatchdog: the first-byte and idle timeouts of one stream as one timer, not one per chunk.

A timer per read (``asyncio.timeout`` around each chunk) costs a heap push and a cancel for every chunk of
every stream; measured in bench/transport_bench.py. Here a read only stores the time it ended; the one timer
wakes at the earliest moment the stream could be late, and re-arms itself when it was not.
"""

from __future__ import annotations

import asyncio


class IdleWatchdog:
    """Cancels the task that created it when no ``touch()`` came for ``first`` seconds (before the first
    read), then ``idle`` seconds (between reads). ``fired`` tells the task why it was cancelled."""

    def __init__(self, first: float, idle: float) -> None:
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._idle = idle
        self.limit = first  # the timeout in force: first byte, then idle
        self.fired = False
        self._last = self._loop.time()
        self._handle: asyncio.TimerHandle | None = self._loop.call_at(self._last + first, self._check)

    def touch(self) -> None:
        """A read ended: the stream is alive (the hot path: a clock read and an attribute write)."""
        self._last = self._loop.time()
        if self.limit != self._idle:  # the first read: the idle timeout from now on, often shorter
            self.limit = self._idle
            if self._handle is not None:
                self._handle.cancel()
                self._handle = self._loop.call_at(self._last + self._idle, self._check)

    def _check(self) -> None:
        due = self._last + self.limit
        if self._loop.time() >= due:
            self.fired = True
            self._handle = None
            self._task.cancel()
        else:
            self._handle = self._loop.call_at(due, self._check)

    def absorb(self) -> bool:
        """After a CancelledError: True when it was this watchdog's (the task is no longer cancelling),
        False when someone else cancelled the task too (the CancelledError must go on)."""
        if not self.fired:
            return False
        return self._task.uncancel() == 0

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
