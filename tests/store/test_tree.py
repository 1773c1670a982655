"""The message tree (store/tree.py): the active branch, a message's path, versions, and deletions that keep the
pointers consistent, on each database."""

from __future__ import annotations

from sqlalchemy import text

from assistant_stream.store.storage import Storage
from tests.support.storage import A, chat

Ids = dict[str, int]


async def tree(s: Storage) -> tuple[int, Ids]:
    """q1 -> a1 -> q2 -> a2, a second version of a1 (a1b -> q3), and a second first question (r1)."""
    sid, (q1,) = await chat(s, A, 1)
    ids = {"q1": q1}
    add = s.add_message
    ids["a1"] = (await add(A, sid, "assistant", "a1", reply_to=q1))["id"]
    ids["q2"] = (await add(A, sid, "human", "q2"))["id"]
    ids["a2"] = (await add(A, sid, "assistant", "a2", reply_to=ids["q2"]))["id"]
    ids["a1b"] = (await add(A, sid, "assistant", "a1b", reply_to=q1, parent=q1))["id"]
    ids["q3"] = (await add(A, sid, "human", "q3"))["id"]
    ids["r1"] = (await add(A, sid, "human", "r1", parent=None))["id"]
    return sid, ids


async def shown(s: Storage, sid: int) -> list[str]:
    return [m["content"] for m in await s.list_messages(A, sid, 200, 0)]


async def test_new_messages_go_to_the_branch_shown_and_become_it(storage: Storage) -> None:
    sid, ids = await tree(storage)
    assert await shown(storage, sid) == ["r1"]
    first = await storage.get_message(A, sid, ids["r1"])
    assert first["sibling_ids"] == [ids["q1"], ids["r1"]] and first["parent_id"] is None
    await storage.switch_branch(A, sid, ids["q3"])  # deep in another branch: its whole path is shown
    assert await shown(storage, sid) == ["m0", "a1b", "q3"]
    a1b = await storage.get_message(A, sid, ids["a1b"])
    assert a1b["sibling_ids"] == [ids["a1"], ids["a1b"]]
    await storage.switch_branch(A, sid, ids["a1"])  # each place remembers the version last shown after it
    assert await shown(storage, sid) == ["m0", "a1", "q2", "a2"]


async def test_deleting_inside_a_branch_moves_what_followed_up(storage: Storage) -> None:
    sid, ids = await tree(storage)
    await storage.switch_branch(A, sid, ids["a2"])
    # An answer in the middle: the next question moves up to the answer's question, and stays shown.
    await storage.delete_message(A, sid, ids["a1"])
    assert await shown(storage, sid) == ["m0", "q2", "a2"]
    q2 = await storage.get_message(A, sid, ids["q2"])
    assert q2["parent_id"] == ids["q1"] and q2["sibling_ids"] == [ids["q2"], ids["a1b"]]
    # The first question with its answers: what followed them becomes the start of the conversation.
    await storage.delete_message(A, sid, ids["q1"])
    assert await shown(storage, sid) == ["q2", "a2"]
    roots = (await storage.get_message(A, sid, ids["q2"]))["sibling_ids"]
    assert roots == [ids["q2"], ids["q3"], ids["r1"]]  # q3 followed a1b, which went with q1


async def test_deleting_the_version_shown_shows_its_neighbour(storage: Storage) -> None:
    sid, ids = await tree(storage)
    await storage.switch_branch(A, sid, ids["a1b"])
    await storage.delete_message(A, sid, ids["q3"])  # the leaf: the branch ends one earlier
    assert await shown(storage, sid) == ["m0", "a1b"]
    await storage.delete_message(A, sid, ids["a1b"])  # no child left: the older version takes its place
    assert await shown(storage, sid) == ["m0", "a1", "q2", "a2"]
    await storage.delete_message(A, sid, ids["r1"])
    await storage.delete_message(A, sid, ids["q1"])  # everything of the first question went with it
    assert await shown(storage, sid) == ["q2", "a2"]


async def test_a_stale_pointer_ends_the_branch_instead_of_jumping(storage: Storage) -> None:
    sid, ids = await tree(storage)
    await storage.switch_branch(A, sid, ids["a2"])
    _other, (elsewhere,) = await chat(storage, A, 1)
    async with storage.engine.begin() as conn:  # a pointer to another conversation's message
        await conn.execute(text("UPDATE messages SET active_child_id = :o WHERE id = :q"),
                           {"o": elsewhere, "q": ids["q2"]})
    assert await shown(storage, sid) == ["m0", "a1", "q2"]
    assert await storage.history(sid, ids["q2"], 100) == [("human", "m0"), ("assistant", "a1"), ("human", "q2")]
