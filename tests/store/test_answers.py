"""Answers as generations write them (store/answers.py): history, progress, final state, restarts."""

from __future__ import annotations

import pytest

from assistant_stream.core.errors import MessageNotFound, NotFound
from assistant_stream.store.storage import Storage
from tests.support.storage import A, B, chat


async def test_history_is_what_the_model_sees(storage: Storage) -> None:
    sid, _ = await chat(storage)
    other, _ = await chat(storage, A, 1)
    add = storage.add_message
    await add(A, sid, "system", "sys")
    h1 = await add(A, sid, "human", "h1")
    await add(A, sid, "assistant", "a1", reply_to=h1["id"])
    h2 = await add(A, sid, "human", "h2")
    for status, content in [("error", "failed"), ("generating", "running"), ("done", ""),
                            ("cancelled", "a2 cut"), ("interrupted", "a2 half")]:
        await add(A, sid, "assistant", content, status=status, reply_to=h2["id"])
    h3 = await add(A, sid, "human", "")
    after = await add(A, sid, "human", "later")

    expected = [("human", "h1"), ("assistant", "a1"), ("human", "h2"), ("assistant", "a2 cut"),
                ("assistant", "a2 half"), ("human", "")]
    assert await storage.history(sid, h3["id"], 100) == expected  # the branch up to h3, inclusive
    assert await storage.history(sid, h3["id"], 3) == expected[-3:]
    assert await storage.history(sid, h1["id"], 100) == [("human", "h1")]
    assert await storage.history(sid, h1["id"], 0) == []
    assert await storage.history(sid, after["id"], 100) == [*expected, ("human", "later")]
    assert await storage.history(other, h3["id"], 100) == []  # another session's message is not this one's


async def test_history_follows_the_branch_not_the_ids(storage: Storage) -> None:
    sid, (q1,) = await chat(storage, A, 1)
    a1 = await storage.add_message(A, sid, "assistant", "a1", reply_to=q1)
    q2 = await storage.add_message(A, sid, "human", "q2")
    # A second version of the answer, newer than q2: its branch holds q1 and itself, never q2.
    a1b = await storage.add_message(A, sid, "assistant", "a1b", reply_to=q1, parent=q1)
    q3 = await storage.add_message(A, sid, "human", "q3")
    assert await storage.history(sid, q3["id"], 100) == [("human", "m0"), ("assistant", "a1b"), ("human", "q3")]
    assert await storage.history(sid, q2["id"], 100) == [("human", "m0"), ("assistant", "a1"), ("human", "q2")]
    assert a1["id"] < q2["id"] < a1b["id"]


async def test_reopen_answer_keeps_text_and_usage(storage: Storage) -> None:
    sid, (q,) = await chat(storage, A, 1)
    a = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=q)
    await storage.finish_message(a["id"], status="done", content="half", reasoning="r", finish_reason="length",
                                 prompt_tokens=3, completion_tokens=4, total_tokens=7)
    await storage.reopen_answer(a["id"])
    row = await storage.get_message(A, sid, a["id"])
    assert (row["status"], row["finish_reason"], row["content"], row["total_tokens"]) == ("generating", None,
                                                                                         "half", 7)


async def test_generating_and_count(storage: Storage) -> None:
    s1, (q1,) = await chat(storage, A, 1)
    s2, (q2,) = await chat(storage, A, 1)
    sb, (qb,) = await chat(storage, B, 1)
    assert await storage.generating_message(s1) is None
    assert await storage.count_generating(A) == 0
    g1 = await storage.add_message(A, s1, "assistant", "", status="generating", reply_to=q1)
    await storage.add_message(A, s2, "assistant", "", status="generating", reply_to=q2)
    await storage.add_message(B, sb, "assistant", "", status="generating", reply_to=qb)
    await storage.add_message(A, s1, "assistant", "old", status="done", reply_to=q1)
    assert (await storage.generating_message(s1))["id"] == g1["id"]  # type: ignore[index]
    assert (await storage.count_generating(A), await storage.count_generating(B)) == (2, 1)
    await storage.finish_message(g1["id"], status="done", content="x", reasoning="")
    assert await storage.generating_message(s1) is None
    assert await storage.count_generating(A) == 1


async def test_progress_then_finish(storage: Storage) -> None:
    sid, (q,) = await chat(storage, A, 1)
    a = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=q, model="m")
    await storage.save_progress(a["id"], "Hel", "think")
    got = await storage.get_message(A, sid, a["id"])
    assert (got["content"], got["reasoning"], got["status"]) == ("Hel", "think", "generating")

    done = await storage.finish_message(
        a["id"], status="done", content="Hello", reasoning="thought", finish_reason="stop",
        prompt_tokens=3, completion_tokens=5, total_tokens=8, tokens_per_second=41.5)
    assert done == await storage.get_message(A, sid, a["id"])
    assert done is not None
    assert (done["status"], done["content"], done["reasoning"], done["finish_reason"]) == \
        ("done", "Hello", "thought", "stop")
    assert (done["prompt_tokens"], done["completion_tokens"], done["total_tokens"]) == (3, 5, 8)
    assert done["tokens_per_second"] == pytest.approx(41.5)
    assert done["error"] is None and done["model"] == "m"

    # A late checkpoint must not overwrite the final text.
    await storage.save_progress(a["id"], "stale", "stale")
    assert (await storage.get_message(A, sid, a["id"]))["content"] == "Hello"

    failed = await storage.finish_message(a["id"], status="error", content="", reasoning="",
                                          error="The AI provider failed")
    assert failed is not None and (failed["status"], failed["error"]) == ("error", "The AI provider failed")
    with pytest.raises(ValueError):
        await storage.finish_message(a["id"], status="generating", content="", reasoning="")


async def test_deleted_while_generating(storage: Storage) -> None:
    sid, (q,) = await chat(storage, A, 1)
    a = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=q)
    await storage.delete_message(A, sid, a["id"])
    await storage.save_progress(a["id"], "text", "")  # no error
    assert await storage.finish_message(a["id"], status="done", content="text", reasoning="") is None
    assert await storage.get_message_by_id(a["id"]) is None
    await storage.delete_session(A, sid)
    assert await storage.finish_message(a["id"], status="cancelled", content="", reasoning="") is None


async def test_mark_interrupted_keeps_saved_text(storage: Storage) -> None:
    sid, (q,) = await chat(storage, A, 1)
    g1 = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=q)
    g2 = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=q)
    done = await storage.add_message(A, sid, "assistant", "final", reply_to=q)
    await storage.save_progress(g1["id"], "half an answer", "some thoughts")
    assert await storage.mark_interrupted() == 2
    m1 = await storage.get_message_by_id(g1["id"])
    assert m1 is not None
    assert (m1["status"], m1["content"]) == ("interrupted", "half an answer")
    assert m1["reasoning"] == "some thoughts"
    assert (await storage.get_message_by_id(g2["id"]))["status"] == "interrupted"  # type: ignore[index]
    assert (await storage.get_message_by_id(done["id"]))["status"] == "done"  # type: ignore[index]
    assert await storage.mark_interrupted() == 0


async def test_get_message_by_id(storage: Storage) -> None:
    sid, (mid,) = await chat(storage, B, 1)
    assert (await storage.get_message_by_id(mid))["session_id"] == sid  # type: ignore[index]
    assert await storage.get_message_by_id(mid + 1000) is None


async def test_start_answer_attaches_or_inserts_in_one_go(storage: Storage) -> None:
    sid, (q1,) = await chat(storage, A, 1)
    first = await storage.start_answer(A, sid, q1, history_limit=10, model="m", engine="stream")
    assert first.existing is None and first.message is not None and first.human["id"] == q1
    assert first.message["status"] == "generating" and first.message["reply_to"] == q1
    assert [(role, text) for _id, role, text in first.history] == [("human", "m0")]
    again = await storage.start_answer(A, sid, None, history_limit=10, model="m", engine="stream")  # newest
    assert again.message is None and again.existing is not None and again.existing["id"] == first.message["id"]
    new = await storage.start_answer(A, sid, None, history_limit=10, model="m", engine="stream",
                                     beside=first.message["id"])  # a new version: the old one stays
    assert new.message is not None and new.message["reply_to"] == q1 and new.message["parent_id"] == q1
    assert [m["id"] for m in await storage.list_messages(A, sid, 10, 0)] == [q1, new.message["id"]]
    assert new.message["sibling_ids"] == [first.message["id"], new.message["id"]]
    with pytest.raises(NotFound) as other_user:
        await storage.start_answer(B, sid, q1, history_limit=10, model="m", engine="stream")
    assert other_user.value.message == "Session not found"
    with pytest.raises(MessageNotFound):
        await storage.start_answer(A, sid, new.message["id"], history_limit=10, model="m", engine="stream")


async def test_history_walks_only_as_far_as_it_can_reach(storage: Storage) -> None:
    sid, (q,) = await chat(storage, A, 1)
    for i in range(30):
        await storage.add_message(A, sid, "assistant", "", status="error", reply_to=q)  # skipped, but walked
        q = (await storage.add_message(A, sid, "human", f"q{i}"))["id"]
    got = await storage.history(sid, q, 3)
    assert got == [("human", "q27"), ("human", "q28"), ("human", "q29")]
    assert len(await storage.history(sid, q, 100)) == 31  # the whole path when the history reaches that far
