"""In-process event log: per-answer ordered events, tiny chunks coalesced, replay from any id, live follow."""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_right
from collections.abc import Callable
from typing import Any

# (id, kind, data): kind is "started", "chunk", "reasoning", "done" or "error"; data is the text of a
# chunk/reasoning event, or the payload of the others.
Event = tuple[int, str, Any]

TEXT_KINDS = frozenset({"chunk", "reasoning"})
TERMINAL_KINDS = frozenset({"done", "error"})
# Consecutive text of one kind is appended to the last entry until it holds this many characters, so
# an answer of 150,000 one-character tokens is ~75 entries and its text, not 150,000 objects.
SEGMENT_CHARS = 2048


class _Log:
    __slots__ = ("closed", "closed_at", "data", "ends", "kinds", "waiters")

    def __init__(self) -> None:
        # Entry i covers the ids (ends[i-1], ends[i]]: a text entry advances the id by its length in
        # characters, any other entry by one. So an id names a position in the text, and a reader
        # resuming after any id it was sent gets exactly the rest, however the entries were merged.
        self.kinds: list[str] = []
        self.ends: list[int] = []
        self.data: list[Any] = []
        self.closed = False
        self.closed_at = 0.0
        # One future per waiting reader: waking it resumes that reader in one event-loop step.
        self.waiters: list[asyncio.Future[bool]] = []

    @property
    def last_id(self) -> int:
        return self.ends[-1] if self.ends else 0

    def add(self, kind: str, data: Any) -> int:
        kinds, ends = self.kinds, self.ends
        end = ends[-1] if ends else 0
        if kind in TEXT_KINDS:
            if not data:
                return end  # nothing to deliver; the id does not move
            end += len(data)
            if kinds and kinds[-1] == kind and len(self.data[-1]) < SEGMENT_CHARS:
                self.data[-1] += data  # a new string of at most SEGMENT_CHARS + len(data): cheap to copy
                ends[-1] = end
            else:
                kinds.append(kind)
                ends.append(end)
                self.data.append(data)
        else:
            end += 1
            kinds.append(kind)
            ends.append(end)
            self.data.append(data)
        self.wake()
        return end

    def after(self, after: int) -> list[Event]:
        ends = self.ends
        i = bisect_right(ends, after)  # the first entry that ends beyond ``after``
        n = len(ends)
        if i >= n:
            return []
        kinds, data = self.kinds, self.data
        first = data[i]
        if kinds[i] in TEXT_KINDS:
            start = ends[i] - len(first)
            if after > start:
                first = first[after - start:]
        if i + 1 == n:  # a live reader: only the newest entry
            return [(ends[i], kinds[i], first)]
        out: list[Event] = [(ends[i], kinds[i], first)]
        out.extend(zip(ends[i + 1:], kinds[i + 1:], data[i + 1:]))  # noqa: B905 (same length by construction)
        return out

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
    """One process's event logs. Ids increase with every event (not by one: see ``_Log``); a closed log is
    kept ``retention`` seconds so a browser that reconnects (EventSource's retry) can still resume by id.

    Memory per answer is its text plus about 100 bytes per ``SEGMENT_CHARS`` of it and per event of
    another kind, whatever the size of the provider's chunks.
    """

    def __init__(self, *, retention: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._logs: dict[str, _Log] = {}
        self._retention = retention
        self._clock = clock

    # --- writer (the generation that owns the key) ---------------------------------------------------

    def open(self, key: str) -> None:
        self._expire()
        old = self._logs.get(key)
        if old is not None:
            old.wake()
        self._logs[key] = _Log()

    def append(self, key: str, kind: str, data: Any) -> int:
        """Add an event; returns its id. Never blocks."""
        log = self._logs[key]
        if log.closed:
            raise RuntimeError(f"event log {key} is closed")
        return log.add(kind, data)

    def close(self, key: str) -> None:
        log = self._logs.get(key)
        if log is None or log.closed:
            return
        log.closed = True
        log.closed_at = self._clock()
        log.wake()

    async def seal(self, key: str, kind: str, data: Any) -> bool:
        """Append a terminal event for an owner that is gone, and close; False if the log already ended."""
        log = self._logs.get(key)
        if log is None or log.closed or (log.kinds and log.kinds[-1] in TERMINAL_KINDS):
            return False
        log.add(kind, data)
        self.close(key)
        return True

    # --- readers -------------------------------------------------------------------------------------

    def owns(self, key: str) -> bool:
        """True while this process holds the log (an answer generated here)."""
        return key in self._logs

    def read_now(self, key: str, after: int) -> tuple[list[Event], bool]:
        """Events with id > ``after``, and whether the log has ended (nothing more will come)."""
        log = self._logs.get(key)
        if log is None:
            return [], True
        return log.after(max(after, 0)), log.closed

    def last_id_now(self, key: str) -> int:
        log = self._logs.get(key)
        return log.last_id if log else 0

    async def has(self, key: str) -> bool:
        return key in self._logs

    async def read(self, key: str, after: int) -> tuple[list[Event], bool]:
        return self.read_now(key, after)

    async def last_id(self, key: str) -> int:
        return self.last_id_now(key)

    async def wait(self, key: str, after: int, timeout: float) -> bool:
        """Wait until an event with id > ``after`` exists or the log ends; False on timeout."""
        log = self._logs.get(key)
        if log is None or log.closed or log.last_id > after:
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

    # --- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def _expire(self) -> None:
        now = self._clock()
        stale = [k for k, log in self._logs.items() if log.closed and now - log.closed_at > self._retention]
        for key in stale:
            del self._logs[key]

    def __len__(self) -> int:
        return len(self._logs)
