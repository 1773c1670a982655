"""Minimal relay anchor: the least a Python relay must do per chunk, on raw asyncio protocols (uvloop).

It accepts the OpenAI request, opens a connection to the provider, and for each upstream chunk: parses
the chunked framing, decodes the SSE event with the app's own decoder (providers/sse.py) and the JSON with
orjson, takes the delta's text and writes one SSE event of its own (``data: {"chunk": ...}``, chunked). No
authentication, database, event log or framework: what Assistant Stream adds on top of this is what the
benchmark's ratio to it shows.

Run: ``python bench/relay.py --port 18002 --upstream 127.0.0.1:18001``.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import orjson

from assistant_stream.providers.sse import SSEDecoder

_HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
         b"transfer-encoding: chunked\r\n\r\n")
_DONE = b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n"


def _frame(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


class Upstream(asyncio.Protocol):
    """The provider's response: chunked HTTP/1.1 carrying SSE; each text delta goes to ``down``."""

    def __init__(self, down: Downstream, request: bytes) -> None:
        self.down = down
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.head = True
        self.buf = b""  # chunked framing not yet parsed
        self.sse = SSEDecoder()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        if self.head:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 200"):
                self.down.fail()
                return
            self.head = False
            self.down.start()
            buf = buf[end + 4:]
        pos = 0
        body = []
        while True:
            nl = buf.find(b"\r\n", pos)
            if nl < 0:
                break
            size = int(buf[pos:nl], 16)
            if size == 0:
                pos = len(buf)
                break
            if len(buf) < nl + 2 + size + 2:
                break
            body.append(buf[nl + 2:nl + 2 + size])
            pos = nl + 2 + size + 2
        self.buf = buf[pos:]
        out = []
        for event in self.sse.feed(b"".join(body)):
            data = event.data
            if not data:
                continue
            if data == "[DONE]":
                if out:
                    self.down.send(b"".join(out))
                self.down.finish()
                return
            obj = orjson.loads(data)
            choices = obj.get("choices")
            text = choices[0]["delta"].get("content") if choices else None
            if text:
                out.append(_frame(b'data: {"chunk":' + orjson.dumps(text) + b"}\n\n"))
        if out:
            self.down.send(b"".join(out))

    def connection_lost(self, exc: Exception | None) -> None:
        self.down.finish()


class Downstream(asyncio.Protocol):
    """One client connection: reads one POST, relays it, closes when the answer is done."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.up: asyncio.Transport | None = None
        self.done = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.up is not None or self.done:
            return
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buf[:end].decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if len(self.buf) < end + 4 + length:
            return
        body = self.buf[end + 4:end + 4 + length]
        host, port = self.upstream
        request = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: %s:%d\r\ncontent-type: application/json\r\n"
                   b"accept: text/event-stream\r\ncontent-length: %d\r\n\r\n%s"
                   % (host.encode(), port, len(body), body))
        asyncio.get_running_loop().create_task(self._connect(request))

    async def _connect(self, request: bytes) -> None:
        loop = asyncio.get_running_loop()
        try:
            self.up, _ = await loop.create_connection(lambda: Upstream(self, request), *self.upstream)
        except OSError:
            self.fail()

    def start(self) -> None:
        """The upstream answered 200: the response head goes first (before any relayed event)."""
        if self.transport is not None and not self.done:
            self.transport.write(_HEAD)

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.done:
            self.transport.write(data)

    def finish(self) -> None:
        if self.done:
            return
        self.done = True
        if self.transport is not None:
            self.transport.write(_DONE)
            self.transport.close()
        if self.up is not None:
            self.up.close()

    def fail(self) -> None:
        self.done = True
        if self.transport is not None:
            self.transport.write(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.up is not None:
            self.up.close()


async def serve(port: int, upstream: tuple[str, int]) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Downstream(upstream), "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


def loop_factory() -> Any:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="host:port of the provider (loopback)")
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(":")
    if host not in ("127.0.0.1", "localhost"):
        raise SystemExit("the relay anchor only relays to loopback")
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(serve(args.port, (host, int(port))))


if __name__ == "__main__":
    main()
