"""Two app processes on one PostgreSQL and one Redis, behind a round-robin balancer: what a second replica
must do for an answer the first one generates (resume, stop, take over after a crash, survive Redis)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.appserver import API_KEY, APP_SECRET, appapi_headers, spawn_app
from tests.support.chat import new_chat, read_stream, text_of
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.round_robin import RoundRobin
from tests.support.scripted_provider import ScriptedProvider, openai_stream
from tests.support.sse import sse_events

WORDS = [f"w{i:02d} " for i in range(40)]
TEXT = "".join(WORDS)
pytestmark = pytest.mark.timeout(90)


class Replicas:
    def __init__(self, procs: list[asyncio.subprocess.Process], ports: list[int], balancer: RoundRobin,
                 env: dict[str, str], tmp: Path) -> None:
        self.procs, self.ports, self.balancer, self.env, self.tmp = procs, ports, balancer, env, tmp

    def client(self, which: int | None = None, user: str = "alice") -> httpx.AsyncClient:
        """A client of one replica, or (None) of the balancer with a new connection per request."""
        base = self.balancer.url if which is None else f"http://127.0.0.1:{self.ports[which]}"
        return httpx.AsyncClient(base_url=base, headers=appapi_headers(user, APP_SECRET), timeout=20,
                                 trust_env=False, limits=httpx.Limits(max_keepalive_connections=0))


@pytest.fixture
async def replicas(tmp_path: Path, storage_url_pg: str, own_redis: RedisServer,
                   scripted_provider: ScriptedProvider) -> AsyncIterator[Replicas]:
    env = {"DATABASE_URL": storage_url_pg, "REDIS_URL": own_redis.url, "WORKERS": "1", "LOG_LEVEL": "WARNING",
           "STREAMING_API_URL": scripted_provider.chat_url, "STREAMING_API_KEY": API_KEY,
           "STREAMING_MODEL": "test-model"}
    ports = [free_port(), free_port()]
    procs = []
    for i, port in enumerate(ports):
        (tmp_path / f"r{i}").mkdir()
        procs.append(await spawn_app(tmp_path / f"r{i}", port, env))
    balancer = await RoundRobin(ports).start()
    try:
        yield Replicas(procs, ports, balancer, env, tmp_path)
    finally:
        await balancer.stop()
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def stored(c: httpx.AsyncClient, sid: int) -> list[dict[str, Any]]:
    r = await c.get("/chat/messages", params={"sessionId": sid, "limit": 10, "cursor": 0})
    assert r.status_code == 200, r.text
    return r.json()


async def test_resume_on_the_other_replica_delivers_every_event_exactly_once(
        replicas: Replicas, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(WORDS, delay=0.03))
    async with replicas.client(0) as a:
        sid, mid = await new_chat(a)
    replicas.balancer.next = 0
    async with replicas.client() as lb:
        first = await read_stream(lb, {"sessionId": sid, "messageId": mid}, stop_after_chunks=5)  # replica 1 starts it
        last_id = first[-1][0]
        rest = await read_stream(lb, {"sessionId": sid, "messageId": mid}, headers={"Last-Event-ID": str(last_id)})
    assert replicas.balancer.served[-2:] == replicas.ports, "the reconnect went to the other replica"
    ids = [i for i, _ in first + rest]
    assert all(i is not None for i in ids) and ids == sorted(ids) and len(set(ids)) == len(ids)
    assert text_of(first) + text_of(rest) == TEXT, "every chunk exactly once across the two replicas"
    done = rest[-1][1]
    assert done["done"] is True and done["message"]["status"] == "done" and done["message"]["content"] == TEXT
    assert len(scripted_provider.requests) == 1, "the second replica attached; it did not answer again"
    # A long-poll on the other replica sees the same answer.
    async with replicas.client(1) as b:
        r = await b.get("/chat/poll", params={"sessionId": sid, "taskId": done["message"]["id"], "cursor": 0})
        assert r.status_code == 200 and r.json()["text"] == TEXT and r.json()["done"] is True


async def test_resume_mid_answer_on_the_other_replica_follows_live(
        replicas: Replicas, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(WORDS, delay=0.05))
    async with replicas.client(0) as a, replicas.client(1) as b:
        sid, mid = await new_chat(a)
        first = await read_stream(a, {"sessionId": sid, "messageId": mid}, stop_after_chunks=3)
        # Replica 2 follows the rest live, from replica 1's log in Redis; a long-poll there too.
        poll = asyncio.create_task(b.get("/chat/poll", params={"sessionId": sid, "messageId": mid,
                                                               "cursor": len(text_of(first)), "timeout": 10}))
        rest = await read_stream(b, {"sessionId": sid, "messageId": mid}, headers={"Last-Event-ID": str(first[-1][0])})
        polled = (await poll).json()
    assert text_of(first) + text_of(rest) == TEXT
    assert polled["text"] and TEXT.startswith(text_of(first) + polled["text"])
    assert len(scripted_provider.requests) == 1


async def test_stop_from_the_other_replica(replicas: Replicas, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(WORDS, delay=0.2))
    async with replicas.client(0) as a, replicas.client(1) as b:
        sid, mid = await new_chat(a)
        async with a.stream("GET", "/chat/stream", params={"sessionId": sid, "messageId": mid}) as r:
            events: list[dict[str, Any]] = []
            stopped: httpx.Response | None = None
            async for _id, event in sse_events(r):
                events.append(event)
                if sum("chunk" in e for e in events) == 2 and stopped is None:
                    stopped = await b.post("/chat/stop", json={"sessionId": sid, "messageId": mid})
                if "done" in event or "error" in event:
                    break
        assert stopped is not None and stopped.status_code == 200, stopped.text if stopped else None
        body = stopped.json()["message"]
        assert body["status"] == "cancelled", body
        partial = text_of([(None, e) for e in events])
        assert events[-1]["done"] is True and events[-1]["message"]["status"] == "cancelled"
        assert 0 < len(partial) < len(TEXT) and body["content"] == events[-1]["message"]["content"]
        assert TEXT.startswith(body["content"])


async def test_sigkill_the_owner_and_the_other_replica_marks_the_answer_interrupted(
        replicas: Replicas, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(WORDS * 5, delay=0.1))
    async with replicas.client(0) as a, replicas.client(1) as b:
        sid, mid = await new_chat(a)
        # 1.5 s of the answer: at least one progress save happened.
        got = await read_stream(a, {"sessionId": sid, "messageId": mid}, stop_after_chunks=15)
        loop = asyncio.get_running_loop()
        follower = asyncio.create_task(read_stream(b, {"sessionId": sid, "messageId": mid},
                                            headers={"Last-Event-ID": str(got[-1][0])}))
        await asyncio.sleep(0.3)
        replicas.procs[0].send_signal(signal.SIGKILL)
        killed = loop.time()
        await replicas.procs[0].wait()
        answer: dict[str, Any] = {}
        while loop.time() - killed < 15:
            answer = next(m for m in await stored(b, sid) if m["role"] == "assistant")
            if answer["status"] != "generating":
                break
            await asyncio.sleep(0.2)
        took = loop.time() - killed
        assert answer["status"] == "interrupted", answer
        assert took < 10, f"took {took:.1f} s"
        assert answer["content"] and (WORDS * 5 and "".join(WORDS * 5).startswith(answer["content"]))
        # The reader on replica 2 ends too: with `done`, status interrupted, and the kept text.
        rest = await asyncio.wait_for(follower, 10)
        assert rest[-1][1]["done"] is True and rest[-1][1]["message"]["status"] == "interrupted"
        assert rest[-1][1]["message"]["content"] == answer["content"]
        # The session is free again: a new answer starts on the surviving replica.
        scripted_provider.always(openai_stream(WORDS, delay=0))
        r = await b.post("/chat/regenerate", json={"sessionId": sid, "messageId": answer["id"]})
        assert r.status_code == 200, r.text


async def test_redis_restart_mid_answer(replicas: Replicas, scripted_provider: ScriptedProvider,
                                        own_redis: RedisServer) -> None:
    scripted_provider.always(openai_stream(WORDS, delay=0.1))
    async with replicas.client(0) as a, replicas.client(1) as b:
        sid, mid = await new_chat(a)
        sid2, mid2 = await new_chat(b)
        reader = asyncio.create_task(read_stream(a, {"sessionId": sid, "messageId": mid}))
        await asyncio.sleep(0.6)
        follower = asyncio.create_task(read_stream(b, {"sessionId": sid, "messageId": mid}))
        await asyncio.sleep(0.3)
        own_redis.stop()
        # While Redis is down: a clear 503 for a new answer, never a 500 or a hang.
        r = await b.get("/chat/poll", params={"sessionId": sid2, "messageId": mid2, "timeout": 1})
        assert r.status_code == 503 and r.json()["code"] == "storage_unavailable", r.text
        assert "shared state (Redis) is unavailable" in r.json()["error"]
        assert "Retry-After" in r.headers
        # A reader on the other replica gets a clear error event rather than silence.
        remote = await asyncio.wait_for(follower, 15)
        assert remote[-1][1].get("code") == "storage_unavailable" and "Redis" in remote[-1][1]["error"], remote[-1]
        await asyncio.sleep(0.5)
        own_redis.start()
        # The owner's own reader never noticed, and the answer reached the database whole.
        local = await asyncio.wait_for(reader, 20)
        assert text_of(local) == TEXT and local[-1][1]["message"]["status"] == "done"
        answer = next(m for m in await stored(b, sid) if m["role"] == "assistant")
        assert answer["status"] == "done" and answer["content"] == TEXT
        # New answers work once Redis is back, on either replica.
        loop = asyncio.get_running_loop()
        since = loop.time()
        while True:
            r = await b.get("/chat/poll", params={"sessionId": sid2, "messageId": mid2, "timeout": 5})
            if r.status_code == 200 or loop.time() - since > 10:
                break
            await asyncio.sleep(0.3)
        assert r.status_code == 200, r.text
        events = await read_stream(b, {"sessionId": sid2, "messageId": mid2})
        assert text_of(events) == TEXT
