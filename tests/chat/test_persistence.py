"""Saving generations (chat/persistence.py): the final save retried, and an answer that ended during a database
outage written as it really ended once the database is back."""

from __future__ import annotations

import pytest

from assistant_stream.chat.generation import Generation, answer_key
from assistant_stream.chat.persistence import AnswerSaver
from assistant_stream.core.errors import ProviderTimeout, StorageUnavailable
from assistant_stream.store.storage import Storage
from tests.support.generations import sqlite_storage  # noqa: F401 (the `storage` fixture)

A = "alice"


class Outage:
    """Storage whose finish_message fails while ``down`` (a database outage); everything else is real."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self.down = True
        self.attempts = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._storage, name)

    async def finish_message(self, message_id: int, **kw: object) -> object:
        self.attempts += 1
        if self.down:
            raise StorageUnavailable("The database is unavailable (cannot connect), try again shortly")
        return await self._storage.finish_message(message_id, **kw)  # type: ignore[arg-type]


async def answer(storage: Storage) -> Generation:
    sid = (await storage.create_session(A, None, None))["id"]
    human = await storage.add_message(A, sid, "human", "q")
    row = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=human["id"], engine="stream")
    gen = Generation(key=answer_key(row["id"]), kind="answer", user_id=A, session_id=sid, message_id=row["id"],
                     reply_to=human["id"], model="m", engine="stream")
    gen.text_parts.append("partial text")
    return gen


async def test_the_final_save_is_tried_three_times(storage: Storage) -> None:
    outage = Outage(storage)
    saver = AnswerSaver(outage, retry_backoff=0)  # type: ignore[arg-type]
    gen = await answer(storage)
    gen.status = "done"
    with pytest.raises(StorageUnavailable):
        await saver.save_final(gen)
    assert outage.attempts == 3


async def test_an_unsaved_answer_is_written_as_it_ended_once_the_database_is_back(storage: Storage) -> None:
    outage = Outage(storage)
    saver = AnswerSaver(outage, retry_backoff=0)  # type: ignore[arg-type]
    gen = await answer(storage)
    gen.status, gen.error = "error", ProviderTimeout("too slow", partial=True)
    saver.keep_unsaved(gen)
    gen.status = "error"  # what readers are told meanwhile may differ: the saved outcome is the real one
    assert saver.unsaved(gen.message_id or 0) is gen
    await saver.retry_unsaved()  # still down: kept
    assert saver.unsaved(gen.message_id or 0) is gen
    outage.down = False
    await saver.retry_unsaved()
    assert saver.unsaved(gen.message_id or 0) is None
    row = await storage.get_message(A, gen.session_id, gen.message_id or 0)
    assert (row["status"], row["content"], row["error_code"]) == ("error", "partial text", "provider_timeout")
    assert gen.final_message == row


async def test_progress_is_saved_only_for_live_answers_with_new_text(storage: Storage) -> None:
    saver = AnswerSaver(storage)
    gen = await answer(storage)
    await saver.save_progress([gen])  # nothing new (not dirty)
    assert (await storage.get_message(A, gen.session_id, gen.message_id or 0))["content"] == ""
    gen.dirty = True
    await saver.save_progress([gen])
    assert (await storage.get_message(A, gen.session_id, gen.message_id or 0))["content"] == "partial text"
    assert gen.dirty is False
