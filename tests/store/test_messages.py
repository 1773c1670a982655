"""Messages (store/messages.py): shape, paging, deletion, answers to questions, validation and cleaning."""

from __future__ import annotations

import time

import pytest

from assistant_stream.core.errors import InvalidInput, NotFound, TooLarge
from assistant_stream.core.limits import MAX_CONTENT, MAX_TITLE
from assistant_stream.store.models import MESSAGE_FIELDS
from assistant_stream.store.storage import Storage
from tests.support.storage import A, chat

# --- messages ---------------------------------------------------------------------------------------


async def test_add_and_get_message_shape(storage: Storage) -> None:
    sid, _ = await chat(storage)
    session_before = await storage.get_session(A, sid)
    m = await storage.add_message(A, sid, "human", "Hello", 1_700_000_123)
    assert set(m) == {*MESSAGE_FIELDS, "sibling_ids"}
    assert m["parent_id"] is None and m["sibling_ids"] == [m["id"]]
    assert m == await storage.get_message(A, sid, m["id"])
    assert (m["session_id"], m["role"], m["content"]) == (sid, "human", "Hello")
    assert m["timestamp"] == 1_700_000_123
    assert (m["status"], m["reasoning"], m["sources"], m["attachments"]) == ("done", "", "[]", "[]")
    assert m["reply_to"] is None and m["error"] is None and m["ocp_task_id"] is None
    assert (await storage.get_session(A, sid))["updated_at"] >= session_before["updated_at"]

    a = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=m["id"], model="gpt",
                                  connection="default")
    assert (a["status"], a["reply_to"], a["model"], a["content"]) == ("generating", m["id"], "gpt", "")
    assert (a["parent_id"], a["connection"]) == (m["id"], "default")
    assert abs(a["timestamp"] - time.time()) < 5


async def test_paging_like_nextcloud_assistant(storage: Storage) -> None:
    sid, ids = await chat(storage, A, 25)

    async def page(limit: int, cursor: int) -> list[int]:
        return [m["id"] for m in await storage.list_messages(A, sid, limit, cursor)]

    assert await page(10, 0) == ids[15:25]  # the newest 10, oldest first
    assert await page(10, 10) == ids[5:15]
    assert await page(10, 20) == ids[0:5]
    assert await page(10, 25) == []
    assert await page(200, 0) == ids
    assert await page(1, 0) == [ids[-1]]
    empty, _ = await chat(storage, A)
    assert await storage.list_messages(A, empty, 20, 0) == []
    for limit, cursor in [(0, 0), (201, 0), (10, -1)]:
        with pytest.raises(InvalidInput):
            await storage.list_messages(A, sid, limit, cursor)


async def test_deleting_a_question_takes_its_answers_and_keeps_what_followed(storage: Storage) -> None:
    sid, (q,) = await chat(storage, A, 1)
    a = await storage.add_message(A, sid, "assistant", "answer", reply_to=q)
    b = await storage.add_message(A, sid, "assistant", "again", reply_to=q, parent=q)
    q2 = await storage.add_message(A, sid, "human", "next")
    assert await storage.delete_message(A, sid, q) == [q, a["id"], b["id"]]
    for gone in (q, a["id"], b["id"]):
        with pytest.raises(NotFound):
            await storage.get_message(A, sid, gone)
    with pytest.raises(NotFound):
        await storage.delete_message(A, sid, q)
    assert [m["id"] for m in await storage.list_messages(A, sid, 20, 0)] == [q2["id"]]
    assert (await storage.get_message(A, sid, q2["id"]))["parent_id"] is None


async def test_deleting_an_answer_keeps_its_question(storage: Storage) -> None:
    sid, (q,) = await chat(storage, A, 1)
    a = await storage.add_message(A, sid, "assistant", "answer", reply_to=q)
    assert await storage.delete_message(A, sid, a["id"]) == [a["id"]]
    assert [m["id"] for m in await storage.list_messages(A, sid, 20, 0)] == [q]


async def test_last_human_message_and_answer_to(storage: Storage) -> None:
    sid, _ = await chat(storage)
    with pytest.raises(NotFound):
        await storage.last_human_message(A, sid)
    q1 = await storage.add_message(A, sid, "human", "q1")
    assert await storage.answer_to(A, sid, q1["id"]) is None
    old = await storage.add_message(A, sid, "assistant", "a1", reply_to=q1["id"])
    new = await storage.add_message(A, sid, "assistant", "a1 again", reply_to=q1["id"], parent=q1["id"])
    q2 = await storage.add_message(A, sid, "human", "q2")
    await storage.add_message(A, sid, "assistant", "unrelated")
    assert (await storage.last_human_message(A, sid))["id"] == q2["id"]
    assert (await storage.answer_to(A, sid, q1["id"]))["id"] == new["id"]  # type: ignore[index]
    await storage.switch_branch(A, sid, old["id"])
    assert (await storage.answer_to(A, sid, q1["id"]))["id"] == old["id"]  # the version shown
    assert (await storage.last_human_message(A, sid))["id"] == q1["id"]  # q2 is on the other branch
    await storage.delete_message(A, sid, old["id"])
    assert (await storage.answer_to(A, sid, q1["id"]))["id"] == new["id"]  # type: ignore[index]
    assert await storage.answer_to(A, sid, q2["id"]) is None


# --- validation ---------------------------------------------------------------------------------------


async def test_validation(storage: Storage) -> None:
    sid, _ = await chat(storage)
    await storage.create_session(A, "t" * MAX_TITLE, None)
    with pytest.raises(InvalidInput, match="title is too long"):
        await storage.create_session(A, "t" * (MAX_TITLE + 1), None)
    with pytest.raises(InvalidInput, match="title is too long"):
        await storage.update_session_title(A, sid, "t" * (MAX_TITLE + 1))
    with pytest.raises(InvalidInput, match="title must be text"):
        await storage.update_session_title(A, sid, 5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="timestamp"):
        await storage.create_session(A, None, -1)
    with pytest.raises(InvalidInput, match="timestamp"):
        await storage.add_message(A, sid, "human", "x", 2**63)

    big = await storage.add_message(A, sid, "human", "x" * MAX_CONTENT)
    assert len(big["content"]) == MAX_CONTENT
    with pytest.raises(TooLarge, match="too long"):
        await storage.add_message(A, sid, "human", "x" * (MAX_CONTENT + 1))
    with pytest.raises(InvalidInput, match="role"):
        await storage.add_message(A, sid, "user", "x")
    with pytest.raises(InvalidInput, match="status"):
        await storage.add_message(A, sid, "assistant", "x", status="weird")
    with pytest.raises(InvalidInput, match="must be text"):
        await storage.add_message(A, sid, "human", None)  # type: ignore[arg-type]
    # Rejected writes left nothing behind.
    assert [len(m["content"]) for m in await storage.list_messages(A, sid, 20, 0)] == [MAX_CONTENT]


async def test_text_that_databases_reject_is_cleaned(storage: Storage) -> None:
    sid, _ = await chat(storage)
    m = await storage.add_message(A, sid, "human", "a\x00b \ud800 ünïcødé 🎉")
    assert m["content"] == "ab \ufffd ünïcødé 🎉"
    s = await storage.update_session_title(A, sid, "x\x00y")
    assert s["title"] == "xy"
    a = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=m["id"])
    await storage.save_progress(a["id"], "p\x00", "r\udfff")
    done = await storage.finish_message(a["id"], status="done", content="c\x00", reasoning="", error="e\x00")
    assert done is not None and (done["content"], done["error"]) == ("c", "e")
