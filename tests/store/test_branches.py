"""Switching versions (store/branches.py): the tail of the branch shown, paged; another user's is not found."""

from __future__ import annotations

import pytest

from assistant_stream.core.errors import NotFound
from assistant_stream.core.limits import MAX_PAGE
from assistant_stream.store.storage import Storage
from tests.support.storage import A, B, chat


async def test_switch_returns_the_branch_from_the_version_on(storage: Storage) -> None:
    sid, (q1,) = await chat(storage, A, 1)
    a1 = await storage.add_message(A, sid, "assistant", "a1", reply_to=q1)
    for i in range(MAX_PAGE + 1):
        await storage.add_message(A, sid, "human", f"long {i}")
    a1b = await storage.add_message(A, sid, "assistant", "a1b", reply_to=q1, parent=q1)
    tail, more = await storage.switch_branch(A, sid, a1b["id"])
    assert [m["content"] for m in tail] == ["a1b"] and more is False
    tail, more = await storage.switch_branch(A, sid, a1["id"])
    assert len(tail) == MAX_PAGE and more is True and tail[0]["id"] == a1["id"]
    assert len(await storage.branch(A, sid)) == MAX_PAGE + 3
    with pytest.raises(NotFound):
        await storage.switch_branch(B, sid, a1["id"])
    with pytest.raises(NotFound):
        await storage.branch(B, sid)
    _other, (elsewhere,) = await chat(storage, A, 1)
    with pytest.raises(NotFound):
        await storage.switch_branch(A, sid, elsewhere)  # a message of another conversation
