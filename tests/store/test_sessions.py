"""Sessions (store/sessions.py): lifecycle, order, and one user's ids invisible to another."""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable

import pytest

from assistant_stream.core.errors import NotFound
from assistant_stream.store import messages as store_messages
from assistant_stream.store import sessions as store_sessions
from assistant_stream.store.models import SESSION_FIELDS
from assistant_stream.store.sessions import search_terms
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


# --- the sidebar (issue #13, migration 0004): activity order, flags, search, manual titles ---------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every write one second after the one before: activity has an order even within a second."""
    ticks = itertools.count(1_800_000_000)
    tick = lambda: next(ticks)  # noqa: E731
    monkeypatch.setattr(store_sessions, "now", tick)
    monkeypatch.setattr(store_messages, "now", tick)


async def ids(storage: Storage, user: str, query: str | None = None) -> list[int]:
    return [s["id"] for s in await storage.list_sessions(user, query)]


async def test_sessions_by_last_activity_with_flags(storage: Storage, clock: None) -> None:
    older = await storage.create_session(A, "older", 100)
    newer = await storage.create_session(A, "newer", 200)
    assert await ids(storage, A) == [newer["id"], older["id"]]
    q = await storage.add_message(A, older["id"], "human", "a question")
    assert await ids(storage, A) == [older["id"], newer["id"]]  # a message moves it up
    await storage.update_session_title(A, newer["id"], "renamed")
    assert await ids(storage, A) == [newer["id"], older["id"]]  # an empty one renamed: still the newest thing

    answer = await storage.add_message(A, older["id"], "assistant", "", status="generating", reply_to=q["id"])
    listed = {s["id"]: s for s in await storage.list_sessions(A)}
    assert (listed[older["id"]]["generating"], listed[older["id"]]["empty"]) == (True, False)
    assert (listed[newer["id"]]["generating"], listed[newer["id"]]["empty"]) == (False, True)
    assert listed[older["id"]]["last_activity"] > listed[newer["id"]]["last_activity"]
    await storage.finish_message(answer["id"], status="done", content="an answer", reasoning="")
    assert (await storage.list_sessions(A))[0]["generating"] is False


async def test_search_titles_and_message_text(storage: Storage, clock: None) -> None:
    paris = await storage.create_session(A, "Weekend in Paris", None)
    code = await storage.create_session(A, None, None)
    q = await storage.add_message(A, code["id"], "human", "How do I reverse a list in Python?")
    answer = await storage.add_message(A, code["id"], "assistant", "", status="generating", reply_to=q["id"])
    await storage.create_session(B, "Paris for Bob", None)

    assert await ids(storage, A, "paris") == [paris["id"]]  # a title; case does not matter; only A's
    assert await ids(storage, A, "REVERSE list") == [code["id"]]  # every word, in a message
    assert await ids(storage, A, "pyth") == [code["id"]]  # a word's beginning is enough
    assert await ids(storage, A, "paris python") == []  # every word in one title or one message
    assert await ids(storage, A, "slicing") == []
    # The answer's text counts once it is written, also while it is generated (saved progress).
    await storage.save_progress(answer["id"], "Use slicing: items[::-1]", "")
    assert await ids(storage, A, "slicing") == [code["id"]]
    await storage.finish_message(answer["id"], status="done", content="Use reversed(items).", reasoning="")
    assert await ids(storage, A, "slicing") == []
    assert await ids(storage, A, "reversed") == [code["id"]]
    # Renamed titles and deleted messages are what the index says too.
    await storage.update_session_title(A, paris["id"], "Weekend in Rome")
    assert await ids(storage, A, "paris") == []
    assert await ids(storage, A, "rome") == [paris["id"]]
    await storage.delete_message(A, code["id"], q["id"])
    assert await ids(storage, A, "reverse") == [] and await ids(storage, A, "reversed") == []


@pytest.mark.parametrize("query", ['"', "*", "AND OR NOT", "a\"b OR c*", "'; DROP TABLE sessions; --", "NEAR(",
                                   "title:x", "!@#$%^&()", "   "])
async def test_search_syntax_is_never_query_syntax(storage: Storage, query: str) -> None:
    s = await storage.create_session(A, "AND OR NOT title", None)
    found = await ids(storage, A, query)
    assert found in ([], [s["id"]])
    assert await ids(storage, A) == [s["id"]]


def test_search_terms() -> None:
    assert search_terms("  Héllo, wörld_2 foo-bar ") == ["héllo", "wörld", "2", "foo", "bar"]
    assert len(search_terms("w " * 50)) == 8


async def test_a_title_the_user_gave_is_kept(storage: Storage) -> None:
    s = await storage.create_session(A, None, None)
    await storage.update_session_title(A, s["id"], "Mine")
    assert (await storage.get_session(A, s["id"]))["title_manual"] is True
    await storage.update_session_title(A, s["id"], "Generated", generated=True)
    await storage.add_message(A, s["id"], "human", "first question", session_title="first question")
    assert (await storage.get_session(A, s["id"]))["title"] == "Mine"
    other = await storage.create_session(A, None, None)
    await storage.update_session_title(A, other["id"], "Generated", generated=True)
    assert (await storage.get_session(A, other["id"]))["title"] == "Generated"


async def test_a_question_goes_with_its_answers(storage: Storage) -> None:
    s = await storage.create_session(A, None, None)
    q1 = await storage.add_message(A, s["id"], "human", "one")
    a1 = await storage.add_message(A, s["id"], "assistant", "uno", reply_to=q1["id"])
    q2 = await storage.add_message(A, s["id"], "human", "two")
    a2 = await storage.add_message(A, s["id"], "assistant", "dos", reply_to=q2["id"])
    assert await storage.delete_message(A, s["id"], q1["id"]) == [q1["id"], a1["id"]]
    assert await storage.delete_message(A, s["id"], a2["id"]) == [a2["id"]]  # an answer alone
    assert [m["id"] for m in await storage.list_messages(A, s["id"], 10, 0)] == [q2["id"]]


async def test_thinking_time_and_wait_are_stored(storage: Storage) -> None:
    s = await storage.create_session(A, None, None)
    q = await storage.add_message(A, s["id"], "human", "think")
    a = await storage.add_message(A, s["id"], "assistant", "", status="generating", reply_to=q["id"])
    done = await storage.finish_message(a["id"], status="error", content="", reasoning="hm", thinking_ms=4200,
                                        retry_after=20, error="limited", error_code="provider_rate_limited")
    assert done is not None and (done["thinking_ms"], done["retry_after"]) == (4200, 20)


async def test_conversation_options_are_changed_one_by_one(storage: Storage) -> None:
    sid = (await storage.create_session(A, None, None))["id"]
    empty = {"connection": None, "model": None, "system_prompt": None, "temperature": None, "max_tokens": None}
    assert await storage.session_options(A, sid) == empty
    changed = await storage.set_session_options(A, sid, {"connection": "lab", "model": "llama", "temperature": 0.5})
    assert changed == {**empty, "connection": "lab", "model": "llama", "temperature": 0.5}
    again = await storage.set_session_options(A, sid, {"temperature": None, "max_tokens": 9, "user_id": "bob"})
    assert again == {**empty, "connection": "lab", "model": "llama", "max_tokens": 9}
    listed = (await storage.list_sessions(A))[0]
    assert (listed["connection"], listed["model"]) == ("lab", "llama") and "system_prompt" not in listed
    with pytest.raises(NotFound):
        await storage.session_options(B, sid)
    with pytest.raises(NotFound):
        await storage.set_session_options(B, sid, {"model": "x"})
