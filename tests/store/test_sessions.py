"""Sessions (store/sessions.py): lifecycle, order, and one user's ids invisible to another."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import pytest

from assistant_stream.core.errors import NotFound
from assistant_stream.store.models import SESSION_FIELDS
from assistant_stream.store.storage import Storage
from tests.support.storage import A, B, chat, scalar

# --- sessions ---------------------------------------------------------------------------------------


async def test_session_lifecycle(storage: Storage) -> None:
    before = int(time.time())
    s1 = await storage.create_session(A, "First", 1_700_000_000)
    s2 = await storage.create_session(A, None, None)
    assert set(s1) == set(SESSION_FIELDS)
    assert s1["user_id"] == A and s1["title"] == "First" and s1["timestamp"] == 1_700_000_000
    assert s2["title"] is None and before <= s2["timestamp"] <= int(time.time()) + 1
    assert await storage.get_session(A, s1["id"]) == s1

    updated = await storage.update_session_title(A, s1["id"], "Renamed")
    assert updated["title"] == "Renamed"
    assert (await storage.get_session(A, s1["id"]))["title"] == "Renamed"

    await storage.delete_session(A, s2["id"])
    with pytest.raises(NotFound):
        await storage.get_session(A, s2["id"])
    assert [s["id"] for s in await storage.list_sessions(A)] == [s1["id"]]


async def test_list_sessions_newest_first_ties_by_id(storage: Storage) -> None:
    old = await storage.create_session(A, "old", 100)
    tie1 = await storage.create_session(A, "tie1", 200)
    tie2 = await storage.create_session(A, "tie2", 200)
    new = await storage.create_session(A, "new", 300)
    await storage.create_session(B, "other", 250)
    assert [s["id"] for s in await storage.list_sessions(A)] == [new["id"], tie2["id"], tie1["id"], old["id"]]
    assert [s["title"] for s in await storage.list_sessions(B)] == ["other"]
    assert await storage.list_sessions("nobody") == []


# --- ownership ---------------------------------------------------------------------------------------


async def test_other_users_ids_are_not_found_everywhere(storage: Storage) -> None:
    sid, (mid,) = await chat(storage, A, 1)
    answer = await storage.add_message(A, sid, "assistant", "hi", reply_to=mid)
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: storage.get_session(B, sid),
        lambda: storage.update_session_title(B, sid, "mine now"),
        lambda: storage.delete_session(B, sid),
        lambda: storage.add_message(B, sid, "human", "intrude"),
        lambda: storage.get_message(B, sid, mid),
        lambda: storage.get_message(B, sid, answer["id"]),
        lambda: storage.list_messages(B, sid, 20, 0),
        lambda: storage.delete_message(B, sid, mid),
        lambda: storage.last_human_message(B, sid),
        lambda: storage.answer_to(B, sid, mid),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            await call()
    assert await storage.list_sessions(B) == []
    assert await storage.count_generating(B) == 0
    # Nothing of A's changed.
    assert (await storage.get_session(A, sid))["title"] == "chat"
    assert [m["id"] for m in await storage.list_messages(A, sid, 20, 0)] == [mid, answer["id"]]


async def test_message_of_another_session_is_not_found(storage: Storage) -> None:
    sid1, (mid1,) = await chat(storage, A, 1)
    sid2, _ = await chat(storage, A, 1)
    with pytest.raises(NotFound):
        await storage.get_message(A, sid2, mid1)
    with pytest.raises(NotFound):
        await storage.delete_message(A, sid2, mid1)
    assert (await storage.get_message(A, sid1, mid1))["content"] == "m0"


@pytest.mark.parametrize("bad", [0, -1, 2**31, 2**40, True, "1", None])
async def test_impossible_ids_are_not_found(storage: Storage, bad: object) -> None:
    sid, _ = await chat(storage, A, 1)
    with pytest.raises(NotFound):
        await storage.get_session(A, bad)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await storage.get_message(A, sid, bad)  # type: ignore[arg-type]


async def test_delete_session_cascades(storage: Storage, storage_url: str) -> None:
    sid, ids = await chat(storage, A, 3)
    keep, kept_ids = await chat(storage, A, 2)
    await storage.delete_session(A, sid)
    assert all([await storage.get_message_by_id(i) is None for i in ids])
    assert await scalar(storage_url, "SELECT count(*) FROM messages WHERE session_id = :s", s=sid) == 0
    assert [m["id"] for m in await storage.list_messages(A, keep, 20, 0)] == kept_ids
    with pytest.raises(NotFound):
        await storage.delete_session(A, sid)
