"""Token usage: counted per user, group, model and day with the answer's final save; read for budgets and reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Table, func, literal, select, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from .database import Database
from .models import USAGE_SUMS, group_usage, usage
from .values import Record

By = Literal["user", "group", "model"]
MAX_GROUPS = 500  # groups of one user counted (and read for budgets); more is a misconfiguration


@dataclass(frozen=True, slots=True)
class Accounting:
    """One answer's (or title's) usage as it is counted: whose, which model, which day, how many tokens."""

    user_id: str
    groups: tuple[str, ...]
    model: str
    day: str  # YYYY-MM-DD in budget_timezone
    prompt_tokens: int
    completion_tokens: int
    estimated: bool  # the provider reported no usage

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


async def _add(conn: AsyncConnection, table: Table, owner: str, entry: Accounting) -> None:
    """Add to the row of (owner, day, model), creating it: one atomic statement, safe across processes."""
    insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    values = {"prompt_tokens": entry.prompt_tokens, "completion_tokens": entry.completion_tokens,
              "answers": 1, "estimated": int(entry.estimated)}
    owner_col = table.c[0].name
    stmt = insert(table).values({owner_col: owner, "day": entry.day, "model": entry.model[:256], **values})
    stmt = stmt.on_conflict_do_update(index_elements=[owner_col, "day", "model"],
                                      set_={col: table.c[col] + stmt.excluded[col] for col in USAGE_SUMS})
    await conn.execute(stmt)


async def account(conn: AsyncConnection, entry: Accounting) -> None:
    """Count ``entry`` for its user and each of their groups (inside the caller's transaction)."""
    await _add(conn, usage, entry.user_id, entry)
    for group in sorted(set(entry.groups))[:MAX_GROUPS]:
        await _add(conn, group_usage, group, entry)


class UsageQueries(Database):
    async def add_usage(self, entry: Accounting) -> None:
        """Count usage that has no answer row to finish (a title)."""
        async def run(conn: AsyncConnection) -> None:
            await account(conn, entry)

        await self.run(run, write=True)

    async def spent(self, user_id: str, groups: Sequence[str], since: str) -> dict[tuple[str, str], dict[str, int]]:
        """Tokens used from day ``since`` on, by day: {("user", user_id) | ("group", id): {day: tokens}}.

        One statement (the budget check's only read), on the primary keys (owner, day, model)."""
        def part(table: Table, kind: str, owners: Sequence[str]) -> Any:
            owner = table.c[0]
            return (select(literal(kind).label("kind"), owner.label("owner"), table.c.day,
                           func.sum(table.c.prompt_tokens + table.c.completion_tokens).label("tokens"))
                    .where(owner.in_(list(owners)), table.c.day >= since).group_by(owner, table.c.day))

        async def run(conn: AsyncConnection) -> dict[tuple[str, str], dict[str, int]]:
            parts = [part(usage, "user", [user_id])]
            if groups:
                parts.append(part(group_usage, "group", list(groups)[:MAX_GROUPS]))
            out: dict[tuple[str, str], dict[str, int]] = {}
            for row in await conn.execute(union_all(*parts) if len(parts) > 1 else parts[0]):
                out.setdefault((row.kind, row.owner), {})[row.day] = int(row.tokens or 0)
            return out

        return await self.run(run, write=False)

    async def usage_report(self, since: str, until: str, by: By) -> list[Record]:
        """Sums per day and user, group or model, oldest first (the admin page's plot and CSV)."""
        table = group_usage if by == "group" else usage
        key = {"user": usage.c.user_id, "group": group_usage.c.group_id, "model": usage.c.model}[by]

        async def run(conn: AsyncConnection) -> list[Record]:
            rows = await conn.execute(
                select(table.c.day, key.label("key"), *(func.sum(table.c[c]).label(c) for c in USAGE_SUMS))
                .where(table.c.day >= since, table.c.day <= until)
                .group_by(table.c.day, key).order_by(table.c.day, key))
            return [{**row._mapping, **{c: int(row._mapping[c] or 0) for c in USAGE_SUMS}} for row in rows]

        return await self.run(run, write=False)

    async def totals_since(self, since: str, users: Sequence[str], groups: Sequence[str]
                           ) -> dict[tuple[str, str], dict[str, int]]:
        """spent() for several users and groups at once (the admin's budget overview)."""
        async def run(conn: AsyncConnection) -> dict[tuple[str, str], dict[str, int]]:
            out: dict[tuple[str, str], dict[str, int]] = {}
            for kind, table, owners in (("user", usage, users), ("group", group_usage, groups)):
                if not owners:
                    continue
                owner = table.c[0]
                rows = await conn.execute(
                    select(owner.label("owner"), table.c.day,
                           func.sum(table.c.prompt_tokens + table.c.completion_tokens).label("tokens"))
                    .where(owner.in_(list(owners)), table.c.day >= since).group_by(owner, table.c.day))
                for row in rows:
                    out.setdefault((kind, row.owner), {})[row.day] = int(row.tokens or 0)
            return out

        return await self.run(run, write=False)
