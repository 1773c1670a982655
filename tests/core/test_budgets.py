"""The budget format (core/budgets.py): parsing, which budgets apply to whom, periods and their resets."""

from __future__ import annotations

import datetime as dt

import pytest

from assistant_stream.core.budgets import (
    describe_reset,
    parse_budgets,
    period_bounds,
    timezone,
)

DOC = {"default": {"tokens": 1000, "period": "day"},
       "users": {"alice": {"tokens": 5000, "period": "month"}},
       "groups": {"students": {"tokens": 2000, "period": "day"}, "staff": {"tokens": 90000, "period": "month"},
                  "marketing": {"tokens": 10**6, "period": "month", "shared": True}}}


def test_a_users_own_budget_wins_then_the_most_generous_group_then_the_default() -> None:
    b = parse_budgets(DOC)
    assert b.problems == ()
    own = b.applicable("alice", ("students", "marketing"))
    assert [(x.kind, x.name, x.shared) for x in own] == [("user", "alice", False), ("group", "marketing", True)]
    # 2000 a day beats 90000 a month (3000 a day counted as 30 days): staff is the more generous
    assert b.applicable("bob", ("students", "staff"))[0].name == "staff"
    assert b.applicable("bob", ("students",))[0].name == "students"
    assert b.applicable("carol", ())[0].kind == "default"
    assert b.may_apply("anyone") and not parse_budgets("").may_apply("anyone")


def test_bad_entries_are_left_out_and_named_while_the_rest_apply() -> None:
    b = parse_budgets('{"users": {"alice": {"tokens": -1}, "bob": {"tokens": 10, "period": "week"},'
                      ' "carol": {"tokens": 10}}, "groups": {"g": {"tokens": 5, "shared": "yes"}}, "extra": 1}')
    assert list(b.users) == ["carol"] and b.users["carol"].period == "day" and not b.groups
    assert len(b.problems) == 4 and any("alice" in p for p in b.problems) and any("extra" in p for p in b.problems)
    assert parse_budgets("not json").problems == ("the value is not valid JSON",)
    assert parse_budgets("[1]").empty and parse_budgets("").problems == ()
    with pytest.raises(ValueError, match="period"):
        parse_budgets({"users": {"x": {"tokens": 1, "period": "year"}}}, strict=True)
    with pytest.raises(ValueError, match="shared"):
        parse_budgets({"users": {"x": {"tokens": 1, "shared": True}}}, strict=True)


def test_the_canonical_json_reads_back_the_same() -> None:
    b = parse_budgets(DOC)
    assert parse_budgets(b.to_json()) == b


def test_days_and_months_start_at_midnight_in_the_budget_time_zone() -> None:
    utc = timezone("UTC")
    t = dt.datetime(2025, 1, 31, 23, 30, tzinfo=dt.UTC).timestamp()
    assert period_bounds("day", t, utc) == ("2025-01-31", dt.datetime(2025, 2, 1, tzinfo=dt.UTC).timestamp())
    assert period_bounds("month", t, utc) == ("2025-01-01", dt.datetime(2025, 2, 1, tzinfo=dt.UTC).timestamp())
    berlin = timezone("Europe/Berlin")  # 00:30 on 1 February there
    start, reset = period_bounds("month", t, berlin)
    assert start == "2025-02-01" and describe_reset(reset, berlin) == "2025-03-01 00:00 CET"
    december = dt.datetime(2025, 12, 15, tzinfo=dt.UTC).timestamp()
    assert describe_reset(period_bounds("month", december, utc)[1], utc) == "2026-01-01 00:00 UTC"
    assert timezone("Not/AZone") is dt.UTC
