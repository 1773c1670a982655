"""The message tree inside one transaction: the active branch, a message's path, siblings, and keeping the
pointers (messages.parent_id / active_child_id, sessions.active_root_id) consistent."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Integer, Select, and_, bindparam, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .models import messages, sessions
from .values import Record


async def lock_branches(conn: AsyncConnection, session_id: int) -> None:
    """Serialise changes to one conversation's tree: two messages sent at once both go after the last one, one
    after the other, instead of both after the same one (PostgreSQL: a row lock; SQLite writes one at a time)."""
    await conn.execute(select(sessions.c.id).where(sessions.c.id == session_id).with_for_update())


async def active_root(conn: AsyncConnection, session_id: int) -> int | None:
    return (await conn.execute(select(sessions.c.active_root_id).where(sessions.c.id == session_id))).scalar()


def _branch_walk() -> Select[Any]:
    """The active branch of session :sid, first message first: from its root along each active child. Built once:
    SQLAlchemy then reuses the compiled statement (building it per call cost more than running it)."""
    m, s = messages.alias("m"), sessions.alias("s")
    walk = select(m.c.id, m.c.active_child_id, literal(0, Integer).label("depth")).join(
        s, s.c.active_root_id == m.c.id).where(
        s.c.id == bindparam("sid"), m.c.session_id == bindparam("sid"), m.c.parent_id.is_(None),
    ).cte("branch", recursive=True)
    step = messages.alias("step")
    # parent_id == the previous id: a stale pointer ends the walk instead of jumping elsewhere; id > previous
    # (children are always newer) makes a cycle impossible whatever the data says.
    walk = walk.union_all(select(step.c.id, step.c.active_child_id, (walk.c.depth + 1).label("depth")).where(
        step.c.id == walk.c.active_child_id, step.c.parent_id == walk.c.id, step.c.id > walk.c.id,
        step.c.session_id == bindparam("sid")))
    return select(walk.c.id).order_by(walk.c.depth)


def _path_walk() -> Select[Any]:
    """The messages from the first one down to :mid (inclusive), last first, with what history needs to choose."""
    m, up = messages.alias("m"), messages.alias("up")
    walk = select(m.c.id, m.c.parent_id, literal(0, Integer).label("depth")).where(
        m.c.id == bindparam("mid")).cte("path", recursive=True)
    walk = walk.union_all(select(up.c.id, up.c.parent_id, (walk.c.depth + 1).label("depth")).where(
        up.c.id == walk.c.parent_id, up.c.id < walk.c.id, walk.c.depth < bindparam("most")))
    return select(walk.c.id).order_by(walk.c.depth)


BRANCH_WALK = _branch_walk()
PATH_WALK = _path_walk()
UNBOUNDED = 2**31 - 1


async def branch_ids(conn: AsyncConnection, session_id: int) -> list[int]:
    """The active branch, first message first."""
    return list((await conn.execute(BRANCH_WALK, {"sid": session_id})).scalars())


async def path_ids(conn: AsyncConnection, message_id: int, most: int = UNBOUNDED) -> list[int]:
    """The messages from the first one down to ``message_id`` (inclusive): the context of what follows it. With
    ``most``, only the last ``most`` + 1 of them."""
    return list(reversed((await conn.execute(PATH_WALK, {"mid": message_id, "most": most})).scalars().all()))


async def children(conn: AsyncConnection, session_id: int, parent_id: int | None) -> list[Record]:
    """The children of ``parent_id`` (the session's first messages for None), oldest first."""
    where = messages.c.parent_id.is_(None) if parent_id is None else messages.c.parent_id == parent_id
    rows = await conn.execute(select(messages.c.id, messages.c.role, messages.c.active_child_id).where(
        messages.c.session_id == session_id, where).order_by(messages.c.id))
    return [dict(r._mapping) for r in rows]


async def with_siblings(conn: AsyncConnection, rows: list[Record]) -> list[Record]:
    """Each row with ``sibling_ids``: the versions at its place in the tree (itself included), oldest first."""
    if not rows:
        return rows
    by_session: dict[int, set[int]] = {}
    roots: set[int] = set()
    for r in rows:
        if r["parent_id"] is None:
            roots.add(r["session_id"])
        else:
            by_session.setdefault(r["session_id"], set()).add(r["parent_id"])
    conds = [and_(messages.c.session_id == sid, messages.c.parent_id.in_(sorted(ps))) for sid, ps in by_session.items()]
    conds += [and_(messages.c.session_id == sid, messages.c.parent_id.is_(None)) for sid in sorted(roots)]
    found = await conn.execute(select(messages.c.id, messages.c.session_id, messages.c.parent_id)
                               .where(or_(*conds)).order_by(messages.c.id))
    groups: dict[tuple[int, int | None], list[int]] = {}
    for f in found:
        groups.setdefault((f.session_id, f.parent_id), []).append(f.id)
    return [{**r, "sibling_ids": groups.get((r["session_id"], r["parent_id"]), [r["id"]])} for r in rows]


async def make_active(conn: AsyncConnection, session_id: int, parent_id: int | None, child_id: int | None) -> None:
    """Let the branch continue from ``parent_id`` (the session's start for None) with ``child_id``."""
    if parent_id is None:
        await conn.execute(update(sessions).where(sessions.c.id == session_id).values(active_root_id=child_id))
    else:
        await conn.execute(update(messages).where(messages.c.id == parent_id, messages.c.session_id == session_id)
                           .values(active_child_id=child_id))


async def leaf(conn: AsyncConnection, session_id: int) -> int | None:
    """The last message of the active branch (where a new message goes)."""
    ids = await branch_ids(conn, session_id)
    return ids[-1] if ids else None


async def splice_out(conn: AsyncConnection, session_id: int, gone: Record, with_ids: Iterable[int]) -> None:
    """Before ``gone`` and ``with_ids`` (its children that go with it) are deleted: their other children move up
    to ``gone``'s parent, and a branch that ran through them runs on through what stays."""
    going = {gone["id"], *with_ids}
    parent = gone["parent_id"]
    orphans: list[Any] = (await conn.execute(select(messages.c.id).where(
        messages.c.session_id == session_id, messages.c.parent_id.in_(sorted(going)),
        messages.c.id.not_in(sorted(going))).order_by(messages.c.id))).scalars().all()
    if orphans:
        await conn.execute(update(messages).where(messages.c.id.in_(orphans)).values(parent_id=parent))
    active = (await active_root(conn, session_id)) if parent is None else (await conn.execute(
        select(messages.c.active_child_id).where(messages.c.id == parent))).scalar()
    if active not in going:
        return
    # The branch went through ``gone``: it continues with what followed there (gone's active child, or that
    # child's own when it goes too), else with the nearest version left at gone's place, else it ends here.
    follow = (await conn.execute(select(messages.c.active_child_id).where(messages.c.id == gone["id"]))).scalar()
    if follow in going:
        follow = (await conn.execute(select(messages.c.active_child_id).where(messages.c.id == follow))).scalar()
    if follow not in orphans:
        left = [c["id"] for c in await children(conn, session_id, parent) if c["id"] not in going]
        older = [i for i in left if i < gone["id"]]
        follow = older[-1] if older else (left[0] if left else None)
    await make_active(conn, session_id, parent, follow)
