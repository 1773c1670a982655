"""web/protocol.py: request heads bounded in size (431) and in arrival time (408), on the app's own server.

The whole process under a flood of such connections (RSS, descriptors) is in system/test_reliability_server.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import pytest

from assistant_stream.web import protocol
from tests.support.appserver import AppFactory, RunningApp, appapi_headers


@pytest.fixture
async def app(app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch) -> RunningApp:
    monkeypatch.setattr(protocol, "HEAD_TIMEOUT", 0.5)
    monkeypatch.setattr(protocol, "BODY_TIMEOUT", 1.0)
    monkeypatch.setattr(protocol, "DRAIN_TIME", 1.0)
    return await app_factory()


async def exchange(app: RunningApp, *parts: bytes, pause: float = 0.0, timeout: float = 10) -> bytes:
    """Send ``parts`` (``pause`` s apart) on a new connection; everything the server sent until it closed."""
    port = int(app.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = asyncio.create_task(reader.read(1 << 20))
    try:
        for part in parts:
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(pause)
    except ConnectionError:
        pass
    try:
        return await asyncio.wait_for(received, timeout)
    finally:
        writer.close()


def status_and_body(reply: bytes) -> tuple[int, dict]:
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"cache-control: no-cache" in head.lower() and b"connection: close" in head.lower(), head
    return int(head.split()[1]), json.loads(body)


def request(path: str = "/heartbeat", **headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: x", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def test_a_head_over_the_limit_is_431_whether_it_ends_or_not(app: RunningApp) -> None:
    never_ends = b"GET /heartbeat HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (protocol.MAX_HEAD_BYTES + 10)
    whole = request(**{"X-Big": "a" * protocol.MAX_HEAD_BYTES})
    long_target = request("/heartbeat?" + "q" * protocol.MAX_HEAD_BYTES)
    for head in (never_ends, whole, long_target):
        status, body = status_and_body(await exchange(app, head))
        assert status == 431 and body["code"] == "request_head_too_large" and "64 KB" in body["error"]


async def test_a_head_just_under_the_limit_is_served(app: RunningApp) -> None:
    head = request("/chat/sessions", **appapi_headers("alice"), Cookie="c=" + "x" * (protocol.MAX_HEAD_BYTES - 1000))
    reply = await exchange(app, head, timeout=2)  # kept alive: read what came within the time
    assert reply.startswith(b"HTTP/1.1 200 "), reply[:200]


async def test_a_slow_or_silent_connection_gets_408(app: RunningApp) -> None:
    began = time.monotonic()
    status, body = status_and_body(await exchange(app, b"GET /heartbeat HTTP/1.1\r\n", b"Host: x\r\n", pause=0.2))
    assert status == 408 and body["code"] == "request_timeout"
    status, _ = status_and_body(await exchange(app))  # says nothing at all
    assert status == 408
    assert time.monotonic() - began < 5  # hang detection: it was the 0.5 s head timeout that fired


async def test_the_head_timeout_restarts_for_each_request_on_a_kept_alive_connection(app: RunningApp) -> None:
    # Three requests, each head sent in pieces within its own 0.5 s, over 1.2 s in all: all served.
    port = int(app.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(3):
        for part in (b"GET /heartbeat HTTP/1.1\r\n", b"Host: x\r\n\r\n"):
            writer.write(part)
            await asyncio.sleep(0.2)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 ")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length"))
        await reader.readexactly(length)
    writer.close()


async def test_a_connection_answered_before_its_body_arrived_is_closed(app: RunningApp) -> None:
    # No AppAPI headers: 401 before the body is read. The rest of the body never comes; the connection is
    # closed after the answer instead of being kept alive by whatever the client trickles afterwards.
    head = (b"PUT /chat/new_session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n{\"title\": ")
    port = int(app.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)

    async def trickle() -> None:  # each byte would reset uvicorn's own keep-alive timeout
        with contextlib.suppress(ConnectionError):
            for _ in range(50):
                await asyncio.sleep(0.2)
                writer.write(b"x")
                await writer.drain()

    trickling = asyncio.create_task(trickle())
    reply = await asyncio.wait_for(reader.read(), 4)  # read() returns at EOF: the server closed
    trickling.cancel()
    writer.close()
    assert reply.startswith(b"HTTP/1.1 401 "), reply[:200]


async def test_a_body_that_stops_arriving_gets_408(app: RunningApp) -> None:
    head = "".join(f"{k}: {v}\r\n" for k, v in appapi_headers("alice").items())
    began = time.monotonic()
    reply = await exchange(app, (f"PUT /chat/new_session HTTP/1.1\r\nHost: x\r\n{head}Content-Type: "
                                 "application/json\r\nContent-Length: 1000\r\n\r\n").encode(),
                           b'{"title": "a', b"b", pause=0.2)
    status, body = status_and_body(reply)
    assert status == 408 and body["code"] == "request_timeout" and "arrived too slowly" in body["error"]
    assert time.monotonic() - began < 5
    # A body sent slowly but within the time (1 s, plus a second per 500 bytes) is read.
    ok = await exchange(app, (f"PUT /chat/new_session HTTP/1.1\r\nHost: x\r\n{head}Content-Type: "
                              "application/json\r\nContent-Length: 17\r\n\r\n").encode(),
                        b'{"titl', b'e": ', b'"slow"}', pause=0.1, timeout=3)
    assert ok.startswith(b"HTTP/1.1 200 ") and b'"slow"' in ok, ok[:300]
