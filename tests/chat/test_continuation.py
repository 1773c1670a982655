"""Continue (chat/continuation.py): which answers can go on, and an answer that goes on in place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant_stream.chat.continuation import check_continuable, continuable, usage_of
from assistant_stream.core.errors import CannotContinue, MessageNotFound
from assistant_stream.core.events import Finish, TextDelta, Usage
from assistant_stream.store.eventlog_memory import MemoryEventLog
from assistant_stream.store.storage import Storage
from tests.support.engines import ListEngine
from tests.support.generations import A, finished, new_manager, question


def answer(**kw: Any) -> dict[str, Any]:
    return {"role": "assistant", "reply_to": 1, "content": "so far", "engine": "stream", "status": "done",
            "finish_reason": "length", "prompt_tokens": None, "completion_tokens": None, "total_tokens": None, **kw}


def test_what_was_cut_off_can_be_continued() -> None:
    assert continuable(answer())
    assert continuable(answer(status="cancelled", finish_reason=None))
    assert continuable(answer(status="interrupted", finish_reason=None))
    assert not continuable(answer(finish_reason="stop"))  # it ended by itself
    assert not continuable(answer(content=""))  # nothing to go on from
    assert not continuable(answer(engine="taskprocessing"))  # Nextcloud's text processing cannot go on
    assert not continuable(answer(status="error"))
    with pytest.raises(CannotContinue):
        check_continuable(answer(finish_reason="stop"))
    with pytest.raises(MessageNotFound):
        check_continuable(answer(role="human"))
    assert usage_of(answer()) is None and usage_of(answer(total_tokens=3)) == Usage(None, None, 3)


async def test_continue_appends_to_the_answer_and_counts_its_tokens(tmp_path: Path) -> None:
    storage = Storage(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await storage.migrate()
    log = MemoryEventLog()
    engine = ListEngine([TextDelta("one "), Finish("length"), Usage(5, 1, 6)])
    manager = new_manager(storage, engine, eventlog=log)
    try:
        sid, mid = await question(storage)
        first = await finished(await manager.answer(A, sid, mid))
        engine.events = [TextDelta("two"), Finish("stop"), Usage(6, 1, 7)]
        more = await finished(await manager.continue_answer(A, sid, first.message_id or 0))
        assert more.message_id == first.message_id and more.text == "one two"
        events, _closed = await log.read(more.key, 0)
        # A reader of the log gets the whole answer: the text kept, then what was added.
        assert "".join(data for _i, kind, data in events if kind == "chunk") == "one two"
        row = await storage.get_message(A, sid, more.message_id or 0)
        assert (row["content"], row["finish_reason"], row["total_tokens"], row["completion_tokens"]) == (
            "one two", "stop", 13, 2)
        assert engine.prompts[-1][-1].role == "assistant" and engine.prompts[-1][-1].content == "one "
        with pytest.raises(CannotContinue):
            await manager.continue_answer(A, sid, more.message_id or 0)  # it ended normally now
        with pytest.raises(MessageNotFound):
            await manager.continue_answer(A, sid, mid)
    finally:
        await manager.shutdown()
        await storage.close()
