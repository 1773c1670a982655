"""Per-generation ordered event logs that any number of readers replay from any id, then follow live."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Literal, Protocol

from ..core.limits import EVENTLOG_RETENTION
from .answer import AnswerView

Kind = Literal["started", "chunk", "reasoning", "done", "error"]
# What an event carries: the text of a chunk or reasoning delta, or the answer as it stands
# (``started``, and the final ``done`` / ``error``). The web layer turns both into wire JSON.
Payload = str | AnswerView
Event = tuple[int, Kind, Payload]  # (id, kind, payload); ids start at 1 and increase by one

TERMINAL_KINDS = frozenset({"done", "error"})


class EventLog(Protocol):
    """What generations write and streams read; in-process now, a Redis-backed one can follow."""

    def open(self, key: str) -> None: ...

    def append(self, key: str, kind: Kind, data: Payload) -> int: ...

    def close(self, key: str) -> None: ...

    def has(self, key: str) -> bool: ...

    def last_id(self, key: str) -> int: ...

    def read(self, key: str, after: int) -> tuple[list[Event], bool]: ...

    async def wait(self, key: str, after: int, timeout: float) -> bool: ...


class _Log:
    __slots__ = ("closed", "closed_at", "data", "kinds", "waiters")

    def __init__(self) -> None:
        # Two parallel lists rather than a list of (kind, data) tuples: 16 bytes per event besides the
        # text itself (which the generation holds anyway) instead of 64; the kinds are interned strings.
        self.kinds: list[Kind] = []
        self.data: list[Payload] = []
        self.closed = False
        self.closed_at = 0.0
        # One future per waiting reader (usually one): waking it resumes that reader directly, in one
        # event-loop step, where a shared future behind shield() + wait_for() took three.
        self.waiters: list[asyncio.Future[bool]] = []

    def wake(self) -> None:
        waiters = self.waiters
        if waiters:
            self.waiters = []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(True)


def _timed_out(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class MemoryEventLog:
    """Event ids start at 1 and increase by one per event; a closed log is kept ``retention`` seconds
    so a browser that reconnects (EventSource's automatic retry) can still resume by id."""

    def __init__(self, *, retention: float = EVENTLOG_RETENTION, clock: Callable[[], float] = time.monotonic) -> None:
        self._logs: dict[str, _Log] = {}
        self._retention = retention
        self._clock = clock

    def open(self, key: str) -> None:
        self._expire()
        old = self._logs.get(key)
        if old is not None:
            old.wake()
        self._logs[key] = _Log()

    def append(self, key: str, kind: Kind, data: Payload) -> int:
        log = self._logs[key]
        if log.closed:
            raise RuntimeError(f"event log {key} is closed")
        log.kinds.append(kind)
        log.data.append(data)
        log.wake()
        return len(log.kinds)

    def close(self, key: str) -> None:
        log = self._logs.get(key)
        if log is None or log.closed:
            return
        log.closed = True
        log.closed_at = self._clock()
        log.wake()

    def has(self, key: str) -> bool:
        return key in self._logs

    def last_id(self, key: str) -> int:
        log = self._logs.get(key)
        return len(log.kinds) if log else 0

    def read(self, key: str, after: int) -> tuple[list[Event], bool]:
        """Events with id > ``after``, and whether the log is closed (nothing more will come)."""
        log = self._logs.get(key)
        if log is None:
            return [], True
        start = max(after, 0)
        end = len(log.kinds)
        if start >= end:
            return [], log.closed
        if start + 1 == end:  # the usual case for a live reader: exactly one new event
            return [(end, log.kinds[start], log.data[start])], log.closed
        # The two lists always have the same length (append is the only writer).
        return list(zip(range(start + 1, end + 1), log.kinds[start:], log.data[start:])), log.closed  # noqa: B905

    async def wait(self, key: str, after: int, timeout: float) -> bool:
        """Wait until an event with id > ``after`` exists or the log closes; False on timeout."""
        log = self._logs.get(key)
        if log is None or log.closed or len(log.kinds) > after:
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        log.waiters.append(waiter)
        timer = loop.call_later(timeout, _timed_out, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()
            waiters = log.waiters  # a wake already emptied it; a timeout or a cancelled reader did not
            if waiters and waiter in waiters:
                waiters.remove(waiter)

    def _expire(self) -> None:
        now = self._clock()
        stale = [k for k, log in self._logs.items() if log.closed and now - log.closed_at > self._retention]
        for key in stale:
            del self._logs[key]

    def __len__(self) -> int:
        return len(self._logs)
