"""Versions: which branch of a conversation is shown, switched from one version of a message to another."""

from __future__ import annotations

import itertools

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.limits import MAX_PAGE
from .database import Database
from .messages import rows_by_ids, scoped_message
from .models import messages
from .sessions import session_of
from .tree import active_root, branch_ids, lock_branches, make_active, path_ids
from .values import Record


class BranchQueries(Database):
    async def switch_branch(self, user_id: str, session_id: int, message_id: int) -> tuple[list[Record], bool]:
        """Show ``message_id`` instead of its siblings; returns the branch from it on (at most MAX_PAGE
        messages) and whether more follow."""
        async def run(conn: AsyncConnection) -> tuple[list[Record], bool]:
            await session_of(conn, user_id, session_id)
            message = await scoped_message(conn, user_id, session_id, message_id)
            await lock_branches(conn, session_id)
            await show_path(conn, session_id, message["id"])
            ids = await branch_ids(conn, session_id)
            tail = ids[ids.index(message["id"]):] if message["id"] in ids else [message["id"]]
            return await rows_by_ids(conn, tail[:MAX_PAGE]), len(tail) > MAX_PAGE

        return await self.run(run, write=True)

    async def branch(self, user_id: str, session_id: int) -> list[Record]:
        """The whole active branch, first message first (exports)."""
        async def run(conn: AsyncConnection) -> list[Record]:
            await session_of(conn, user_id, session_id)
            return await rows_by_ids(conn, await branch_ids(conn, session_id))

        return await self.run(run, write=False)


async def show_path(conn: AsyncConnection, session_id: int, message_id: int) -> None:
    """Make the branch through ``message_id`` the active one (each pointer on its path that differs)."""
    path = await path_ids(conn, message_id)
    pointers = {r.id: r.active_child_id for r in await conn.execute(
        select(messages.c.id, messages.c.active_child_id).where(messages.c.id.in_(path)))}
    if path and await active_root(conn, session_id) != path[0]:
        await make_active(conn, session_id, None, path[0])
    for parent, child in itertools.pairwise(path):
        if pointers.get(parent) != child:
            await make_active(conn, session_id, parent, child)
