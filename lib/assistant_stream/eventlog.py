"""Per-generation ordered event logs that any number of readers replay from any id, then follow live."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

# (id, kind, data): kind is "started", "chunk", "reasoning", "done" or "error".
Event = tuple[int, str, Any]

TERMINAL_KINDS = frozenset({"done", "error"})


class EventLog(Protocol):
    """What generations write and streams read; in-process now, a Redis-backed one can follow."""

    def open(self, key: str) -> None: ...

    def append(self, key: str, kind: str, data: Any) -> int: ...

    def close(self, key: str) -> None: ...

    def has(self, key: str) -> bool: ...

    def read(self, key: str, after: int) -> tuple[list[Event], bool]: ...

    async def wait(self, key: str, after: int, timeout: float) -> bool: ...


class _Log:
    __slots__ = ("closed", "closed_at", "events", "waiter")

    def __init__(self) -> None:
        # Events are stored as compact tuples: a long answer costs about 100 bytes per chunk.
        self.events: list[tuple[str, Any]] = []
        self.closed = False
        self.closed_at = 0.0
        self.waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        # One future shared by all waiting readers: an append costs O(1), not O(readers).
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class MemoryEventLog:
    """Event ids start at 1 and increase by one per event; a closed log is kept ``retention`` seconds
    so a browser that reconnects (EventSource's automatic retry) can still resume by id."""

    def __init__(self, *, retention: float = 300.0) -> None:
        self._logs: dict[str, _Log] = {}
        self._retention = retention

    def open(self, key: str) -> None:
        self._expire()
        old = self._logs.get(key)
        if old is not None:
            old.wake()
        self._logs[key] = _Log()

    def append(self, key: str, kind: str, data: Any) -> int:
        log = self._logs[key]
        if log.closed:
            raise RuntimeError(f"event log {key} is closed")
        log.events.append((kind, data))
        log.wake()
        return len(log.events)

    def close(self, key: str) -> None:
        log = self._logs.get(key)
        if log is None or log.closed:
            return
        log.closed = True
        log.closed_at = time.monotonic()
        log.wake()

    def has(self, key: str) -> bool:
        return key in self._logs

    def last_id(self, key: str) -> int:
        log = self._logs.get(key)
        return len(log.events) if log else 0

    def read(self, key: str, after: int) -> tuple[list[Event], bool]:
        """Events with id > ``after``, and whether the log is closed (nothing more will come)."""
        log = self._logs.get(key)
        if log is None:
            return [], True
        start = max(after, 0)
        events = [(start + i + 1, kind, data) for i, (kind, data) in enumerate(log.events[start:])]
        return events, log.closed

    async def wait(self, key: str, after: int, timeout: float) -> bool:
        """Wait until an event with id > ``after`` exists or the log closes; False on timeout."""
        log = self._logs.get(key)
        if log is None or log.closed or len(log.events) > after:
            return True
        if log.waiter is None:
            log.waiter = asyncio.get_running_loop().create_future()
        try:
            # shield: one reader timing out must not cancel the future the others wait on.
            await asyncio.wait_for(asyncio.shield(log.waiter), timeout)
        except TimeoutError:
            return False
        return True

    def _expire(self) -> None:
        now = time.monotonic()
        stale = [k for k, log in self._logs.items() if log.closed and now - log.closed_at > self._retention]
        for key in stale:
            del self._logs[key]

    def __len__(self) -> int:
        return len(self._logs)
