"""What the service is doing, read from the database (so every process's answers are seen): answers generating
now, recent failures by code, and each engine and model's recent outcomes (the provider's health)."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from .database import Database
from .models import messages, sessions
from .values import Record

MAX_RUNNING = 200  # rows of the "running now" list


class ActivityQueries(Database):
    async def running(self) -> list[Record]:
        """Answers generating now (in any process), oldest first, with their text's length so far."""
        async def run(conn: AsyncConnection) -> list[Record]:
            rows = await conn.execute(
                select(messages.c.id, messages.c.session_id, sessions.c.user_id, messages.c.model,
                       messages.c.engine, messages.c.created_at, messages.c.updated_at,
                       func.length(messages.c.content).label("chars"))
                .join(sessions, sessions.c.id == messages.c.session_id)
                .where(messages.c.status == "generating").order_by(messages.c.id).limit(MAX_RUNNING))
            return [dict(r._mapping) for r in rows]

        return await self.run(run, write=False)

    async def errors_since(self, since: int) -> list[Record]:
        """Failed answers since ``since`` (Unix seconds) by code: how many, when last, the last message."""
        async def run(conn: AsyncConnection) -> list[Record]:
            failed = (messages.c.status == "error", messages.c.updated_at >= since)
            rows = await conn.execute(
                select(messages.c.error_code.label("code"), func.count().label("count"),
                       func.max(messages.c.updated_at).label("last_at"), func.max(messages.c.id).label("last_id"))
                .where(*failed).group_by(messages.c.error_code).order_by(func.count().desc()))
            out = [dict(r._mapping) for r in rows]
            last = {r.id: r.error for r in await conn.execute(
                select(messages.c.id, messages.c.error).where(messages.c.id.in_([o["last_id"] for o in out])))}
            for o in out:
                o["code"] = o["code"] or "generation_failed"
                o["last_message"] = last.get(o.pop("last_id"))
            return out

        return await self.run(run, write=False)

    async def outcomes_since(self, since: int) -> list[Record]:
        """Per engine and model since ``since``: answers that ended well and that failed, and when each last did."""
        ok = messages.c.status.in_(("done", "cancelled"))
        bad = messages.c.status == "error"

        async def run(conn: AsyncConnection) -> list[Record]:
            rows = await conn.execute(
                select(messages.c.engine, messages.c.model,
                       func.sum(case((ok, 1), else_=0)).label("ok"), func.sum(case((bad, 1), else_=0)).label("failed"),
                       func.max(case((ok, messages.c.updated_at))).label("last_ok_at"),
                       func.max(case((bad, messages.c.updated_at))).label("last_failed_at"))
                .where(messages.c.role == "assistant", messages.c.updated_at >= since, ok | bad)
                .group_by(messages.c.engine, messages.c.model))
            return [{**r._mapping, "ok": int(r.ok or 0), "failed": int(r.failed or 0)} for r in rows]

        return await self.run(run, write=False)
