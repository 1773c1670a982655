"""BudgetGuard (chat/budgets.py): refusal with the reset time, and the reset itself, on an injected clock."""

from __future__ import annotations

import datetime as dt

import pytest

from assistant_stream.chat.budgets import BudgetGuard
from assistant_stream.core.errors import BudgetExceeded
from assistant_stream.core.settings import Settings
from assistant_stream.store.storage import Storage
from assistant_stream.store.usage import Accounting
from tests.support.clock import FakeClock

NOON = dt.datetime(2025, 3, 10, 12, 0, tzinfo=dt.UTC).timestamp()


def settings(budgets: str, tz: str = "UTC") -> Settings:
    return Settings(budgets=budgets, budget_timezone=tz)


async def use(storage: Storage, user: str, tokens: int, day: str = "2025-03-10",
              groups: tuple[str, ...] = ()) -> None:
    await storage.add_usage(Accounting(user, groups, "m", day, tokens, 0, False))


async def test_refused_until_the_day_resets_then_allowed_again(storage: Storage) -> None:
    clock = FakeClock(NOON)
    guard = BudgetGuard(storage, None, clock=clock)
    daily = settings('{"users": {"alice": {"tokens": 100, "period": "day"}}}')
    await use(storage, "alice", 60)
    await guard.check("alice", daily)  # 60 of 100
    await use(storage, "alice", 40)
    guard.forget("alice")  # what the meter does once it counted an answer
    with pytest.raises(BudgetExceeded) as refused:
        await guard.check("alice", daily)
    assert refused.value.status == 429 and refused.value.code == "budget_exceeded"
    assert "for today (100 tokens). It resets at 2025-03-11 00:00 UTC." in refused.value.message
    assert refused.value.retry_after == 12 * 3600
    await guard.check("bob", daily)  # no budget: never refused
    clock.advance(12 * 3600)  # midnight: a new day, nothing used yet
    await guard.check("alice", daily)
    [state] = await guard.states("alice", daily)
    assert (state.used, state.remaining) == (0, 100)


async def test_a_month_in_the_budget_time_zone(storage: Storage) -> None:
    clock = FakeClock(dt.datetime(2025, 3, 31, 23, 30, tzinfo=dt.UTC).timestamp())  # 01:30 on 1 April in Berlin
    guard = BudgetGuard(storage, None, clock=clock)
    monthly = settings('{"default": {"tokens": 50, "period": "month"}}', "Europe/Berlin")
    await use(storage, "carol", 50, day="2025-03-31")  # March there: does not count for April
    await guard.check("carol", monthly)
    await use(storage, "carol", 50, day="2025-04-01")
    guard.forget("carol")
    with pytest.raises(BudgetExceeded, match=r"this month .* It resets at 2025-05-01 00:00 CEST"):
        await guard.check("carol", monthly)


async def test_groups_decide_the_per_member_budget_and_share_a_pool(storage: Storage) -> None:
    groups = {"alice": ("students", "lab"), "bob": ("students",)}

    async def groups_of(user: str) -> tuple[str, ...]:
        return groups.get(user, ())

    guard = BudgetGuard(storage, groups_of, clock=FakeClock(NOON))
    s = settings('{"groups": {"students": {"tokens": 10, "period": "day"},'
                 ' "lab": {"tokens": 30, "period": "day", "shared": true}}}')
    await use(storage, "bob", 10, groups=groups["bob"])
    with pytest.raises(BudgetExceeded, match="You have used your token budget"):
        await guard.check("bob", s)
    await use(storage, "alice", 9, groups=groups["alice"])
    await guard.check("alice", s)
    await use(storage, "dave", 21, groups=("lab",))  # another member drains the pool
    guard.forget("alice")
    with pytest.raises(BudgetExceeded, match='The group "lab" has used its shared token budget'):
        await guard.check("alice", s)
    assert [(x.budget.name, x.used) for x in await guard.states("alice", s)] == [("students", 9), ("lab", 30)]
