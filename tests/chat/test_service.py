"""ChatService (chat/service.py): what routes may ask, answered from storage and generations alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from assistant_stream.chat.service import ChatService
from assistant_stream.core.errors import EmptyMessage, InvalidParameter, MessageNotFound, MissingParameter
from assistant_stream.core.events import Finish, TextDelta
from assistant_stream.store.storage import Storage
from tests.support.engines import ListEngine
from tests.support.generations import chat_service

A = "alice"


@pytest.fixture
async def engine() -> ListEngine:
    return ListEngine([TextDelta("Hello "), TextDelta("there"), Finish("stop")], hold=asyncio.Event())


@pytest.fixture
async def chat(tmp_path: Path, engine: ListEngine) -> AsyncIterator[ChatService]:
    storage = Storage(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await storage.migrate()
    async with chat_service(storage, engine) as service:
        yield service
    await storage.close()


async def test_messages_are_checked_and_the_first_one_titles_the_session(chat: ChatService) -> None:
    sid = (await chat.new_session(A, None, None))["id"]
    with pytest.raises(EmptyMessage):
        await chat.add_message(A, sid, "human", "  \n ", None, first=True)
    with pytest.raises(InvalidParameter):
        await chat.add_message(A, sid, "system", "x", None, first=False)
    long = "word " * 60
    message = await chat.add_message(A, sid, "human", f"  {long}  ", None, first=True)
    assert message["content"] == long.strip()
    assert (await chat.session_state(A, sid)).title == long.strip()[:140] + "..."


async def test_a_running_answer_seen_by_check_poll_and_session_state(chat: ChatService, engine: ListEngine) -> None:
    sid = (await chat.new_session(A, None, None))["id"]
    mid = (await chat.add_message(A, sid, "human", "Hi", None, first=True))["id"]
    started = await chat.generate(A, sid)
    assert started.reply_to == mid and started.engine == "stream" and not started.done
    view = await chat.poll(A, sid, message_id=None, task_id=started.message_id, title=False, cursor=0, rcursor=0,
                           timeout=5)
    assert view.text == "Hello there" and not view.done  # woken by the text, the answer still open
    assert (await chat.session_state(A, sid)).answer_id == started.message_id
    running = await chat.check_answer(A, sid, started.message_id or 0)
    assert running.first_token and running.message is not None and running.message["status"] == "generating"
    assert engine.hold is not None
    engine.hold.set()
    done = await chat.poll(A, sid, message_id=None, task_id=started.message_id, title=False, cursor=11, rcursor=0,
                           timeout=5)
    assert done.done and done.status == "done" and done.message is not None
    with pytest.raises(MissingParameter):
        await chat.poll(A, sid, message_id=None, task_id=None, title=False, cursor=0, rcursor=0, timeout=0)
    with pytest.raises(MessageNotFound):
        await chat.human_message(A, sid, started.message_id or 0)


async def test_deleting_a_session_stops_its_answer(chat: ChatService) -> None:
    sid = (await chat.new_session(A, None, None))["id"]
    await chat.add_message(A, sid, "human", "Hi", None, first=False)
    await chat.generate(A, sid)
    assert chat.active_generations == 1
    await chat.delete_session(A, sid)
    assert chat.active_generations == 0 and await chat.sessions(A) == []
