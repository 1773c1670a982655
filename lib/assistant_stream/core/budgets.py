"""Token budgets: the documented JSON format (app config key ``budgets``), which apply to a user, their periods.

    {"default": {"tokens": 50000, "period": "day"},
     "users":   {"alice": {"tokens": 200000, "period": "month"}},
     "groups":  {"students":  {"tokens": 20000, "period": "day"},
                 "marketing": {"tokens": 2000000, "period": "month", "shared": true}}}

A user's own budget is ``users[user]``; without one, the most generous per-member budget of their groups
(compared per day, a month counting as 30 days); without that, ``default``. A ``shared`` group budget is
one pool for all members together and applies in addition. Tokens are prompt plus completion tokens.
Periods are calendar days and months in the ``budget_timezone`` setting (docs/configuration.md "Budgets").
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

Period = Literal["day", "month"]
Kind = Literal["user", "group", "default"]
PERIODS: tuple[Period, ...] = ("day", "month")
MAX_BUDGET_TOKENS = 10**12
MAX_BUDGET_ENTRIES = 10_000
MAX_NAME = 256  # user and group ids are String(256) in Nextcloud


@dataclass(frozen=True, slots=True)
class Budget:
    kind: Kind
    name: str  # the user or group id ("" for the default)
    tokens: int
    period: Period
    shared: bool = False  # a group's pool for all its members together

    @property
    def per_day(self) -> float:
        return self.tokens / (1 if self.period == "day" else 30)

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tokens": self.tokens, "period": self.period}
        if self.shared:
            out["shared"] = True
        return out


@dataclass(frozen=True, slots=True)
class Budgets:
    default: Budget | None = None
    users: dict[str, Budget] = field(default_factory=dict)
    groups: dict[str, Budget] = field(default_factory=dict)
    problems: tuple[str, ...] = ()  # entries that were left out, and why (shown to admins)

    @property
    def empty(self) -> bool:
        return self.default is None and not self.users and not self.groups

    def may_apply(self, user: str) -> bool:
        """Whether any budget can apply to ``user`` before their groups are known."""
        return bool(self.groups) or self.default is not None or user in self.users

    def applicable(self, user: str, groups: tuple[str, ...]) -> list[Budget]:
        """The budgets that limit ``user`` (a member of ``groups``): their own one, then shared pools."""
        own = self.users.get(user)
        if own is None:
            members = [b for g in groups if (b := self.groups.get(g)) is not None and not b.shared]
            own = max(members, key=lambda b: b.per_day) if members else self.default
        pools = [b for g in groups if (b := self.groups.get(g)) is not None and b.shared]
        return ([own] if own is not None else []) + pools

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"users": {n: b.public() for n, b in self.users.items()},
                               "groups": {n: b.public() for n, b in self.groups.items()}}
        if self.default is not None:
            out["default"] = self.default.public()
        return out


def _entry(kind: Kind, name: str, value: Any) -> Budget:
    """One budget as the admin wrote it; ValueError says what is wrong with it."""
    where = "default" if kind == "default" else f"{kind} {name!r}"
    if kind != "default" and (not name or len(name) > MAX_NAME):
        raise ValueError(f"{where}: the id must be 1 to {MAX_NAME} characters")
    if not isinstance(value, dict):
        raise ValueError(f'{where}: must be an object like {{"tokens": 50000, "period": "day"}}')
    unknown = set(value) - {"tokens", "period", "shared"}
    if unknown:
        raise ValueError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    tokens = value.get("tokens")
    if isinstance(tokens, bool) or not isinstance(tokens, int) or not 0 <= tokens <= MAX_BUDGET_TOKENS:
        raise ValueError(f"{where}: tokens must be a whole number from 0 to {MAX_BUDGET_TOKENS}")
    period = value.get("period", "day")
    if period not in PERIODS:
        raise ValueError(f'{where}: period must be "day" or "month"')
    shared = value.get("shared", False)
    if not isinstance(shared, bool) or (shared and kind != "group"):
        raise ValueError(f"{where}: shared must be true or false, and only a group's budget can be shared")
    return Budget(kind, name, tokens, period, shared)


def parse_budgets(raw: str | dict[str, Any], *, strict: bool = False) -> Budgets:
    """Budgets from their JSON. Lenient by default: a bad entry is left out and named in ``problems`` (the
    others still apply); ``strict`` raises ValueError with every problem instead (what the admin routes do)."""
    problems: list[str] = []
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        data, problems = {}, ["the value is not valid JSON"]
    if isinstance(raw, str) and not raw.strip():
        data, problems = {}, []
    if not isinstance(data, dict):
        data, problems = {}, ['the value must be a JSON object with "users", "groups" and "default"']
    problems += [f"unknown key {k!r}" for k in data if k not in ("users", "groups", "default")]
    found: dict[str, dict[str, Budget]] = {"users": {}, "groups": {}}
    for key, kind in (("users", "user"), ("groups", "group")):
        entries = data.get(key, {})
        if not isinstance(entries, dict) or len(entries) > MAX_BUDGET_ENTRIES:
            problems.append(f"{key} must be an object of at most {MAX_BUDGET_ENTRIES} entries")
            continue
        for name, value in entries.items():
            try:
                found[key][name] = _entry(kind, name, value)  # type: ignore[arg-type]
            except ValueError as exc:
                problems.append(str(exc))
    default = None
    if data.get("default") is not None:
        try:
            default = _entry("default", "", data["default"])
        except ValueError as exc:
            problems.append(str(exc))
    if strict and problems:
        raise ValueError("; ".join(problems))
    return Budgets(default, found["users"], found["groups"], tuple(problems))


def timezone(name: str) -> dt.tzinfo:
    """The budget_timezone setting; UTC when it names no zone this system knows."""
    if not name or name.upper() == "UTC":
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("budget_timezone %r is not a known time zone; budgets use UTC", name[:64])
        return dt.UTC


def day_of(now: float, tz: dt.tzinfo) -> str:
    """The calendar day (YYYY-MM-DD) that usage at ``now`` (Unix seconds) counts for."""
    return dt.datetime.fromtimestamp(now, tz).date().isoformat()


def period_bounds(period: Period, now: float, tz: dt.tzinfo) -> tuple[str, float]:
    """(first day of the period containing ``now``, the moment the next one starts, in Unix seconds)."""
    today = dt.datetime.fromtimestamp(now, tz).date()
    if period == "day":
        start, nxt = today, today + dt.timedelta(days=1)
    else:
        start = today.replace(day=1)
        nxt = (start + dt.timedelta(days=32)).replace(day=1)
    reset = dt.datetime.combine(nxt, dt.time(), tzinfo=tz).timestamp()
    return start.isoformat(), reset


def describe_reset(reset: float, tz: dt.tzinfo) -> str:
    """How a refusal names the reset: local time of the budget's zone, with the zone."""
    moment = dt.datetime.fromtimestamp(reset, tz)
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname() or 'UTC'}"
