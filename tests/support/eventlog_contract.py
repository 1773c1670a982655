"""One contract for every event log: the in-memory one (one process) and the Redis Streams one (read from its
own process or from another). tests/store/test_eventlog_memory.py and test_eventlog_redis.py import these tests
and give them a ``pair`` fixture (writer, reader)."""

from __future__ import annotations

import asyncio
import random
import tracemalloc
from typing import Any

import pytest

from assistant_stream.store.eventlog_memory import TERMINAL_KINDS
from assistant_stream.store.eventlog_redis import RedisEventLog
from assistant_stream.store.redis_hub import RedisHub

__all__ = ["CONTRACT", "Pair", "read_all", "redis_log", "text"]


class Pair:
    """The log a generation writes and the log a reader reads (the same object in one process)."""

    def __init__(self, writer: Any, reader: Any, kind: str) -> None:
        self.writer, self.reader, self.kind = writer, reader, kind

    async def settle(self) -> None:
        if isinstance(self.writer, RedisEventLog):
            assert await self.writer.drain(5)


async def redis_log(url: str, prefix: str, **kw: Any) -> tuple[RedisHub, RedisEventLog]:
    hub = RedisHub(url, prefix=prefix)
    await hub.start()
    return hub, RedisEventLog(hub, **kw)


def text(events: list[tuple[int, str, Any]], kind: str = "chunk") -> str:
    return "".join(d for _, k, d in events if k == kind)


async def read_all(log: Any, key: str, after: int) -> tuple[list[tuple[int, str, Any]], bool]:
    out: list[tuple[int, str, Any]] = []
    while True:
        events, closed = await log.read(key, after)
        out += events
        if events:
            after = events[-1][0]
        if closed or not events:
            return out, closed


async def test_replay_from_every_id_is_exact_however_chunks_were_merged(pair: Pair) -> None:
    w, r = pair.writer, pair.reader
    w.open("k")
    started = w.append("k", "started", {"started": True, "messageId": 7})
    pieces = ["Hel", "lo", " ", "wörld", "!", "🙂", "x" * 3000, "a", "b"]
    chunk_ids, reasoning_id = [], 0
    for i, piece in enumerate(pieces):
        chunk_ids.append(w.append("k", "chunk", piece))
        if i == 3:
            reasoning_id = w.append("k", "reasoning", "thinking")
    done = w.append("k", "done", {"done": True, "status": "done"})
    w.close("k")
    await pair.settle()
    ids = [started, *chunk_ids[:4], reasoning_id, *chunk_ids[4:], done]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), "ids strictly increase"
    for after in [0, *ids]:
        events, closed = await read_all(r, "k", after)
        assert closed
        assert all(e[0] > after for e in events)
        # After any id the reader was sent: exactly the rest of the text, and each other event once.
        expected = "".join(p for p, i in zip(pieces, chunk_ids, strict=True) if i > after)
        assert text(events) == expected, f"after id {after}"
        kinds = [k for _, k, _ in events]
        assert kinds.count("done") == (after < done) and (after == done or kinds[-1] == "done")
        assert ("started" in kinds) == (after < started)
        assert ("reasoning" in kinds) == (after < reasoning_id)
    events, _ = await read_all(r, "k", 0)
    assert text(events) == "".join(pieces) and text(events, "reasoning") == "thinking"


async def test_followers_get_every_event_exactly_once_and_the_end(pair: Pair) -> None:
    w, r = pair.writer, pair.reader
    w.open("f")
    w.append("f", "started", {"started": True})
    await pair.settle()
    rng = random.Random(7)
    sent = [rng.choice(["a", "bc", "déf", "ghij", "\n"]) for _ in range(400)]

    async def follower() -> tuple[str, int]:
        text, after, dones = "", 0, 0
        while True:
            events, closed = await r.read("f", after)
            for event_id, kind, data in events:
                assert event_id > after
                after = event_id
                if kind == "chunk":
                    text += data
                dones += kind in TERMINAL_KINDS
            if closed:
                return text, dones
            await r.wait("f", after, 5)

    readers = [asyncio.create_task(follower()) for _ in range(3)]
    for i, piece in enumerate(sent):
        w.append("f", "chunk", piece)
        if i % 7 == 0:
            await asyncio.sleep(0)  # some arrive one by one, some in bursts
    w.append("f", "done", {"done": True})
    w.close("f")
    results = await asyncio.wait_for(asyncio.gather(*readers), 20)
    assert all(r == ("".join(sent), 1) for r in results)


async def test_wait_times_out_and_one_timeout_does_not_wake_others(pair: Pair) -> None:
    w, r = pair.writer, pair.reader
    w.open("t")
    w.append("t", "started", {})
    await pair.settle()
    last = await r.last_id("t")
    assert last == 1
    assert await r.wait("t", last, 0.05) is False
    slow = asyncio.create_task(r.wait("t", last, 5))
    assert await r.wait("t", last, 0.05) is False
    assert not slow.done()
    w.append("t", "chunk", "x")
    assert await asyncio.wait_for(slow, 5) is True


async def test_unknown_and_closed_logs(pair: Pair) -> None:
    w, r = pair.writer, pair.reader
    assert await r.has("nope") is False
    assert await r.read("nope", 0) == ([], True)
    w.open("c")
    w.append("c", "started", {})
    w.append("c", "error", {"error": "boom", "code": "x"})
    w.close("c")
    await pair.settle()
    assert await r.has("c")
    events, closed = await r.read("c", 0)
    assert closed and [k for _, k, _ in events] == ["started", "error"]
    assert await r.wait("c", events[-1][0], 5) is True  # an ended log never blocks a reader
    with pytest.raises(RuntimeError):
        w.append("c", "chunk", "late")


async def test_seal_ends_an_abandoned_log_once(pair: Pair) -> None:
    w, r = pair.writer, pair.reader
    w.open("s")
    w.append("s", "started", {})
    w.append("s", "chunk", "partial text")
    await pair.settle()
    assert await r.seal("s", "done", {"done": True, "status": "interrupted"}) is True
    assert await r.seal("s", "done", {"done": True, "status": "interrupted"}) is False
    events, closed = await read_all(r, "s", 0)
    assert closed and text(events) == "partial text"
    assert events[-1][1] == "done" and events[-1][2]["status"] == "interrupted"


async def test_an_answer_of_150000_one_character_tokens_stays_small(pair: Pair) -> None:
    w, r = pair.writer, pair.reader
    answer = "".join(random.Random(3).choice("abcdefgh ") for _ in range(150_000))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        w.open("big")
        w.append("big", "started", {})
        for i, ch in enumerate(answer):
            w.append("big", "chunk", ch)
            if i % 5000 == 0:
                await asyncio.sleep(0)  # let the Redis flusher run now and then, as a live answer would
        w.append("big", "done", {"done": True})
        w.close("big")
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    await pair.settle()
    if pair.kind == "memory":
        # The text itself is 150 KB; without coalescing this was ~14 MB.
        assert held < 400_000, held
    events, closed = await read_all(r, "big", 0)
    assert closed and text(events) == answer
    assert len(events) < 200, len(events)  # merged entries, not 150,000 events
    if isinstance(w, RedisEventLog):
        length = await w._hub.client.xlen(w.stream("big"))
        usage = await w._hub.client.memory_usage(w.stream("big"))
        assert length < 2000 and usage < 600_000, (length, usage)
    # Resuming in the middle of a merged entry still gives exactly the rest.
    for cut in (1, 2, 4097, 99_999, 149_999):
        rest, _ = await read_all(r, "big", 1 + cut)
        assert text(rest) == answer[cut:]


CONTRACT = [test_replay_from_every_id_is_exact_however_chunks_were_merged,
            test_followers_get_every_event_exactly_once_and_the_end,
            test_wait_times_out_and_one_timeout_does_not_wake_others, test_unknown_and_closed_logs,
            test_seal_ends_an_abandoned_log_once, test_an_answer_of_150000_one_character_tokens_stays_small]
