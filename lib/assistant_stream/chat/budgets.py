"""BudgetGuard: refuses a start over a token budget before any provider request, and tells users what remains.

The check costs nothing when no budget can apply to the user, and otherwise one indexed read (store/usage.py
``spent``), reused for ``CACHE_TTL`` seconds per user and dropped as soon as this process counts an answer of
theirs. Another process's answers are seen within those seconds: a budget can be overdrawn by the answers
running when it runs out and by what other processes count meanwhile, never by a new start after that.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..core.budgets import Budget, Budgets, describe_reset, parse_budgets, period_bounds, timezone
from ..core.errors import AppError, BudgetExceeded
from ..core.settings import Settings

log = logging.getLogger(__name__)

CACHE_TTL = 2.0  # seconds a user's spent tokens are reused by this process
GroupsOf = Callable[[str], Awaitable[tuple[str, ...]]]  # a user's Nextcloud groups


class SpentStore(Protocol):
    async def spent(self, user_id: str, groups: Sequence[str], since: str
                    ) -> dict[tuple[str, str], dict[str, int]]: ...


@dataclass(frozen=True, slots=True)
class BudgetState:
    budget: Budget
    used: int
    resets_at: float  # Unix seconds

    @property
    def remaining(self) -> int:
        return max(0, self.budget.tokens - self.used)

    def public(self) -> dict[str, object]:
        b = self.budget
        return {"kind": "group" if b.shared else "user", "source": b.kind, "name": b.name, "period": b.period,
                "tokens": b.tokens, "used": self.used, "remaining": self.remaining, "resetsAt": int(self.resets_at)}


def _parsed(raw: str, memo: dict[str, Budgets]) -> Budgets:
    if raw not in memo:
        memo.clear()
        memo[raw] = budgets = parse_budgets(raw)
        for problem in budgets.problems:
            log.warning("Token budgets: %s (that entry is not applied)", problem)
    return memo[raw]


class BudgetGuard:
    def __init__(self, storage: SpentStore, groups_of: GroupsOf | None, *,
                 clock: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._storage = storage
        self._groups_of = groups_of
        self._clock = clock  # wall time: periods are calendar days and months
        self._monotonic = monotonic
        self._memo: dict[str, Budgets] = {}
        self._spent: dict[str, tuple[float, str, dict[tuple[str, str], dict[str, int]]]] = {}

    def budgets(self, settings: Settings) -> Budgets:
        return _parsed(settings.budgets, self._memo)

    async def groups(self, user: str) -> tuple[str, ...]:
        """The user's Nextcloud groups; () when there is no Nextcloud or it cannot tell (logged)."""
        if self._groups_of is None:
            return ()
        try:
            return await self._groups_of(user)
        except (AppError, OSError, TimeoutError) as exc:
            log.warning("Could not read the groups of a user for token budgets (%s)", type(exc).__name__)
            return ()

    def forget(self, user: str) -> None:
        """This process counted an answer of ``user``: the next check reads the database."""
        self._spent.pop(user, None)

    async def states(self, user: str, settings: Settings) -> list[BudgetState]:
        """Every budget that applies to ``user`` now, with what is used of it."""
        budgets = self.budgets(settings)
        if budgets.empty or not budgets.may_apply(user):
            return []
        groups = await self.groups(user) if budgets.groups else ()
        applicable = budgets.applicable(user, groups)
        if not applicable:
            return []
        tz, now = timezone(settings.budget_timezone), self._clock()
        bounds = {b: period_bounds(b.period, now, tz) for b in applicable}
        since = min(start for start, _reset in bounds.values())
        spent = await self._read(user, [b.name for b in applicable if b.shared], since)
        states = []
        for b in applicable:
            start, reset = bounds[b]
            days = spent.get(("group", b.name) if b.shared else ("user", user), {})
            states.append(BudgetState(b, sum(t for day, t in days.items() if day >= start), reset))
        return states

    async def check(self, user: str, settings: Settings) -> None:
        """BudgetExceeded (429, Retry-After: until the reset) when a budget of ``user`` is used up."""
        spent = [s for s in await self.states(user, settings) if s.remaining <= 0]
        if not spent:
            return
        last = max(spent, key=lambda s: s.resets_at)  # a start is possible again only once all have reset
        when = describe_reset(last.resets_at, timezone(settings.budget_timezone))
        b = last.budget
        span = "today" if b.period == "day" else "this month"
        if b.shared:
            message = (f'The group "{b.name}" has used its shared token budget for {span} ({b.tokens:,} tokens). '
                       f"It resets at {when}.")
        else:
            message = f"You have used your token budget for {span} ({b.tokens:,} tokens). It resets at {when}."
        raise BudgetExceeded(message, retry_after=max(1.0, last.resets_at - self._clock()))

    async def _read(self, user: str, pools: list[str], since: str) -> dict[tuple[str, str], dict[str, int]]:
        cached = self._spent.get(user)
        key = since + "|" + ",".join(sorted(pools))
        if cached is not None and cached[0] > self._monotonic() and cached[1] == key:
            return cached[2]
        spent = await self._storage.spent(user, pools, since)
        if len(self._spent) > 10_000:
            with contextlib.suppress(KeyError):
                del self._spent[next(iter(self._spent))]
        self._spent[user] = (self._monotonic() + CACHE_TTL, key, spent)
        return spent
