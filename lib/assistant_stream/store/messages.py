"""Messages of a session as users see them: added, read, paged and deleted within the user's own sessions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.errors import InvalidInput, NotFound, TooLarge
from ..core.limits import MAX_CONTENT, MAX_ID, MAX_PAGE, MAX_TITLE
from .attachments import bind, chips_json
from .database import Database
from .models import MESSAGE_FIELDS, ROLES, STATUSES, messages, sessions
from .sessions import session_of
from .values import Record, id_value, int_value, now, record, text_value

MESSAGE_COLS = [messages.c[f] for f in MESSAGE_FIELDS]


async def message_by_id(conn: AsyncConnection, message_id: int) -> Record | None:
    return record((await conn.execute(select(*MESSAGE_COLS).where(messages.c.id == message_id))).first())


def scoped(user_id: str, session_id: int) -> Select[Any]:
    """Messages of one session, only if the session belongs to the user."""
    return select(*MESSAGE_COLS).join(sessions, sessions.c.id == messages.c.session_id).where(
        messages.c.session_id == id_value(session_id, "Session"), sessions.c.user_id == user_id)


class MessageQueries(Database):
    """Every method is one transaction, scoped to ``user_id``."""

    async def add_message(self, user_id: str, session_id: int, role: str, content: str,
                          timestamp: int | None = None, *, status: str = "done",
                          reply_to: int | None = None, model: str | None = None, engine: str | None = None,
                          session_title: str | None = None, replaces: int | None = None,
                          attachment_ids: Sequence[int] = ()) -> Record:
        """Insert a message; in the same transaction optionally set the session's title and delete the
        message it replaces (a regenerated answer), so a failure half-way leaves the database as it was."""
        if role not in ROLES:
            raise InvalidInput(f"The role must be one of {', '.join(ROLES)}")
        if status not in STATUSES:
            raise InvalidInput(f"The status must be one of {', '.join(STATUSES)}")
        content = text_value(content, what="message", limit=MAX_CONTENT, too_large=TooLarge)
        created = now()
        values = {"session_id": session_id, "role": role, "content": content, "reasoning": "", "status": status,
                  "reply_to": None if reply_to is None else id_value(reply_to, "Message"), "model": model,
                  "engine": engine, "timestamp": created if timestamp is None else int_value(timestamp, "timestamp"),
                  "created_at": created, "updated_at": created}
        if session_title is not None:
            session_title = text_value(session_title, what="title", limit=MAX_TITLE)
        if replaces is not None:
            replaces = id_value(replaces, "Message")

        async def run(conn: AsyncConnection) -> Record:
            await session_of(conn, user_id, session_id)
            if replaces is not None:
                gone = await conn.execute(delete(messages).where(messages.c.id == replaces,
                                                                 messages.c.session_id == session_id))
                if gone.rowcount == 0:
                    raise NotFound("Message not found")
            new_id = (await conn.execute(insert(messages).values(**values).returning(messages.c.id))).scalar_one()
            if attachment_ids:
                chips = await bind(conn, user_id, session_id, new_id, attachment_ids)
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
            row = (await conn.execute(scoped(user_id, session_id)
                                      .where(messages.c.id == id_value(message_id, "Message")))).first()
            if row is None:
                raise NotFound("Message not found")
            return dict(row._mapping)

        return await self.run(run, write=False)

    async def list_messages(self, user_id: str, session_id: int, limit: int, cursor: int) -> list[Record]:
        """Assistant's paging: skip the ``cursor`` newest, take ``limit``, return them oldest first."""
        limit, cursor = int_value(limit, "limit", 1, MAX_PAGE), int_value(cursor, "cursor", 0, MAX_ID)

        async def run(conn: AsyncConnection) -> list[Record]:
            await session_of(conn, user_id, session_id)
            rows = await conn.execute(scoped(user_id, session_id)
                                      .order_by(messages.c.id.desc()).offset(cursor).limit(limit))
            return [dict(r._mapping) for r in reversed(rows.all())]

        return await self.run(run, write=False)

    async def delete_message(self, user_id: str, session_id: int, message_id: int) -> list[int]:
        """Delete a message; a question goes with its answers (an answer without its question would confuse
        the reader and the model alike). Returns the ids deleted."""
        async def run(conn: AsyncConnection) -> list[int]:
            row = (await conn.execute(scoped(user_id, session_id)
                                      .where(messages.c.id == id_value(message_id, "Message")))).first()
            if row is None:
                raise NotFound("Message not found")
            ids = [message_id]
            if row.role == "human":
                ids += list((await conn.execute(select(messages.c.id).where(
                    messages.c.session_id == session_id, messages.c.reply_to == message_id))).scalars())
            await conn.execute(delete(messages).where(messages.c.id.in_(ids), messages.c.session_id == session_id))
            return ids

        return await self.run(run, write=True)

    async def last_human_message(self, user_id: str, session_id: int) -> Record:
        async def run(conn: AsyncConnection) -> Record:
            await session_of(conn, user_id, session_id)
            row = (await conn.execute(scoped(user_id, session_id).where(messages.c.role == "human")
                                      .order_by(messages.c.id.desc()).limit(1))).first()
            if row is None:
                raise NotFound("This conversation has no message to answer")
            return dict(row._mapping)

        return await self.run(run, write=False)

    async def answer_to(self, user_id: str, session_id: int, human_message_id: int) -> Record | None:
        """The newest assistant message answering ``human_message_id`` (None if there is none yet)."""
        async def run(conn: AsyncConnection) -> Record | None:
            await session_of(conn, user_id, session_id)
            return record((await conn.execute(scoped(user_id, session_id).where(
                messages.c.role == "assistant", messages.c.reply_to == id_value(human_message_id, "Message"))
                .order_by(messages.c.id.desc()).limit(1))).first())

        return await self.run(run, write=False)
