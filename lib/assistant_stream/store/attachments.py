"""Attached files: stored when attached, bound to the human message they were sent with, read for prompts."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import delete, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.errors import InvalidParameter, NotFound
from ..core.limits import MAX_ATTACHMENTS, MAX_FILE_NAME, ORPHAN_ATTACHMENT_TTL
from ..core.text import clean_text
from .database import Database
from .models import ATTACHMENT_FIELDS, attachments, sessions
from .sessions import session_of
from .values import Record, id_value, now

_PUBLIC_COLS = [attachments.c[f] for f in ATTACHMENT_FIELDS]


def chip(row: Record) -> dict[str, object]:
    """An attachment as the browser shows it (camelCase like the rest of the API; never its text)."""
    return {"id": row["id"], "name": row["name"], "kind": row["kind"], "mime": row["mime"], "size": row["size"],
            "source": row["source"], "fileId": row["file_id"], "path": row["path"], "chars": row["chars"],
            "truncated": bool(row["truncated"])}


async def bind(conn: AsyncConnection, user_id: str, session_id: int, message_id: int,
               attachment_ids: Sequence[int]) -> list[dict[str, object]]:
    """Attach the user's unsent attachments of this session to a new message; returns their chips.

    Runs inside add_message's transaction: the message never exists without the files it was sent with.
    """
    if len(attachment_ids) > MAX_ATTACHMENTS:
        raise InvalidParameter(f"At most {MAX_ATTACHMENTS} files can be attached to one message")
    ids = [id_value(i, "Attachment") for i in dict.fromkeys(attachment_ids)]
    rows = (await conn.execute(select(*_PUBLIC_COLS).where(
        attachments.c.id.in_(ids), attachments.c.user_id == user_id, attachments.c.session_id == session_id,
        attachments.c.message_id.is_(None)))).all()
    found = {r.id: dict(r._mapping) for r in rows}
    if len(found) != len(ids):
        raise NotFound("Attachment not found (or already sent)")
    await conn.execute(update(attachments).where(attachments.c.id.in_(ids)).values(message_id=message_id))
    return [chip(found[i]) for i in ids]


async def copy_to(conn: AsyncConnection, from_message_id: int, to_message_id: int) -> list[dict[str, object]]:
    """The files of a question, attached again to a new version of it (an edit keeps them); their chips."""
    columns = [c.name for c in attachments.columns if c.name not in ("id", "message_id")]
    source = select(*[attachments.c[c] for c in columns], literal(to_message_id).label("message_id")).where(
        attachments.c.message_id == from_message_id).order_by(attachments.c.id)
    await conn.execute(insert(attachments).from_select([*columns, "message_id"], source))
    rows = await conn.execute(select(*_PUBLIC_COLS).where(attachments.c.message_id == to_message_id)
                              .order_by(attachments.c.id))
    return [chip(dict(r._mapping)) for r in rows]


def chips_json(chips: list[dict[str, object]]) -> str:
    return json.dumps(chips, ensure_ascii=False, separators=(",", ":"))


class AttachmentQueries(Database):
    async def add_attachment(self, user_id: str, session_id: int, *, source: str, name: str, mime: str, kind: str,
                             size: int, text: str = "", data: bytes | None = None, truncated: bool = False,
                             file_id: int | None = None, path: str | None = None) -> Record:
        """Store an attached file (not yet sent); deletes the user's attachments never sent within a day."""
        created = now()
        values = {"user_id": user_id, "session_id": id_value(session_id, "Session"), "source": source,
                  "file_id": file_id, "path": path, "name": clean_text(name)[:MAX_FILE_NAME] or "file",
                  "mime": mime[:128], "kind": kind, "size": size, "text": clean_text(text), "data": data,
                  "chars": len(text), "truncated": truncated, "created_at": created}

        async def run(conn: AsyncConnection) -> Record:
            await session_of(conn, user_id, session_id)
            await conn.execute(delete(attachments).where(
                attachments.c.user_id == user_id, attachments.c.message_id.is_(None),
                attachments.c.created_at < created - ORPHAN_ATTACHMENT_TTL))
            new_id = (await conn.execute(insert(attachments).values(**values).returning(attachments.c.id))
                      ).scalar_one()
            row = (await conn.execute(select(*_PUBLIC_COLS).where(attachments.c.id == new_id))).one()
            return dict(row._mapping)

        return await self.run(run, write=True)

    async def delete_attachment(self, user_id: str, attachment_id: int) -> None:
        """Remove an attachment that was not sent yet (a sent one goes with its message)."""
        async def run(conn: AsyncConnection) -> None:
            result = await conn.execute(delete(attachments).where(
                attachments.c.id == id_value(attachment_id, "Attachment"), attachments.c.user_id == user_id,
                attachments.c.message_id.is_(None)))
            if result.rowcount == 0:
                raise NotFound("Attachment not found (or already sent)")

        await self.run(run, write=True)

    async def attachments_for(self, message_ids: Sequence[int]) -> dict[int, list[Record]]:
        """The attachments of these messages (their text, not an image's bytes), by message id, in order."""
        if not message_ids:
            return {}
        cols = [c for c in attachments.c if c.name != "data"]

        async def run(conn: AsyncConnection) -> dict[int, list[Record]]:
            rows = await conn.execute(select(*cols).where(attachments.c.message_id.in_(list(message_ids)))
                                      .order_by(attachments.c.id))
            out: dict[int, list[Record]] = {}
            for row in rows:
                out.setdefault(row.message_id, []).append(dict(row._mapping))
            return out

        return await self.run(run, write=False)

    async def attachment_images(self, attachment_ids: Sequence[int]) -> dict[int, bytes]:
        """The bytes of these image attachments, by id."""
        if not attachment_ids:
            return {}

        async def run(conn: AsyncConnection) -> dict[int, bytes]:
            rows = await conn.execute(select(attachments.c.id, attachments.c.data).where(
                attachments.c.id.in_(list(attachment_ids)), attachments.c.data.is_not(None)))
            return {r.id: bytes(r.data) for r in rows}

        return await self.run(run, write=False)

    async def set_context_chat(self, user_id: str, session_id: int, enabled: bool) -> Record:
        async def run(conn: AsyncConnection) -> Record:
            await session_of(conn, user_id, session_id)
            await conn.execute(update(sessions).where(sessions.c.id == session_id).values(context_chat=enabled))
            return await session_of(conn, user_id, session_id)

        return await self.run(run, write=True)


__all__ = ["AttachmentQueries", "bind", "chip", "chips_json"]
