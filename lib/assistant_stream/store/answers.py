"""Answers as generations write them: the history sent to a model, progress, the final state, restarts."""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.limits import MAX_ID
from ..core.text import clean_text
from .database import Database
from .messages import MESSAGE_COLS, message_by_id
from .models import FINAL_STATUSES, messages, sessions
from .values import Record, int_value, now, record


class AnswerQueries(Database):
    """Bookkeeping of generations: by message id, without user scope (the caller checked it)."""

    async def history(self, session_id: int, before_message_id: int, limit: int) -> list[tuple[str, str]]:
        """What the model is sent: the newest ``limit`` usable messages before an id, oldest first."""
        limit = int_value(limit, "limit", 0, MAX_ID)

        async def run(conn: AsyncConnection) -> list[tuple[str, str]]:
            # Failed or still-running answers and empty ones would only confuse the model.
            usable = or_(messages.c.role == "human", and_(
                messages.c.role == "assistant", messages.c.status.in_(("done", "cancelled", "interrupted")),
                messages.c.content != ""))
            rows = await conn.execute(
                select(messages.c.role, messages.c.content)
                .where(messages.c.session_id == session_id, messages.c.id < before_message_id, usable)
                .order_by(messages.c.id.desc()).limit(limit))
            return [(r.role, r.content) for r in reversed(rows.all())]

        return await self.run(run, write=False)

    async def history_messages(self, session_id: int, before_message_id: int, limit: int
                               ) -> list[tuple[int, str, str]]:
        """history() with each message's id: (id, role, content), oldest first."""
        limit = int_value(limit, "limit", 0, MAX_ID)

        async def run(conn: AsyncConnection) -> list[tuple[int, str, str]]:
            usable = or_(messages.c.role == "human", and_(
                messages.c.role == "assistant", messages.c.status.in_(("done", "cancelled", "interrupted")),
                messages.c.content != ""))
            rows = await conn.execute(
                select(messages.c.id, messages.c.role, messages.c.content)
                .where(messages.c.session_id == session_id, messages.c.id < before_message_id, usable)
                .order_by(messages.c.id.desc()).limit(limit))
            return [(r.id, r.role, r.content) for r in reversed(rows.all())]

        return await self.run(run, write=False)

    async def generating_message(self, session_id: int) -> Record | None:
        async def run(conn: AsyncConnection) -> Record | None:
            return record((await conn.execute(select(*MESSAGE_COLS).where(
                messages.c.session_id == session_id, messages.c.status == "generating")
                .order_by(messages.c.id.desc()).limit(1))).first())

        return await self.run(run, write=False)

    async def count_generating(self, user_id: str) -> int:
        async def run(conn: AsyncConnection) -> int:
            return int((await conn.execute(
                select(func.count())
                .select_from(messages.join(sessions, sessions.c.id == messages.c.session_id))
                .where(sessions.c.user_id == user_id, messages.c.status == "generating"))).scalar_one())

        return await self.run(run, write=False)

    async def save_progress(self, message_id: int, content: str, reasoning: str) -> None:
        """Checkpoint a running answer; a no-op once the message is deleted or finished."""
        async def run(conn: AsyncConnection) -> None:
            await conn.execute(update(messages).where(
                messages.c.id == message_id, messages.c.status == "generating",
            ).values(content=clean_text(content), reasoning=clean_text(reasoning), updated_at=now()))

        await self.run(run, write=True)

    async def finish_message(self, message_id: int, *, status: str, content: str, reasoning: str,
                             finish_reason: str | None = None, error: str | None = None,
                             error_code: str | None = None, prompt_tokens: int | None = None,
                             completion_tokens: int | None = None, total_tokens: int | None = None,
                             tokens_per_second: float | None = None, sources: str | None = None
                             ) -> Record | None:
        """Store the final state of an answer; None if it was deleted meanwhile."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"finish_message: status must be one of {FINAL_STATUSES}, not {status!r}")
        values = {
            "status": status, "content": clean_text(content), "reasoning": clean_text(reasoning),
            "finish_reason": finish_reason, "error": None if error is None else clean_text(error),
            "error_code": error_code, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": total_tokens, "tokens_per_second": tokens_per_second, "updated_at": now(),
        }
        if sources is not None:
            values["sources"] = sources

        async def run(conn: AsyncConnection) -> Record | None:
            await conn.execute(update(messages).where(messages.c.id == message_id).values(**values))
            return await message_by_id(conn, message_id)

        return await self.run(run, write=True)

    async def mark_interrupted(self) -> int:
        """At start-up: answers a previous process left ``generating`` become ``interrupted``, text kept."""
        async def run(conn: AsyncConnection) -> int:
            result = await conn.execute(update(messages).where(messages.c.status == "generating")
                                        .values(status="interrupted", updated_at=now()))
            return int(result.rowcount or 0)

        return await self.run(run, write=True)

    async def get_message_by_id(self, message_id: int) -> Record | None:
        """Internal lookup without user scope (generation bookkeeping only)."""
        async def run(conn: AsyncConnection) -> Record | None:
            return await message_by_id(conn, message_id)

        return await self.run(run, write=False)
