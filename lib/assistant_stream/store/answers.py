"""Answers as generations write them: the history sent to a model, progress, the final state, restarts."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.errors import MessageNotFound, NotFound
from ..core.limits import MAX_ID
from ..core.text import clean_text
from .database import Database
from .messages import MESSAGE_COLS, message_by_id, scoped
from .models import FINAL_STATUSES, attachments, messages, sessions
from .sessions import session_of
from .usage import Accounting, account
from .values import Record, id_value, int_value, now, record


@dataclass(frozen=True, slots=True)
class AnswerStart:
    """What ``start_answer`` found or made: the answer already there, or the new one with what its prompt
    is made of (history rows with their ids, the files attached to them, without image bytes)."""

    human: Record
    existing: Record | None  # the newest answer to ``human``, when there is one (then nothing was inserted)
    message: Record | None  # the new assistant message (status generating)
    history: list[tuple[int, str, str]]  # (id, role, content), oldest first
    attached: dict[int, list[Record]] = field(default_factory=dict)  # by message id


async def _history(conn: AsyncConnection, session_id: int, before_message_id: int, limit: int
                   ) -> list[tuple[int, str, str]]:
    # Failed or still-running answers and empty ones would only confuse the model.
    usable = or_(messages.c.role == "human", and_(
        messages.c.role == "assistant", messages.c.status.in_(("done", "cancelled", "interrupted")),
        messages.c.content != ""))
    rows = await conn.execute(
        select(messages.c.id, messages.c.role, messages.c.content)
        .where(messages.c.session_id == session_id, messages.c.id < before_message_id, usable)
        .order_by(messages.c.id.desc()).limit(limit))
    return [(r.id, r.role, r.content) for r in reversed(rows.all())]


async def _attached(conn: AsyncConnection, message_ids: list[int]) -> dict[int, list[Record]]:
    if not message_ids:
        return {}
    rows = await conn.execute(select(*[c for c in attachments.c if c.name != "data"])
                              .where(attachments.c.message_id.in_(message_ids)).order_by(attachments.c.id))
    out: dict[int, list[Record]] = {}
    for row in rows:
        out.setdefault(row.message_id, []).append(dict(row._mapping))
    return out


async def _human(conn: AsyncConnection, user_id: str, session_id: int, human_id: int | None,
                 replaces: int | None) -> Record:
    """The user's message to answer: the given one, the one a replaced answer answered, or the newest."""
    query = scoped(user_id, session_id)
    if replaces is not None:
        old = record((await conn.execute(query.where(messages.c.id == id_value(replaces, "Message")))).first())
        if old is None or old["role"] != "assistant" or old["reply_to"] is None:
            raise MessageNotFound("Message not found: messageId must be an assistant answer")
        human_id = old["reply_to"]
    if human_id is None:
        row = record((await conn.execute(query.where(messages.c.role == "human")
                                         .order_by(messages.c.id.desc()).limit(1))).first())
        if row is None:
            raise NotFound("This conversation has no message to answer")
        return row
    row = record((await conn.execute(query.where(messages.c.id == id_value(human_id, "Message")))).first())
    if row is None or row["role"] != "human":
        raise MessageNotFound("Message not found: messageId must be the user's message")
    return row


class AnswerQueries(Database):
    """Bookkeeping of generations: by message id, without user scope (the caller checked it)."""

    async def start_answer(self, user_id: str, session_id: int, human_id: int | None, *, history_limit: int,
                           model: str, engine: str, replaces: int | None = None,
                           documents: tuple[str, str] | None = None) -> AnswerStart:
        """Everything between a reader's request and the provider request, in one transaction: the session
        and the user's message checked, the answer already there found (a reconnecting reader attaches to
        it), else the history and its files read and the new answer inserted (the one it ``replaces``
        deleted with it). In a session that asks its documents, the answer is ``documents`` (model, engine)."""
        limit = int_value(history_limit, "limit", 0, MAX_ID)

        async def run(conn: AsyncConnection) -> AnswerStart:
            session = await session_of(conn, user_id, session_id)
            human = await _human(conn, user_id, session_id, human_id, replaces)
            if replaces is None:
                existing = record((await conn.execute(scoped(user_id, session_id).where(
                    messages.c.role == "assistant", messages.c.reply_to == human["id"])
                    .order_by(messages.c.id.desc()).limit(1))).first())
                if existing is not None:
                    return AnswerStart(human, existing, None, [])
            else:
                await conn.execute(delete(messages).where(messages.c.id == replaces))
            history = await _history(conn, session_id, human["id"] + 1, limit)
            attached = await _attached(conn, [i for i, role, _ in history if role == "human"])
            chosen = documents if documents is not None and session.get("context_chat") else (model, engine)
            created = now()
            message = record((await conn.execute(insert(messages).values(
                session_id=session_id, role="assistant", content="", reasoning="", status="generating",
                reply_to=human["id"], model=chosen[0], engine=chosen[1], timestamp=created, created_at=created,
                updated_at=created).returning(*MESSAGE_COLS))).first())
            await conn.execute(update(sessions).where(sessions.c.id == session_id).values(updated_at=created))
            return AnswerStart(human, None, message, history, attached)

        return await self.run(run, write=True)

    async def history(self, session_id: int, before_message_id: int, limit: int) -> list[tuple[str, str]]:
        """What the model is sent: the newest ``limit`` usable messages before an id, oldest first."""
        limit = int_value(limit, "limit", 0, MAX_ID)

        async def run(conn: AsyncConnection) -> list[tuple[str, str]]:
            return [(role, content) for _, role, content in await _history(conn, session_id, before_message_id,
                                                                            limit)]

        return await self.run(run, write=False)

    async def history_messages(self, session_id: int, before_message_id: int, limit: int
                               ) -> list[tuple[int, str, str]]:
        """history() with each message's id: (id, role, content), oldest first."""
        limit = int_value(limit, "limit", 0, MAX_ID)

        async def run(conn: AsyncConnection) -> list[tuple[int, str, str]]:
            return await _history(conn, session_id, before_message_id, limit)

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
        await self.save_progress_many([(message_id, content, reasoning)])

    async def save_progress_many(self, answers: list[tuple[int, str, str]]) -> None:
        """Checkpoint running answers (message id, text, reasoning), all in one transaction and one
        statement: a no-op for those deleted or finished meanwhile."""
        if not answers:
            return
        stamp = now()
        rows = [{"mid": mid, "content": clean_text(text), "reasoning": clean_text(reasoning), "stamp": stamp}
                for mid, text, reasoning in answers]
        statement = update(messages).where(messages.c.id == bindparam("mid"), messages.c.status == "generating") \
            .values(content=bindparam("content"), reasoning=bindparam("reasoning"), updated_at=bindparam("stamp"))

        async def run(conn: AsyncConnection) -> None:
            await conn.execute(statement, rows)

        await self.run(run, write=True)

    async def finish_message(self, message_id: int, *, status: str, content: str, reasoning: str,
                             finish_reason: str | None = None, error: str | None = None,
                             error_code: str | None = None, prompt_tokens: int | None = None,
                             completion_tokens: int | None = None, total_tokens: int | None = None,
                             tokens_per_second: float | None = None, sources: str | None = None,
                             thinking_ms: int | None = None, retry_after: int | None = None,
                             usage_estimated: bool = False, accounting: Accounting | None = None
                             ) -> Record | None:
        """Store the final state of an answer, and count its usage in the same transaction (so an answer is
        counted exactly once, whichever process saves it); None if it was deleted meanwhile."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"finish_message: status must be one of {FINAL_STATUSES}, not {status!r}")
        values = {
            "status": status, "content": clean_text(content), "reasoning": clean_text(reasoning),
            "finish_reason": finish_reason, "error": None if error is None else clean_text(error),
            "error_code": error_code, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": total_tokens, "tokens_per_second": tokens_per_second, "updated_at": now(),
            "thinking_ms": thinking_ms, "retry_after": retry_after,
            "usage_estimated": usage_estimated,
        }
        if sources is not None:
            values["sources"] = sources

        async def run(conn: AsyncConnection) -> Record | None:
            # Usage is counted only when the row was still generating: a retried save whose first try did
            # commit (the connection broke after COMMIT) must not count the answer twice.
            done = await conn.execute(update(messages).where(
                messages.c.id == message_id, messages.c.status == "generating").values(**values))
            if done.rowcount:
                if accounting is not None:
                    await account(conn, accounting)
            else:  # already final (another process marked it interrupted, or this is a retry): text still saved
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

    async def interrupt_answer(self, message_id: int) -> Record | None:
        """An answer whose process died: ``interrupted`` with the text saved so far; None unless it was
        still generating (another reaper, or its own process, ended it first)."""
        async def run(conn: AsyncConnection) -> Record | None:
            done = await conn.execute(update(messages).where(
                messages.c.id == message_id, messages.c.status == "generating",
            ).values(status="interrupted", updated_at=now()))
            return await message_by_id(conn, message_id) if done.rowcount else None

        return await self.run(run, write=True)

    async def stale_answers(self, older_than: int, limit: int = 100) -> list[int]:
        """Ids of answers still generating whose row was last written ``older_than`` seconds ago or before."""
        async def run(conn: AsyncConnection) -> list[int]:
            rows = await conn.execute(select(messages.c.id).where(
                messages.c.status == "generating", messages.c.updated_at <= now() - older_than)
                .order_by(messages.c.id).limit(limit))
            return [r.id for r in rows]

        return await self.run(run, write=False)

    async def get_message_by_id(self, message_id: int) -> Record | None:
        """Internal lookup without user scope (generation bookkeeping only)."""
        async def run(conn: AsyncConnection) -> Record | None:
            return await message_by_id(conn, message_id)

        return await self.run(run, write=False)
