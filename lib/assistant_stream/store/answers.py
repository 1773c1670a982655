"""Answers as generations write them: the history sent to a model, progress, the final state, restarts."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.errors import MessageNotFound, NotFound
from ..core.limits import MAX_ID
from ..core.text import clean_text
from .database import Database
from .messages import MESSAGE_COLS, last_question, message_by_id, scoped_message, shown_answer
from .models import FINAL_STATUSES, attachments, messages, sessions
from .sessions import session_of
from .tree import lock_branches, make_active, path_ids
from .usage import Accounting, account
from .values import Record, int_value, now, record

_USABLE = ("done", "cancelled", "interrupted")
HISTORY_SLACK = 20  # messages walked beyond twice the history length, for failed answers that are skipped


@dataclass(frozen=True, slots=True)
class AnswerStart:
    """What ``start_answer`` found or made: the answer already there, or the new one with what its prompt
    is made of (history rows with their ids, the files attached to them, without image bytes)."""

    human: Record
    existing: Record | None  # the answer shown for ``human``, when there is one (then nothing was inserted)
    message: Record | None  # the new assistant message (status generating)
    history: list[tuple[int, str, str]]  # (id, role, content), oldest first
    attached: dict[int, list[Record]] = field(default_factory=dict)  # by message id


async def _history(conn: AsyncConnection, session_id: int, last_id: int, limit: int) -> list[tuple[int, str, str]]:
    """The newest ``limit`` usable messages of the branch that ends with ``last_id`` (inclusive), oldest first."""
    # Walked up only as far as the history can reach: a long conversation costs no more than a short one.
    path = await path_ids(conn, last_id, most=limit * 2 + HISTORY_SLACK)
    meta = {r.id: r for r in await conn.execute(
        select(messages.c.id, messages.c.role, messages.c.status, (messages.c.content != "").label("filled"))
        .where(messages.c.id.in_(path), messages.c.session_id == session_id))}
    # Failed or still-running answers and empty ones would only confuse the model.
    usable = [i for i in path if (r := meta.get(i)) is not None and (
        r.role == "human" or (r.role == "assistant" and r.status in _USABLE and r.filled))]
    chosen = usable[-limit:] if limit else []
    # The text only of what is sent: a long branch's older messages are never read.
    text = {r.id: (r.role, r.content) for r in await conn.execute(
        select(messages.c.id, messages.c.role, messages.c.content).where(messages.c.id.in_(chosen)))}
    return [(i, *text[i]) for i in chosen]


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
                 beside: Record | None) -> Record:
    """The user's message to answer: the one the answer ``beside`` answered, the given one, or the newest on
    the active branch."""
    if beside is not None:
        if beside["role"] != "assistant" or beside["reply_to"] is None:
            raise MessageNotFound("Message not found: messageId must be an assistant answer")
        human_id = beside["reply_to"]
    if human_id is None:
        row = await last_question(conn, session_id)
        if row is None:
            raise NotFound("This conversation has no message to answer")
        return row
    try:
        row = await scoped_message(conn, user_id, session_id, human_id)
    except NotFound:
        row = None
    if row is None or row["role"] != "human":
        raise MessageNotFound("Message not found: messageId must be the user's message")
    return row

_USABLE = ("done", "cancelled", "interrupted")
HISTORY_SLACK = 20  # messages walked beyond twice the history length, for failed answers that are skipped


class AnswerQueries(Database):
    """Bookkeeping of generations: by message id, without user scope (the caller checked it)."""

    async def start_answer(self, user_id: str, session_id: int, human_id: int | None, *, history_limit: int,
                           model: str, engine: str, connection: str | None = None, beside: int | None = None,
                           documents: tuple[str, str] | None = None) -> AnswerStart:
        """Everything between a reader's request and the provider request, in one transaction: the session
        and the user's message checked, the answer already shown found (a reconnecting reader attaches to it),
        else the question's branch and its files read and the new answer inserted after the question (after
        the answer's parent with ``beside``: a new version of that answer, which stays) and shown. In a session
        that asks its documents, the answer is ``documents`` (model, engine)."""
        limit = int_value(history_limit, "limit", 0, MAX_ID)

        async def run(conn: AsyncConnection) -> AnswerStart:
            session = await session_of(conn, user_id, session_id)
            await lock_branches(conn, session_id)
            old = None if beside is None else await scoped_message(conn, user_id, session_id, beside)
            human = await _human(conn, user_id, session_id, human_id, old)
            if old is None and (existing := await shown_answer(conn, session_id, human["id"])) is not None:
                return AnswerStart(human, existing, None, [])
            history = await _history(conn, session_id, human["id"], limit)
            attached = await _attached(conn, [i for i, role, _ in history if role == "human"])
            chosen = documents if documents is not None and session.get("context_chat") else (model, engine)
            created = now()
            parent = human["id"] if old is None else old["parent_id"]
            new_id = (await conn.execute(insert(messages).values(
                session_id=session_id, role="assistant", content="", reasoning="", status="generating",
                reply_to=human["id"], model=chosen[0], engine=chosen[1], parent_id=parent,
                connection=connection if chosen[1] == "stream" else None, timestamp=created, created_at=created,
                updated_at=created).returning(messages.c.id))).scalar_one()
            await make_active(conn, session_id, parent, new_id)
            await conn.execute(update(sessions).where(sessions.c.id == session_id).values(updated_at=created))
            return AnswerStart(human, None, await message_by_id(conn, new_id), history, attached)

        return await self.run(run, write=True)

    async def history(self, session_id: int, last_id: int, limit: int) -> list[tuple[str, str]]:
        """history_messages() without the ids: (role, content), oldest first."""
        return [(role, content) for _id, role, content in await self.history_messages(session_id, last_id, limit)]

    async def history_messages(self, session_id: int, last_id: int, limit: int) -> list[tuple[int, str, str]]:
        """What the model is sent: the newest ``limit`` usable messages of the branch that ends with ``last_id``
        (inclusive), as (id, role, content), oldest first. Other branches never reach the model."""
        limit = int_value(limit, "limit", 0, MAX_ID)

        async def run(conn: AsyncConnection) -> list[tuple[int, str, str]]:
            return await _history(conn, session_id, last_id, limit)

        return await self.run(run, write=False)

    async def reopen_answer(self, message_id: int) -> None:
        """An answer that is being continued is generating again (its text and usage are kept)."""
        async def run(conn: AsyncConnection) -> None:
            await conn.execute(update(messages).where(messages.c.id == message_id).values(
                status="generating", finish_reason=None, error=None, error_code=None, updated_at=now()))

        await self.run(run, write=True)

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
