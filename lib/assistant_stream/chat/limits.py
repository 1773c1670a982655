"""Per-user limits on starting generations: concurrent answers, and starts in the last minute."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable

from ..core.errors import RateLimited, TooManyGenerations
from ..core.limits import START_WINDOW
from ..core.settings import Settings


class StartLimits:
    """Counts one user's running answers and recent starts; a clock is injected so tests need not wait."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._running: dict[str, int] = defaultdict(int)
        self._starts: dict[str, deque[float]] = defaultdict(deque)

    def check(self, user_id: str, settings: Settings, *, concurrency: bool = True) -> None:
        """RateLimited (with Retry-After) when ``user_id`` may not start another generation now."""
        if concurrency and self._running[user_id] >= max(1, settings.max_concurrent_per_user):
            raise TooManyGenerations(f"You already have {self._running[user_id]} answers being generated; "
                                     "wait for one to finish", retry_after=5)
        window = self._starts[user_id]
        now = self._clock()
        while window and now - window[0] > START_WINDOW:
            window.popleft()
        if settings.max_starts_per_minute and len(window) >= settings.max_starts_per_minute:
            raise RateLimited("Too many answers started in the last minute; try again shortly",
                              retry_after=START_WINDOW - (now - window[0]))

    def started(self, user_id: str, *, answer: bool) -> None:
        """Count a start (a title counts against the rate only, not against the concurrent answers)."""
        self._starts[user_id].append(self._clock())
        if answer:
            self._running[user_id] += 1

    def ended(self, user_id: str) -> None:
        """An answer of ``user_id`` has ended (its slot is free again)."""
        self._running[user_id] -= 1
        if self._running[user_id] <= 0:
            del self._running[user_id]

    def running(self, user_id: str) -> int:
        return self._running.get(user_id, 0)
