"""Hostile peers (issue 16): a compression bomb from the provider, text that no encoder accepts, stops that
race the final save, every error status without Cache-Control, percent-encoded parameter names.

Each test drives the real app over loopback; the header flood and slowloris against the server itself are
in test_reliability_server.py, the property-based stream fuzzer in test_fuzz_provider.py.
"""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from tests.support.appserver import API_KEY, AppFactory, RunningApp, appapi_headers
from tests.support.chat import new_chat, read_stream, text_of, wait_done
from tests.support.faults import TcpProxy, route_by_prompt
from tests.support.scripted_provider import (
    HANG,
    ScriptedProvider,
    ScriptedResponse,
    chat_chunk,
    openai_stream,
    sse,
)
from tests.support.sse import sse_events

ROLE = sse(chat_chunk("", role="assistant"))
MIB = 1 << 20


# --- watching the event loop while an attack runs -------------------------------------------------


@dataclass
class Heartbeat:
    """Polls /heartbeat every 50 ms on its own connection; ``worst`` is the slowest answer (seconds)."""

    url: str
    worst: float = 0.0
    beats: int = 0
    failures: list[str] = field(default_factory=list)

    async def run(self) -> None:
        async with httpx.AsyncClient(base_url=self.url, trust_env=False, timeout=30) as client:
            while True:
                began = time.monotonic()
                try:
                    r = await client.get("/heartbeat")
                    if r.status_code != 200:
                        self.failures.append(f"HTTP {r.status_code}")
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                self.worst = max(self.worst, time.monotonic() - began)
                self.beats += 1
                await asyncio.sleep(0.05)


@pytest.fixture
async def heartbeat() -> AsyncIterator[Any]:
    tasks: list[asyncio.Task[None]] = []

    def start(app: RunningApp) -> Heartbeat:
        hb = Heartbeat(app.url)
        tasks.append(asyncio.create_task(hb.run()))
        return hb

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# --- 1. compressed bodies from the provider -------------------------------------------------------


def gzip_stream(*parts: bytes, repeat: tuple[bytes, int] | None = None, wbits: int = 31) -> bytes:
    """``parts`` compressed in one gzip (wbits 31) or zlib "deflate" (15) body; ``repeat`` = (block, n)
    appends ``block`` n times without ever holding the inflated whole (a bomb is built in a few ms)."""
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    out = [c.compress(p) for p in parts]
    if repeat is not None:
        block, n = repeat
        out += [c.compress(block) for _ in range(n)]
    out.append(c.flush())
    return b"".join(out)


def compressed(body: bytes, encoding: str = "gzip", *, then: list[Any] | None = None) -> ScriptedResponse:
    return ScriptedResponse(body=[body, *(then or [])],
                            headers={"Content-Type": "text/event-stream", "Content-Encoding": encoding})


@pytest.fixture
async def bomb_app(app_factory: AppFactory, scripted_provider: ScriptedProvider, nextcloud: Any) -> RunningApp:
    nextcloud.set_admin("alice")  # she is told the detail of a provider's failure, as an administrator
    return await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret,
                             STREAMING_API_URL=scripted_provider.chat_url, STREAMING_API_KEY=API_KEY,
                             STREAMING_MODEL="test-model", REQUEST_TIMEOUT="5")


async def test_gzip_bomb_from_the_provider_is_cut_off_without_freezing_the_app(
        bomb_app: RunningApp, scripted_provider: ScriptedProvider, heartbeat: Any) -> None:
    # 32 MiB of line ends after a real first chunk: ~32 KB on the wire (issue 16, defect 1).
    bomb = gzip_stream(ROLE, sse(chat_chunk("Start ")), repeat=(b"\n" * MIB, 32))
    assert len(bomb) < 64 * 1024
    route_by_prompt(scripted_provider, {"bomb": compressed(bomb, then=[HANG]),
                                        "healthy": openai_stream([f"w{i} " for i in range(10)], delay=0.02)})
    alice, bob = bomb_app.client("alice"), bomb_app.client("bob")
    await new_chat(alice, "warm-up")  # lazily created state is not part of what the bomb costs
    hb = heartbeat(bomb_app)
    sid, mid = await new_chat(alice, "bomb question")
    bob_sid, bob_mid = await new_chat(bob, "healthy question")

    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        began = time.monotonic()
        events, other = await asyncio.gather(read_stream(alice, {"sessionId": sid, "messageId": mid}),
                                             read_stream(bob, {"sessionId": bob_sid, "messageId": bob_mid}))
        took = time.monotonic() - began
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    print(f"\ngzip bomb (32 KB -> 32 MiB): clear error after {took:.2f}s, peak Python allocation "
          f"{peak / MIB:.1f} MiB, slowest /heartbeat {hb.worst * 1000:.0f} ms over {hb.beats} beats")

    # The app asked for an uncompressed answer...
    request = next(r for r in scripted_provider.requests if "bomb" in json.dumps(r.json))
    assert request.headers.get("accept-encoding") == "identity"
    # ...and cut off the one that came compressed anyway, with a clear error, keeping the text it had.
    last = events[-1][1]
    assert last.get("code") == "provider_limit", last
    assert "compressed" in last["detail"] and "MiB" in last["detail"], last
    assert text_of(events) == "Start " and last["message"]["status"] == "error"
    # Memory: the inflated blob was never held whole (it was 32 MiB plus a line object per byte).
    assert peak < 16 * MIB, f"{peak / MIB:.1f} MiB"
    # The other user's answer streamed meanwhile, and the heartbeat never went unanswered (hang bound only).
    assert text_of(other) == "".join(f"w{i} " for i in range(10)) and other[-1][1]["done"] is True
    assert not hb.failures and hb.worst < 5, (hb.failures, hb.worst)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_compressed_stream_that_is_not_a_bomb_is_read_exactly(
        bomb_app: RunningApp, scripted_provider: ScriptedProvider, encoding: str) -> None:
    # A gateway that compresses although asked not to: the answer must come through unchanged.
    words = [f"é{i}ü " for i in range(300)]
    plain = openai_stream(words).body
    body = gzip_stream(*[p for p in plain if isinstance(p, bytes)], wbits=31 if encoding == "gzip" else 15)
    # Sent in uneven pieces, so compressed frames straddle reads.
    pieces = [body[i:i + 97] for i in range(0, len(body), 97)]
    route_by_prompt(scripted_provider, {"compressed": ScriptedResponse(
        body=pieces, headers={"Content-Type": "text/event-stream", "Content-Encoding": encoding})})
    c = bomb_app.client("alice")
    sid, mid = await new_chat(c, "compressed question")
    events = await read_stream(c, {"sessionId": sid, "messageId": mid})
    assert text_of(events) == "".join(words) and events[-1][1]["done"] is True
    stored = (await c.get("/chat/message", params={"sessionId": sid, "messageId": events[-1][1]["message"]["id"]}))
    assert stored.json()["content"] == "".join(words)


async def test_a_compression_the_app_cannot_bound_is_a_clear_error(
        bomb_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    broken = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 16  # a gzip header, then no valid block
    route_by_prompt(scripted_provider, {"brotli": compressed(b"\x1b\x00\x00\x00garbage", "br"),
                                        "broken": compressed(broken, "gzip")})
    c = bomb_app.client("alice")
    for prompt, says in (("brotli", "Content-Encoding br"), ("broken", "could not be decompressed")):
        sid, mid = await new_chat(c, f"{prompt} question")
        events = await read_stream(c, {"sessionId": sid, "messageId": mid})
        last = events[-1][1]
        assert last.get("code") == "provider_protocol" and says in last["detail"], (prompt, last)


async def test_a_gzip_bomb_in_an_error_body_is_not_inflated(
        bomb_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    bomb = gzip_stream(b'{"error": {"message": "overloaded"}}', repeat=(b" " * MIB, 32))
    route_by_prompt(scripted_provider, {"error": ScriptedResponse(
        status=500, body=[bomb], headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        framing="length")})
    c = bomb_app.client("alice")
    sid, mid = await new_chat(c, "error question")
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        events = await read_stream(c, {"sessionId": sid, "messageId": mid})
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    last = events[-1][1]
    assert last.get("code") == "provider_unavailable" and "HTTP 500" in last["detail"], last
    assert peak < 8 * MIB, f"{peak / MIB:.1f} MiB"


# --- 2. text that no encoder accepts --------------------------------------------------------------

LONE = b'data: {"choices":[{"index":0,"delta":{"content":"abc\\ud800def"}}]}\n\n'
LONE_REASONING = b'data: {"choices":[{"index":0,"delta":{"reasoning_content":"r\\udfffs"}}]}\n\n'


async def test_a_lone_surrogate_from_the_provider_is_clean_everywhere_while_live(
        bomb_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    # The answer stays live (HANG): /chat/poll and check_generation read the running generation.
    route_by_prompt(scripted_provider, {"surrogate": ScriptedResponse(
        body=[ROLE, LONE_REASONING, LONE, sse(chat_chunk("nul\x00end")), HANG])})
    c = bomb_app.client("alice")
    sid, mid = await new_chat(c, "surrogate question")
    clean, reasoning = "abc\ufffddefnulend", "r\ufffds"
    events: list[tuple[int | None, dict[str, Any]]] = []
    async with c.stream("GET", "/chat/stream", params={"sessionId": sid, "messageId": mid}) as r:
        async for item in sse_events(r):
            events.append(item)
            if text_of(events) == clean:
                break
    answer = events[0][1]["messageId"]
    polled = await c.get("/chat/poll", params={"sessionId": sid, "messageId": mid, "timeout": 0})
    assert polled.status_code == 200, polled.text
    assert (polled.json()["text"], polled.json()["reasoning"], polled.json()["done"]) == (clean, reasoning, False)
    check = await c.get("/chat/check_generation", params={"taskId": answer, "sessionId": sid})
    assert check.status_code == 417, check.text
    assert check.json()["task_output"] == clean
    # Stopped: what was streamed, what the database holds and what a replay sends are the same text.
    stopped = await c.post("/chat/stop", json={"sessionId": sid, "messageId": answer})
    assert stopped.status_code == 200 and stopped.json()["message"]["content"] == clean
    assert stopped.json()["message"]["reasoning"] == reasoning
    replay = await read_stream(c, {"sessionId": sid, "messageId": mid})
    assert text_of(replay) == clean


@pytest.mark.parametrize("where", ["status", "in-band", "event"])
async def test_a_lone_surrogate_in_a_provider_error_is_clean(bomb_app: RunningApp, scripted_provider: ScriptedProvider,
                                                             where: str) -> None:
    message = b'{"error": {"message": "over\\ud800loaded\\u0000", "type": "server_error"}}'
    response = {
        "status": ScriptedResponse(status=400, body=[message], headers={"Content-Type": "application/json"},
                                   framing="length"),
        "in-band": ScriptedResponse(body=[ROLE, b"data: " + message + b"\n\n"]),
        "event": ScriptedResponse(body=[ROLE, b"event: error\ndata: " + message + b"\n\n"]),
    }[where]
    route_by_prompt(scripted_provider, {"failing": response})
    c = bomb_app.client("alice")
    sid, mid = await new_chat(c, "failing question")
    events = await read_stream(c, {"sessionId": sid, "messageId": mid})
    assert "over\ufffdloaded" in events[-1][1]["detail"] and "\x00" not in events[-1][1]["detail"], events[-1]
    answer = events[-1][1]["message"]["id"]
    for r in (await c.get("/chat/check_generation", params={"taskId": answer, "sessionId": sid}),
              await c.get("/chat/poll", params={"sessionId": sid, "messageId": mid, "timeout": 0}),
              await c.get("/chat/message", params={"sessionId": sid, "messageId": answer})):
        assert r.status_code in (200, 400), (r.status_code, r.text)
        told = r.json().get("detail") or r.json()["error_detail"]
        assert "over\ufffdloaded" in told and "\x00" not in told, r.json()


async def test_nul_from_taskprocessing_is_clean_while_live_and_stored(app_factory: AppFactory,
                                                                      nextcloud: Any) -> None:
    # PHP's json_encode passes NUL on as "\u0000" (it refuses lone surrogates, so those cannot come
    # from Nextcloud); PostgreSQL cannot store NUL, so the live text must lose it too.
    nextcloud.add_user("alice")
    nextcloud.taskprocessing.script(output=None, partial=["one \x00", " two"], delay=0.4, partial_interval=0.1)
    app = await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret)
    c = app.client("alice")
    sid, mid = await new_chat(c)
    events = await read_stream(c, {"sessionId": sid, "messageId": mid})
    assert text_of(events) == "one  two" and events[-1][1]["message"]["content"] == "one  two"


# --- 5. every documented AppAPI header, missing in turn ------------------------------------------
# (test_auth.py::test_every_route_needs_appapi_auth runs every route with each one missing or empty.)

# --- 6. percent-encoded parameter names ------------------------------------------------------------


async def test_the_token_parameter_is_recognised_by_its_decoded_name(
        app_factory: AppFactory, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(["via ", "token"]))
    app = await app_factory(STREAMING_API_URL=scripted_provider.chat_url, STREAMING_API_KEY=API_KEY,
                            STREAMING_PUBLIC_URL="https://cloud.example.com/s")
    c = app.client("alice")
    sid, mid = await new_chat(c)
    token = (await c.post("/chat/stream_token", json={"sessionId": sid, "messageId": mid})).json()["token"]
    anon = app.anonymous()
    base = f"/chat/stream?sessionId={sid}&messageId={mid}"
    for query in (f"&tok%65n={token}", f"&%74%6F%6B%65%6E={token}", f"&token=&tok%65n={token}"):
        r = await anon.get(base + query)
        assert r.status_code == 200 and '"done":true' in r.text, (query, r.status_code, r.text[:200])
    for query in ("&tok%65n=forged", "&tok%65n=", "&token=", "&tokens=" + token, "&xtoken=" + token):
        r = await anon.get(base + query)
        assert r.status_code == 401, (query, r.status_code)


# --- 7. stop racing the final save ---------------------------------------------------------------


async def test_stop_while_the_final_save_is_running_returns_the_final_row(
        app_factory: AppFactory, scripted_provider: ScriptedProvider) -> None:
    route_by_prompt(scripted_provider, {"race": openai_stream(["all ", "of ", "it"])})
    app = await app_factory(STREAMING_API_URL=scripted_provider.chat_url, STREAMING_API_KEY=API_KEY)
    storage = app.services.storage
    real_finish = storage.finish_message
    saving, release = asyncio.Event(), asyncio.Event()

    async def gated_finish(*args: Any, **kwargs: Any) -> Any:
        saving.set()  # the generation has read its last event and is saving the final row
        await release.wait()
        return await real_finish(*args, **kwargs)

    storage.finish_message = gated_finish  # type: ignore[method-assign]
    c = app.client("alice")
    sid, mid = await new_chat(c, "race question")
    started = (await c.get("/chat/generate", params={"sessionId": sid})).json()
    await asyncio.wait_for(saving.wait(), 10)
    gen = app.services.generations.for_message(started["taskId"])
    assert gen is not None
    stop = asyncio.create_task(c.post("/chat/stop", json={"sessionId": sid, "messageId": mid}))
    # The stop has reached the generation (it asked it to stop) while the save still waits...
    async with asyncio.timeout(10):
        while not gen.stop_requested:
            await asyncio.sleep(0.005)
    assert not stop.done()
    release.set()  # ...and only then does the save go through.
    r = await asyncio.wait_for(stop, 10)
    assert r.status_code == 200
    message = r.json()["message"]
    # The answer had ended before the stop: it is stored `done` with all its text, and stop says so.
    assert (message["status"], message["content"]) == ("done", "all of it")
    final = await wait_done(c, sid, started["taskId"])
    assert final.json()["status"] == "done" and final.json()["content"] == "all of it"


# --- every route x every error status carries Cache-Control -------------------------------------
# web/test_middleware.py covers 401, 400 and 405 on the routes of its modules; here every route the app
# serves (read from the app itself) gets 401 and 405 too, and the statuses that need a real conversation,
# a limit or a database outage: 404 for nobody's ids, 413, 429 and 503.


def app_routes(app: RunningApp) -> list[tuple[str, str]]:
    """Every (verb, path) the app serves, read from the app itself (mounted static files excepted)."""
    out: list[tuple[str, str]] = []
    for route in app.app.routes:
        routes = route.original_router.routes if hasattr(route, "original_router") else [route]
        out += [(verb, r.path) for r in routes if isinstance(r, APIRoute) for verb in sorted(r.methods)
                if verb != "HEAD"]
    return out


@pytest.fixture
async def pg_proxy(storage_url_pg: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    port = int(storage_url_pg.rsplit(":", 1)[1].split("/", 1)[0])
    proxy = await TcpProxy(port).up()
    yield proxy, storage_url_pg.replace(f":{port}/", f":{proxy.port}/")
    await proxy.down()


def _no_cache(r: httpx.Response) -> bool:
    value = r.headers.get("cache-control", "")
    return "no-cache" in value or "no-store" in value


async def test_every_route_and_every_error_status_carries_cache_control(
        app_factory: AppFactory, scripted_provider: ScriptedProvider, pg_proxy: tuple[TcpProxy, str]) -> None:
    """The stock AppAPI proxy caches a response without Cache-Control for an hour (notes/nextcloud.md):
    an error cached there would be served to the next request of any user behind the same URL."""
    proxy, url = pg_proxy
    scripted_provider.always(openai_stream(["cached?"]))
    app = await app_factory(STREAMING_API_URL=scripted_provider.chat_url, STREAMING_API_KEY=API_KEY,
                            DATABASE_URL=url, MAX_STARTS_PER_MINUTE="1")
    c = app.client("alice")
    sid, mid = await new_chat(c)
    routes = app_routes(app)
    assert len(routes) >= 25
    seen: dict[int, int] = {}
    missing: list[str] = []

    def check(r: httpx.Response, what: str) -> None:
        seen[r.status_code] = seen.get(r.status_code, 0) + 1
        if r.headers.get("content-type", "").startswith(("application/json", "text/event-stream")) \
                and not _no_cache(r):
            missing.append(f"{what} -> {r.status_code} {r.headers.get('content-type')}")

    big = {"sessionId": sid, "title": "t" * 300_000, "content": "c" * 300_000}
    anonymous = app.anonymous()
    for verb, path in routes:
        check(await anonymous.request(verb, path), f"{verb} {path} (no auth)")  # 401
        other = next(v for v in ("PATCH", "DELETE", "PUT", "POST", "GET") if (v, path) not in routes)
        check(await c.request(other, path), f"{other} {path} (wrong verb)")  # 405
        check(await c.request(verb, path, params={"sessionId": 987654, "messageId": 987654, "taskId": 987654}),
              f"{verb} {path} (ids of nobody)")  # 404
        if verb != "GET":
            check(await c.request(verb, path, json=big), f"{verb} {path} (huge body)")  # 413
    for _ in range(3):  # the start rate (1 a minute): 429 with Retry-After from the second answer on
        other_sid, _ = await new_chat(c, "rate")
        check(await c.get("/chat/generate", params={"sessionId": other_sid}), "GET /chat/generate (rate)")
    await proxy.down()  # the database is gone: every route that reads it answers 503
    for verb, path in routes:
        check(await c.request(verb, path, params={"sessionId": sid, "messageId": mid, "taskId": mid}),
              f"{verb} {path} (database down)")
    await proxy.up()
    print(f"\nCache-Control: {sum(seen.values())} responses over {len(routes)} routes, statuses {sorted(seen)}")
    assert {401, 404, 405, 413, 429, 503} <= set(seen), seen
    assert not missing, missing


# --- user ids longer than the database column ----------------------------------------------------


async def test_a_user_id_longer_than_the_column_is_refused(app_factory: AppFactory) -> None:
    app = await app_factory()
    anon = app.anonymous()
    for user, status in (("u" * 256, 200), ("u" * 257, 400), ("é" * 200, 200)):
        r = await anon.put("/chat/new_session", json={"title": "t"}, headers=appapi_headers(user))
        assert r.status_code == status, (len(user), r.status_code, r.text)
        assert _no_cache(r)
    assert r.json()["session"]["user_id"] == "é" * 200
    r = await anon.get("/chat/sessions", headers=appapi_headers("u" * 5000))
    assert r.status_code == 400 and r.json()["code"] == "invalid_parameter", r.text
    assert "longer than 256" in r.json()["error"]
