"""AdminService: what the admin view shows and changes: usage over time (and as CSV), activity, budgets, audit."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..core.budgets import parse_budgets, period_bounds, timezone
from ..core.config_store import ConfigStore
from ..core.errors import InvalidParameter
from ..store.usage import By
from ..store.values import Record
from .audit import SettingsAudit
from .budgets import BudgetGuard, BudgetState

MAX_DAYS = 366  # the longest usage report
ERROR_WINDOW = 24 * 3600  # seconds of failures the activity shows
HEALTH_WINDOW = 3600  # seconds of outcomes the provider health is judged on
CSV_FIELDS = ("day", "key", "prompt_tokens", "completion_tokens", "total_tokens", "answers", "estimated")


class AdminStore(Protocol):
    async def usage_report(self, since: str, until: str, by: By) -> list[Record]: ...

    async def totals_since(self, since: str, users: Sequence[str], groups: Sequence[str]
                           ) -> dict[tuple[str, str], dict[str, int]]: ...

    async def running(self) -> list[Record]: ...

    async def errors_since(self, since: int) -> list[Record]: ...

    async def outcomes_since(self, since: int) -> list[Record]: ...


class AdminService:
    def __init__(self, *, storage: AdminStore, config: ConfigStore, guard: BudgetGuard, audit: SettingsAudit,
                 clock: Callable[[], float] = time.time) -> None:
        self._storage = storage
        self._config = config
        self._guard = guard
        self.audit = audit
        self._clock = clock

    async def budget_states(self, user: str) -> list[BudgetState]:
        """The token budgets that limit ``user`` now, with what remains of each (for the user themselves)."""
        return await self._guard.states(user, await self._config.get())

    # --- usage --------------------------------------------------------------------------------------

    async def _days(self, days: int) -> tuple[str, str]:
        if not 1 <= days <= MAX_DAYS:
            raise InvalidParameter(f"days must be from 1 to {MAX_DAYS}")
        today = dt.datetime.fromtimestamp(self._clock(), timezone((await self._config.get()).budget_timezone)).date()
        return (today - dt.timedelta(days=days - 1)).isoformat(), today.isoformat()

    async def usage(self, days: int, by: By) -> dict[str, Any]:
        """Tokens per day for each user, group or model over the last ``days`` days (today included)."""
        since, until = await self._days(days)
        rows = await self._storage.usage_report(since, until, by)
        series: dict[str, dict[str, Any]] = {}
        for row in rows:
            s = series.setdefault(row["key"], {"key": row["key"], "prompt_tokens": 0, "completion_tokens": 0,
                                               "answers": 0, "estimated": 0, "days": {}})
            for col in ("prompt_tokens", "completion_tokens", "answers", "estimated"):
                s[col] += row[col]
            s["days"][row["day"]] = row["prompt_tokens"] + row["completion_tokens"]
        ordered = sorted(series.values(), key=lambda s: -(s["prompt_tokens"] + s["completion_tokens"]))
        first = dt.date.fromisoformat(since)
        return {"by": by, "since": since, "until": until,
                "days": [(first + dt.timedelta(days=i)).isoformat() for i in range(days)], "series": ordered}

    async def usage_csv(self, days: int, by: By) -> str:
        since, until = await self._days(days)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([by if f == "key" else f for f in CSV_FIELDS])
        for row in await self._storage.usage_report(since, until, by):
            writer.writerow([row["day"], _cell(row["key"]), row["prompt_tokens"], row["completion_tokens"],
                             row["prompt_tokens"] + row["completion_tokens"], row["answers"], row["estimated"]])
        return out.getvalue()

    # --- activity -----------------------------------------------------------------------------------

    async def activity(self) -> dict[str, Any]:
        now = int(self._clock())
        running = [{**r, "runningFor": max(0, now - int(r["created_at"]))} for r in await self._storage.running()]
        return {"running": running, "errors": await self._storage.errors_since(now - ERROR_WINDOW),
                "errorWindow": ERROR_WINDOW, "outcomes": await self._storage.outcomes_since(now - HEALTH_WINDOW),
                "healthWindow": HEALTH_WINDOW}

    # --- budgets ------------------------------------------------------------------------------------

    async def budgets(self) -> dict[str, Any]:
        """The budgets as configured (with any entry left out and why), and what is used of each now."""
        settings = await self._config.get()
        budgets = self._guard.budgets(settings)
        tz, now = timezone(settings.budget_timezone), self._clock()
        month_start = period_bounds("month", now, tz)[0]
        pools = [name for name, b in budgets.groups.items() if b.shared]
        spent = await self._storage.totals_since(month_start, list(budgets.users), pools)
        used = []
        for b in [*budgets.users.values(), *(budgets.groups[name] for name in pools)]:
            start, reset = period_bounds(b.period, now, tz)
            days = spent.get(("group" if b.shared else "user", b.name), {})
            used.append({"kind": b.kind, "name": b.name, "used": sum(t for d, t in days.items() if d >= start),
                         "tokens": b.tokens, "period": b.period, "resetsAt": int(reset)})
        return {"budgets": budgets.to_json(), "problems": list(budgets.problems), "raw": settings.budgets,
                "timezone": settings.budget_timezone, "source": settings.sources.get("budgets", "default"),
                "used": used}

    async def save_budgets(self, actor: str, value: Any, tz_name: str | None) -> dict[str, Any]:
        """Replace the budgets (and their time zone); refused whole when any entry is wrong. Audited."""
        try:
            budgets = parse_budgets(value if isinstance(value, dict) else {}, strict=True)
        except ValueError as exc:
            raise InvalidParameter(f"The budgets are not valid: {exc}") from exc
        if not isinstance(value, dict):
            raise InvalidParameter('budgets must be an object with "users", "groups" and "default"')
        settings = await self._config.get()
        changes = {"budgets": json.dumps(budgets.to_json(), separators=(",", ":"), sort_keys=True)}
        if tz_name is not None and tz_name != settings.budget_timezone:
            if tz_name != "UTC" and timezone(tz_name) is dt.UTC:
                raise InvalidParameter("timezone must be an IANA time zone such as Europe/Berlin, or UTC")
            changes["budget_timezone"] = tz_name
        for key, new in changes.items():
            if settings.sources.get(key) == "env":
                raise InvalidParameter(f"{key} is set by the environment variable {key.upper()}, which wins")
            old = getattr(settings, key)
            if new == old:
                continue
            try:
                await self._config.set(key, new)
            except RuntimeError:  # local mode without Nextcloud: there is no app config to write
                raise InvalidParameter(f"Without Nextcloud there is no app config: set {key.upper()} in the "
                                       "environment instead") from None
            await self.audit.record(actor, "budgets changed" if key == "budgets" else "setting changed", key,
                                    old or None, new)
        return await self.budgets()


def _cell(value: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (a user id may start with = or @)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
