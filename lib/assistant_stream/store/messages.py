"""Messages of a session as users see them: added, read, paged along the active branch and deleted."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.errors import InvalidInput, NotFound, TooLarge
from ..core.limits import MAX_CONTENT, MAX_ID, MAX_PAGE, MAX_TITLE
from .attachments import bind, chips_json, copy_to
from .database import Database
from .models import MESSAGE_FIELDS, ROLES, STATUSES, messages, sessions
from .sessions import session_of
from .tree import branch_ids, children, leaf, lock_branches, make_active, splice_out, with_siblings
from .values import Record, id_value, int_value, now, record, text_value

MESSAGE_COLS = [messages.c[f] for f in MESSAGE_FIELDS]


class At(enum.Enum):
    """Where a new message goes when no parent is named."""

    LEAF = "leaf"  # after the last message of the active branch (what Assistant's clients expect)


async def message_by_id(conn: AsyncConnection, message_id: int) -> Record | None:
    row = record((await conn.execute(select(*MESSAGE_COLS).where(messages.c.id == message_id))).first())
    return None if row is None else (await with_siblings(conn, [row]))[0]


async def rows_by_ids(conn: AsyncConnection, ids: list[int]) -> list[Record]:
    """The messages ``ids`` in that order, each with its ``sibling_ids``."""
    if not ids:
        return []
    found = {r.id: dict(r._mapping) for r in await conn.execute(select(*MESSAGE_COLS).where(messages.c.id.in_(ids)))}
    return await with_siblings(conn, [found[i] for i in ids if i in found])


def scoped(user_id: str, session_id: int) -> Select[Any]:
    """Messages of one session, only if the session belongs to the user."""
    return select(*MESSAGE_COLS).join(sessions, sessions.c.id == messages.c.session_id).where(
        messages.c.session_id == id_value(session_id, "Session"), sessions.c.user_id == user_id)


async def scoped_message(conn: AsyncConnection, user_id: str, session_id: int, message_id: int) -> Record:
    row = record((await conn.execute(scoped(user_id, session_id)
                                     .where(messages.c.id == id_value(message_id, "Message")))).first())
    if row is None:
        raise NotFound("Message not found")
    return row


class MessageQueries(Database):
    """Every method is one transaction, scoped to ``user_id``."""

    async def add_message(self, user_id: str, session_id: int, role: str, content: str,
                          timestamp: int | None = None, *, status: str = "done",
                          reply_to: int | None = None, model: str | None = None, engine: str | None = None,
                          connection: str | None = None, session_title: str | None = None,
                          parent: int | At | None = At.LEAF, attachment_ids: Sequence[int] = (),
                          files_of: int | None = None) -> Record:
        """Insert a message after ``parent`` (the active branch's last message by default; None: a new first
        message) and make it the active one there; in the same transaction optionally set the session's title
        and bind the files attached to it (or attach again those of ``files_of``: an edited question keeps its
        files), so a failure half-way leaves the database as it was."""
        if role not in ROLES:
            raise InvalidInput(f"The role must be one of {', '.join(ROLES)}")
        if status not in STATUSES:
            raise InvalidInput(f"The status must be one of {', '.join(STATUSES)}")
        content = text_value(content, what="message", limit=MAX_CONTENT, too_large=TooLarge)
        created = now()
        values = {"session_id": session_id, "role": role, "content": content, "reasoning": "", "status": status,
                  "reply_to": None if reply_to is None else id_value(reply_to, "Message"), "model": model,
                  "engine": engine, "connection": connection, "created_at": created, "updated_at": created,
                  "timestamp": created if timestamp is None else int_value(timestamp, "timestamp")}
        if session_title is not None:
            session_title = text_value(session_title, what="title", limit=MAX_TITLE)
        if isinstance(parent, int):
            parent = id_value(parent, "Message")

        async def run(conn: AsyncConnection) -> Record:
            await session_of(conn, user_id, session_id)
            await lock_branches(conn, session_id)
            parent_id = await leaf(conn, session_id) if parent is At.LEAF else parent
            if parent_id is not None and await _in_session(conn, session_id, parent_id) is None:
                raise NotFound("Message not found")
            new_id = (await conn.execute(insert(messages).values(**values, parent_id=parent_id)
                                         .returning(messages.c.id))).scalar_one()
            await make_active(conn, session_id, parent_id, new_id)
            chips = await bind(conn, user_id, session_id, new_id, attachment_ids) if attachment_ids else (
                await copy_to(conn, files_of, new_id) if files_of is not None else [])
            if chips:
                await conn.execute(update(messages).where(messages.c.id == new_id)
                                   .values(attachments=chips_json(chips)))
            await conn.execute(update(sessions).where(sessions.c.id == session_id).values(updated_at=created))
            if session_title is not None:  # never over a title the user gave
                await conn.execute(update(sessions).where(sessions.c.id == session_id,
                                                          sessions.c.title_manual.is_(False))
                                   .values(title=session_title))
            message = await message_by_id(conn, new_id)
            assert message is not None
            return message

        return await self.run(run, write=True)

    async def get_message(self, user_id: str, session_id: int, message_id: int) -> Record:
        async def run(conn: AsyncConnection) -> Record:
            return (await with_siblings(conn, [await scoped_message(conn, user_id, session_id, message_id)]))[0]

        return await self.run(run, write=False)

    async def list_messages(self, user_id: str, session_id: int, limit: int, cursor: int) -> list[Record]:
        """The active branch in Assistant's paging: skip the ``cursor`` newest, take ``limit``, oldest first."""
        limit, cursor = int_value(limit, "limit", 1, MAX_PAGE), int_value(cursor, "cursor", 0, MAX_ID)

        async def run(conn: AsyncConnection) -> list[Record]:
            await session_of(conn, user_id, session_id)
            ids = await branch_ids(conn, session_id)
            end = max(0, len(ids) - cursor)
            return await rows_by_ids(conn, ids[max(0, end - limit):end])

        return await self.run(run, write=False)

    async def delete_message(self, user_id: str, session_id: int, message_id: int) -> list[int]:
        """Delete a message; a question goes with its answers (all their versions). What followed moves up to
        the deleted message's place, so nothing else is lost. Returns the ids deleted."""
        async def run(conn: AsyncConnection) -> list[int]:
            gone = await scoped_message(conn, user_id, session_id, message_id)
            await lock_branches(conn, session_id)
            answers = [c["id"] for c in await children(conn, session_id, gone["id"]) if c["role"] == "assistant"] \
                if gone["role"] == "human" else []
            await splice_out(conn, session_id, gone, answers)
            ids = [gone["id"], *answers]
            await conn.execute(delete(messages).where(messages.c.id.in_(ids), messages.c.session_id == session_id))
            return ids

        return await self.run(run, write=True)

    async def last_human_message(self, user_id: str, session_id: int) -> Record:
        """The newest question on the active branch."""
        async def run(conn: AsyncConnection) -> Record:
            await session_of(conn, user_id, session_id)
            row = await last_question(conn, session_id)
            if row is None:
                raise NotFound("This conversation has no message to answer")
            return row

        return await self.run(run, write=False)

    async def answer_to(self, user_id: str, session_id: int, human_message_id: int) -> Record | None:
        """The answer shown for a question: its active child when that is an answer, else its newest answer."""
        async def run(conn: AsyncConnection) -> Record | None:
            human = await scoped_message(conn, user_id, session_id, human_message_id)
            return await shown_answer(conn, session_id, human["id"])

        return await self.run(run, write=False)


async def shown_answer(conn: AsyncConnection, session_id: int, human_id: int) -> Record | None:
    """The answer shown for question ``human_id`` (checked to be in the session): its active child when that
    answers it, else its newest answer (None: not answered yet)."""
    active = (await conn.execute(select(messages.c.active_child_id).where(messages.c.id == human_id))).scalar()
    row = await _in_session(conn, session_id, active) if active is not None else None
    if row is None or row["role"] != "assistant" or row["reply_to"] != human_id:
        # reply_to, not parent_id: a 1.0 answer regenerated out of order became a later message's child.
        row = record((await conn.execute(select(*MESSAGE_COLS).where(
            messages.c.session_id == session_id, messages.c.role == "assistant", messages.c.reply_to == human_id)
            .order_by(messages.c.id.desc()).limit(1))).first())
    return None if row is None else await message_by_id(conn, row["id"])


async def last_question(conn: AsyncConnection, session_id: int) -> Record | None:
    """The newest question on the active branch."""
    # Along a branch ids only grow (a child is always newer), so the newest question has the largest id.
    last = (await conn.execute(select(messages.c.id).where(
        messages.c.id.in_(await branch_ids(conn, session_id)), messages.c.role == "human")
        .order_by(messages.c.id.desc()).limit(1))).scalar()
    return None if last is None else await message_by_id(conn, last)


async def _in_session(conn: AsyncConnection, session_id: int, message_id: int) -> Record | None:
    return record((await conn.execute(select(*MESSAGE_COLS).where(
        messages.c.id == message_id, messages.c.session_id == session_id))).first())
