"""The HTTP server itself under hostile clients (issue 16, defect 3): request heads that never end, heads
that arrive a byte at a time (slowloris), connections that say nothing.

Run against the real entry point (`python -m assistant_stream`, what `make run` and the container start),
in its own process, so its memory and sockets can be measured from outside.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.appserver import appapi_headers, spawn_app
from tests.support.ports import free_port
from tests.support.rawclient import Raw, connect

MIB = 1 << 20


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[int, psutil.Process]]:
    port = free_port()
    proc = await spawn_app(tmp_path, port, {"LOG_LEVEL": "WARNING"})
    try:
        yield port, psutil.Process(proc.pid)
    finally:
        proc.kill()
        await proc.wait()


def sockets_of(process: psutil.Process, port: int) -> int:
    """The server's accepted TCP connections on ``port`` that are not yet closed on its side."""
    return sum(1 for c in process.net_connections(kind="tcp")
               if c.laddr and c.laddr.port == port and c.raddr and c.status != psutil.CONN_LISTEN)


async def heartbeat_ms(port: int) -> float:
    async with httpx.AsyncClient(trust_env=False, timeout=30) as c:
        began = time.monotonic()
        r = await c.get(f"http://127.0.0.1:{port}/heartbeat")
        assert r.status_code == 200
        return (time.monotonic() - began) * 1000


async def test_a_request_head_that_never_ends_is_refused_early(served: tuple[int, psutil.Process]) -> None:
    port, process = served
    await heartbeat_ms(port)
    rss_before = process.memory_info().rss
    # Six connections, each starting a 32 MiB header line (issue 16: RSS went from 132 to 387 MB and stayed).
    conns = [await connect(port) for _ in range(6)]
    line = b"a" * 65536
    sent = [0] * len(conns)
    peak = rss_before

    async def flood(i: int, conn: Raw) -> None:
        nonlocal peak
        await conn.send(b"GET /heartbeat HTTP/1.1\r\nHost: x\r\nX-Flood: ")
        for _ in range(32 * 16):
            if not await conn.send(line):
                return
            sent[i] += len(line)
            if sent[i] % MIB == 0:
                peak = max(peak, process.memory_info().rss)

    began = time.monotonic()
    await asyncio.wait([asyncio.create_task(flood(i, c)) for i, c in enumerate(conns)], timeout=120)
    closed = [await c.wait_closed(30) for c in conns]
    took = time.monotonic() - began
    peak = max(peak, process.memory_info().rss)
    beat = await heartbeat_ms(port)
    for c in conns:
        if c.transport is not None:
            c.transport.abort()
    print(f"\nheader flood: 6 connections x 32 MiB head; the busiest sent {max(sent) / MIB:.1f} MiB before the "
          f"server hung up ({took:.1f}s); RSS {rss_before / MIB:.0f} -> peak {peak / MIB:.0f} MiB; "
          f"heartbeat {beat:.0f} ms")
    assert all(closed)
    for c in conns:
        reply = bytes(c.data)
        assert reply.startswith(b"HTTP/1.1 431 "), reply[:200]
        assert b"cache-control: no-cache" in reply.lower() and b'"code":"request_head_too_large"' in reply
    assert peak - rss_before < 48 * MIB, f"{(peak - rss_before) / MIB:.0f} MiB"


async def test_slowloris_and_silent_connections_are_closed(served: tuple[int, psutil.Process]) -> None:
    port, process = served
    await heartbeat_ms(port)
    fds_before = process.num_fds()
    slow = [await connect(port) for _ in range(20)]
    silent = [await connect(port) for _ in range(20)]
    began = time.monotonic()

    async def trickle(conn: Raw) -> None:
        """The start of a request, then a header byte a second for as long as the server listens."""
        await conn.send(b"GET /heartbeat HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        while time.monotonic() - began < 60 and await conn.send(b"x"):  # 60 s: hang detection only
            await asyncio.sleep(1)

    trickles = [asyncio.create_task(trickle(c)) for c in slow]
    closed = [await c.wait_closed(60) for c in slow + silent]
    closed_after = time.monotonic() - began
    for t in trickles:
        t.cancel()
    beat = await heartbeat_ms(port)
    for _ in range(100):  # the server drops a refused connection within its linger time (1 s)
        if process.num_fds() <= fds_before + 2:
            break
        await asyncio.sleep(0.05)
    open_now = sockets_of(process, port)
    fds_after = process.num_fds()
    for c in slow + silent:
        if c.transport is not None:
            c.transport.abort()
    print(f"\nslowloris: 20 trickling + 20 silent connections all closed by the server after "
          f"{closed_after:.1f}s; its sockets then {open_now}; fds {fds_before} -> {fds_after}; heartbeat {beat:.0f} ms")
    assert all(closed)
    for c in slow + silent:
        reply = bytes(c.data)
        assert reply.startswith(b"HTTP/1.1 408 ") and b'"code":"request_timeout"' in reply, reply[:200]
    assert open_now == 0 and fds_after <= fds_before + 2


async def test_ordinary_requests_are_unaffected(served: tuple[int, psutil.Process]) -> None:
    port, _process = served
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=30,
                                 headers=appapi_headers("alice")) as c:
        # A big but plausible head (Nextcloud's cookies and a long query pass through the proxy).
        r = await c.get("/chat/sessions", headers={"Cookie": "c=" + "x" * 30_000})
        assert r.status_code == 200
        # Keep-alive: several requests on one connection, with pauses shorter than the head timeout.
        for _ in range(3):
            assert (await c.get("/chat/sessions")).status_code == 200
            await asyncio.sleep(0.2)
        # A request head slowly but completely sent within the time allowed is served.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for part in (b"GET /heartbeat HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
        writer.write(part)
        await writer.drain()
        await asyncio.sleep(0.5)
    reply = await reader.readuntil(b"\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 ")
    writer.close()
