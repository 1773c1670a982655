"""Versions (chat/versions.py): edit a question (its files kept), switch versions, continue; never while an answer of
the conversation is being written, and a deleted question stops its running answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from assistant_stream.chat.service import ChatService
from assistant_stream.core.errors import CannotContinue, EmptyMessage, MessageNotFound, SessionBusy
from assistant_stream.core.events import Finish, TextDelta
from assistant_stream.store.storage import Storage
from tests.support.engines import ListEngine
from tests.support.generations import (
    chat_service,
    sqlite_storage,  # noqa: F401 (the `storage` fixture)
)

A = "alice"


@pytest.fixture
async def engine() -> ListEngine:
    return ListEngine([TextDelta("Hello"), Finish("length")], hold=asyncio.Event())


@pytest.fixture
async def chat(storage: Storage, engine: ListEngine) -> AsyncIterator[ChatService]:
    async with chat_service(storage, engine, {"STREAMING_API_URL": "http://127.0.0.1:9/v1"}) as service:
        yield service


async def test_versions_wait_for_the_running_answer_and_a_deleted_question_stops_it(chat: ChatService) -> None:
    sid = (await chat.new_session(A, None, None))["id"]
    q = await chat.add_message(A, sid, "human", "Question", None, first=True)
    view = await chat.generate(A, sid)
    for attempt in (chat.versions.edit(A, sid, q["id"], "Other question"), chat.versions.switch(A, sid, q["id"])):
        with pytest.raises(SessionBusy):
            await attempt
    with pytest.raises(CannotContinue):  # it is still being written
        await chat.versions.continue_answer(A, sid, view.message_id or 0)
    with pytest.raises(EmptyMessage):
        await chat.versions.edit(A, sid, q["id"], "   ")
    with pytest.raises(MessageNotFound):
        await chat.versions.edit(A, sid, view.message_id or 0, "an answer is no question")
    await chat.delete_message(A, sid, q["id"])  # the question, and its answer still being written
    assert chat.active_generations == 0 and await chat.messages(A, sid, 20, 0) == []
    again = await chat.add_message(A, sid, "human", "Again", None, first=False)
    edited = await chat.versions.edit(A, sid, again["id"], "Again, better")
    assert edited["sibling_ids"] == [again["id"], edited["id"]]
    tail, more = await chat.versions.switch(A, sid, again["id"])
    assert [m["content"] for m in tail] == ["Again"] and more is False


async def test_an_edited_question_keeps_its_files(chat: ChatService, storage: Storage) -> None:
    sid = (await chat.new_session(A, None, None))["id"]
    file = await storage.add_attachment(A, sid, source="upload", name="notes.md", mime="text/markdown", kind="text",
                                        size=5, text="notes")
    q = await storage.add_message(A, sid, "human", "Sum it up", attachment_ids=[file["id"]])
    edited = await chat.versions.edit(A, sid, q["id"], "Sum it up in a line")
    kept = (await storage.attachments_for([edited["id"]]))[edited["id"]]
    assert [(f["name"], f["text"]) for f in kept] == [("notes.md", "notes")] and kept[0]["id"] != file["id"]
    assert '"name":"notes.md"' in edited["attachments"]
    assert (await storage.attachments_for([q["id"]]))[q["id"]][0]["id"] == file["id"]  # the old version keeps its own


async def test_only_a_cut_off_answer_continues(chat: ChatService, engine: ListEngine) -> None:
    assert engine.hold is not None
    engine.hold.set()
    sid = (await chat.new_session(A, None, None))["id"]
    await chat.add_message(A, sid, "human", "Question", None, first=True)
    first = await chat.generate(A, sid)
    for _ in range(100):
        if chat.active_generations == 0:
            break
        await asyncio.sleep(0.02)
    engine.events = [TextDelta(" world"), Finish("stop")]
    more = await chat.versions.continue_answer(A, sid, first.message_id or 0)
    assert more.message_id == first.message_id and more.text.startswith("Hello")
    for _ in range(100):
        if chat.active_generations == 0:
            break
        await asyncio.sleep(0.02)
    assert (await chat.message(A, sid, first.message_id or 0))["content"] == "Hello world"
    with pytest.raises(CannotContinue):
        await chat.versions.continue_answer(A, sid, first.message_id or 0)
