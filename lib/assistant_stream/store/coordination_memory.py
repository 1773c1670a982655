"""Coordination for one process: per-user limits, one answer per session, stop; nothing to share, no I/O."""

from __future__ import annotations

import secrets
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from ..core.errors import RateLimited, SessionBusy, TooManyGenerations

START_WINDOW = 60.0  # seconds over which max_starts_per_minute counts


class Busy(SessionBusy):
    """The session generates an answer already: ``current`` is its key (None while it is still starting)."""

    def __init__(self, current: str | None) -> None:
        super().__init__()
        self.current = current


def too_many(running: int) -> TooManyGenerations:
    return TooManyGenerations(f"You already have {running} answers being generated; wait for one to finish",
                              retry_after=5)


def too_fast(retry_after: float) -> RateLimited:
    return RateLimited("Too many answers started in the last minute; try again shortly",
                       retry_after=max(0.0, retry_after))


class MemoryCoordinator:
    """What ``RedisCoordinator`` does for many processes, for this one. Same contract (tests/test_coordination)."""

    shared = False  # nothing is shared: the app is one process

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.node = "local"
        self._clock = clock
        self._sessions: dict[int, str] = {}  # session id -> token, then event log key once bound
        self._running: dict[str, set[str]] = defaultdict(set)  # user -> tokens of running answers
        self._starts: dict[str, deque[tuple[float, str]]] = defaultdict(deque)
        self.on_stop: Callable[[str], None] | None = None
        self.on_lost: Callable[[str], None] | None = None
        self.on_reap: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def begin(self, user_id: str, *, session_id: int | None, max_concurrent: int,
                    max_starts: int) -> str:
        """Admit a start (limits, one answer per session) and return its token; raises SessionBusy (with the
        running answer's key as ``current``), TooManyGenerations or RateLimited.

        ``session_id`` None and ``max_concurrent`` 0 for a title: it counts against the start rate only.
        """
        if session_id is not None and session_id in self._sessions:
            current = self._sessions[session_id]
            raise Busy(None if current.startswith("~") else current)
        running = self._running.get(user_id, set())
        if max_concurrent > 0 and len(running) >= max_concurrent:
            raise too_many(len(running))
        token = "~" + secrets.token_hex(8)
        if max_starts > 0:
            window = self._starts[user_id]
            now = self._clock()
            while window and now - window[0][0] > START_WINDOW:
                window.popleft()
            if len(window) >= max_starts:
                raise too_fast(START_WINDOW - (now - window[0][0]))
            window.append((now, token))
        if session_id is not None:
            self._sessions[session_id] = token
        if max_concurrent > 0:
            self._running[user_id].add(token)
        return token

    def bind(self, token: str, key: str, *, user_id: str, session_id: int | None, message_id: int | None) -> None:
        """The admitted start now runs under ``key`` in this process."""
        if session_id is not None and self._sessions.get(session_id) == token:
            self._sessions[session_id] = key

    async def end(self, token: str, key: str | None, *, user_id: str, session_id: int | None,
                  started: bool = True) -> None:
        """The generation ended (or, ``started`` False, never started: its start is not counted either)."""
        if session_id is not None and self._sessions.get(session_id) in (token, key):
            del self._sessions[session_id]
        running = self._running.get(user_id)
        if running is not None:
            running.discard(token)
            if not running:
                del self._running[user_id]
        if not started:
            window = self._starts.get(user_id)
            if window:
                for item in list(window):
                    if item[1] == token:
                        window.remove(item)

    async def session_key(self, session_id: int) -> str | None:
        current = self._sessions.get(session_id)
        return None if current is None or current.startswith("~") else current

    async def request_stop(self, key: str) -> bool:
        """Ask the process running ``key`` to stop it; False when that is this one (or nobody)."""
        return False

    async def is_live(self, keys: list[str]) -> list[bool]:
        live = set(self._sessions.values())
        return [k in live for k in keys]

    async def try_lock(self, name: str, seconds: float) -> bool:
        return True

    def running(self, user_id: str) -> int:
        return len(self._running.get(user_id, ()))
