"""StreamTransport (providers/aiohttp_transport.py): httpx's interface on aiohttp, telling a refused connect
from a timeout, dropping an abandoned stream at once, and reusing a connection read to its end."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from assistant_stream.providers.aiohttp_transport import StreamTransport
from tests.support.ports import free_port

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


async def test_a_refused_connection_is_a_connect_error_with_the_os_error_as_its_cause() -> None:
    async with httpx.AsyncClient(transport=StreamTransport()) as client:
        with pytest.raises(httpx.ConnectError) as exc:
            await client.get(f"http://127.0.0.1:{free_port()}/")
    assert isinstance(exc.value.__cause__, ConnectionRefusedError)
    assert "ssl" not in str(exc.value).lower()  # aiohttp's own wording says "ssl:default" even for http


async def test_an_abandoned_stream_is_dropped_and_a_finished_one_reused() -> None:
    closed = asyncio.Event()
    peers: list[object] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer.get_extra_info("peername"))
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if b"/done" in head:
                writer.write(HEAD + b"5\r\nhello\r\n0\r\n\r\n")
                await writer.drain()
                continue
            writer.write(HEAD + b"5\r\nhello\r\n")  # and never the end: a model still writing
            await writer.drain()
            await reader.read()
            closed.set()
            return

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(transport=StreamTransport()) as client:
            for _ in range(2):
                r = await client.get(f"http://127.0.0.1:{port}/done")
                assert r.text == "hello"
            assert len(peers) == 1  # read to the end: the one connection went back to the pool
            assert client._transport.idle_connections() == 1  # type: ignore[attr-defined]
            response = await client.send(client.build_request("GET", f"http://127.0.0.1:{port}/live"), stream=True)
            assert await anext(response.aiter_bytes()) == b"hello"
            await response.aclose()
            await asyncio.wait_for(closed.wait(), 2)  # the provider learns at once that nobody reads
    finally:
        server.close()
