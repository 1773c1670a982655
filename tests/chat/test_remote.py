"""Another process's answer as this one long-polls it (chat/remote.py): text from the shared log, read a piece
at a time, waiting for more, and the end as the owner announced it."""

from __future__ import annotations

import asyncio

from assistant_stream.chat.answer import AnswerView
from assistant_stream.chat.remote import RemoteAnswers
from assistant_stream.store.eventlog_memory import MemoryEventLog

ROW = {"id": 7, "reply_to": 6, "model": "m", "engine": "stream", "status": "generating", "content": "stale",
       "reasoning": "", "finish_reason": None, "prompt_tokens": None, "completion_tokens": None,
       "total_tokens": None, "tokens_per_second": None, "error": None, "error_code": None}


async def test_text_from_the_log_not_the_row_then_the_end() -> None:
    log = MemoryEventLog()
    remote = RemoteAnswers(log)
    log.open("m7")
    log.append("m7", "started", AnswerView.of_row(ROW))
    log.append("m7", "reasoning", "hmm")
    log.append("m7", "chunk", "Hel")
    view = await remote.view("m7", ROW, cursor=0, rcursor=0, timeout=1)
    assert (view.text, view.reasoning, view.done) == ("Hel", "hmm", False)  # the row's "stale" is a second old

    async def later() -> None:
        await asyncio.sleep(0.05)
        log.append("m7", "chunk", "lo")

    writer = asyncio.create_task(later())
    view = await remote.view("m7", ROW, cursor=3, rcursor=3, timeout=5)  # nothing new yet: it waits
    await writer
    assert view.text == "Hello" and not view.done
    final = AnswerView.of_row({**ROW, "status": "done", "content": "Hello"})
    log.append("m7", "done", final)
    log.close("m7")
    assert await remote.view("m7", ROW, cursor=5, rcursor=3, timeout=5) == final


async def test_a_silent_answer_returns_after_the_timeout() -> None:
    log = MemoryEventLog()
    log.open("m7")
    loop = asyncio.get_running_loop()
    began = loop.time()
    view = await RemoteAnswers(log).view("m7", ROW, cursor=0, rcursor=0, timeout=0.1)
    assert view.text == "" and not view.done and loop.time() - began >= 0.09
