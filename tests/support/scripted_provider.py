"""A real loopback HTTP/1.1 server whose responses tests script byte by byte (an OpenAI stand-in)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from assistant_stream.providers.config import ProviderConfig
from assistant_stream.providers.transport import ProviderClient

__all__ = [
    "DROP", "HANG", "Exchange", "RecordedRequest", "ScriptedProvider", "ScriptedResponse", "Sleep",
    "chat_chunk", "error_response", "openai_stream", "provider_client", "scripted_provider", "sse",
]


@dataclass(frozen=True)
class Sleep:
    """A pause between body pieces (seconds)."""

    seconds: float


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


HANG = _Marker("HANG")  # stop sending and keep the connection open until the client closes it
DROP = _Marker("DROP")  # close the TCP connection right now (no terminating chunk: a broken body)

Piece = bytes | str | Sleep | _Marker

SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


@dataclass
class ScriptedResponse:
    """One scripted response.

    ``body`` pieces are written as separate TCP sends (``delay`` seconds apart); with
    ``framing="chunked"`` each data piece becomes one HTTP chunk, ``"close"`` writes raw bytes and
    ends the body by closing the connection, ``"length"`` sends a Content-Length. ``before`` delays
    the status line (``HANG`` there never answers). ``raw=True`` writes the pieces verbatim with no
    status line or headers added (the test writes the whole HTTP response itself).
    """

    status: int = 200
    body: list[Piece] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=lambda: dict(SSE_HEADERS))
    framing: Literal["chunked", "close", "length"] = "chunked"
    delay: float = 0.0
    before: float | _Marker = 0.0
    reason: str | None = None
    raw: bool = False


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


@dataclass
class Exchange:
    """A request and what became of its response; ``client_closed`` is set when the client hung up."""

    request: RecordedRequest
    response: ScriptedResponse
    client_closed: asyncio.Event = field(default_factory=asyncio.Event)
    completed: bool = False  # the whole scripted response was written
    started: float = field(default_factory=time.monotonic)
    # time.monotonic() when each body piece was written (the clock is shared by every process on the host)
    sent_at: list[float] = field(default_factory=list)


# --- building realistic OpenAI streams --------------------------------------------------------------


def sse(obj: Any, line_ending: str = "\n") -> bytes:
    """One ``data:`` event (a JSON object or a literal string such as ``[DONE]``) with its blank line."""
    data = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)
    return f"data: {data}{line_ending}{line_ending}".encode()


def chat_chunk(content: str | None = None, *, role: str | None = None, finish_reason: str | None = None,
               reasoning_content: str | None = None, reasoning: str | None = None,
               model: str = "test-model", usage: dict[str, int] | None = None,
               include_usage_null: bool = False, **delta_extra: Any) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if content is not None or role is not None:
        delta["content"] = content
    if reasoning_content is not None:
        delta["reasoning_content"] = reasoning_content
    if reasoning is not None:
        delta["reasoning"] = reasoning
    delta.update(delta_extra)
    obj: dict[str, Any] = {
        "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1700000000, "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if usage is not None or include_usage_null:
        obj["usage"] = usage
    return obj


def openai_stream(texts: Iterable[str], *, delay: float = 0.0, finish: str | None = "stop",
                  usage: bool = True, line_ending: str = "\n", done: bool = True,
                  model: str = "test-model", framing: Literal["chunked", "close", "length"] = "chunked",
                  ) -> ScriptedResponse:
    """A realistic OpenAI stream: a role-only first chunk, one chunk per text, finish, usage, [DONE]."""
    texts = list(texts)
    body: list[Piece] = [sse(chat_chunk("", role="assistant", model=model, include_usage_null=usage),
                             line_ending)]
    for t in texts:
        body.append(sse(chat_chunk(t, model=model, include_usage_null=usage), line_ending))
    if finish is not None:
        body.append(sse(chat_chunk(finish_reason=finish, model=model, include_usage_null=usage), line_ending))
    if usage:
        completion = len(texts)
        body.append(sse({"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1700000000,
                         "model": model, "choices": [],
                         "usage": {"prompt_tokens": 7, "completion_tokens": completion,
                                   "total_tokens": 7 + completion}}, line_ending))
    if done:
        body.append(sse("[DONE]", line_ending))
    return ScriptedResponse(body=body, delay=delay, framing=framing)


def error_response(status: int, body: str | bytes | dict[str, Any] = b"", *, content_type: str | None = None,
                   headers: dict[str, str] | None = None) -> ScriptedResponse:
    """A non-streamed error answer; a dict body is sent as JSON."""
    if isinstance(body, dict):
        data = json.dumps(body).encode()
        content_type = content_type or "application/json"
    else:
        data = body.encode() if isinstance(body, str) else body
        content_type = content_type or "text/plain"
    hdrs = {"Content-Type": content_type, **(headers or {})}
    return ScriptedResponse(status=status, body=[data] if data else [], headers=hdrs, framing="length")


# --- the server -------------------------------------------------------------------------------------

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


class _Conn:
    """A connection with its own read buffer, so EOF can be watched while a response is written."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self.buf = bytearray()
        self.eof = False

    async def fill(self) -> bool:
        try:
            data = await self.reader.read(65536)
        except (ConnectionError, OSError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    async def read_until(self, sep: bytes) -> bytes | None:
        while (i := self.buf.find(sep)) < 0:
            if self.eof or not await self.fill():
                return None
        out = bytes(self.buf[: i + len(sep)])
        del self.buf[: i + len(sep)]
        return out

    async def read_exactly(self, n: int) -> bytes | None:
        while len(self.buf) < n:
            if self.eof or not await self.fill():
                return None
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


class ScriptedProvider:
    """Loopback HTTP/1.1 server. Queue responses with :meth:`script`, or :meth:`always` for every request.

    Routes set with :meth:`on` (method + path) win over the queue; an unscripted request gets a
    500 JSON error saying so. Every request is recorded in :attr:`exchanges`.
    """

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._queue: deque[ScriptedResponse] = deque()
        self._always: ScriptedResponse | None = None
        self._routes: dict[tuple[str, str], ScriptedResponse] = {}
        self.exchanges: list[Exchange] = []
        self.connections = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    # -- scripting --
    def script(self, *responses: ScriptedResponse) -> ScriptedProvider:
        self._queue.extend(responses)
        return self

    def always(self, response: ScriptedResponse | None) -> ScriptedProvider:
        self._always = response
        return self

    def on(self, method: str, path: str, response: ScriptedResponse) -> ScriptedProvider:
        self._routes[(method.upper(), path)] = response
        return self

    # -- addresses --
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_url(self) -> str:
        return self.base_url + "/chat/completions"

    @property
    def requests(self) -> list[RecordedRequest]:
        return [e.request for e in self.exchanges]

    def config(self, **overrides: Any) -> ProviderConfig:
        """A ProviderConfig pointing here, with test-sized timeouts unless overridden."""
        values: dict[str, Any] = {"url": self.chat_url, "api_key": "test-key", "model": "test-model",
                                  "connect_timeout": 2, "first_byte_timeout": 5, "idle_timeout": 5}
        values.update(overrides)
        return ProviderConfig(**values)

    async def wait_closed_by_client(self, index: int = -1, timeout: float = 2.0) -> bool:
        """True once the client closed the connection of exchange ``index``."""
        try:
            async with asyncio.timeout(timeout):
                await self.exchanges[index].client_closed.wait()
        except TimeoutError:
            return False
        return True

    async def wait_requests(self, n: int, timeout: float = 2.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.exchanges) < n:
                await asyncio.sleep(0.005)

    # -- lifecycle --
    async def start(self) -> ScriptedProvider:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=4096)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop_listening(self) -> None:
        """Refuse new connections (a provider gone away); connections already made carry on."""
        if self._server is not None:
            self._server.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.close()
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    async def __aenter__(self) -> ScriptedProvider:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- serving --
    def _next(self, req: RecordedRequest) -> ScriptedResponse:
        path = req.path.split("?")[0]
        route = self._routes.get((req.method, path))
        if route is not None:
            return route
        if self._queue:
            return self._queue.popleft()
        if self._always is not None:
            return self._always
        return error_response(500, {"error": {"message": f"unscripted request {req.method} {req.path}"}})

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Conn(reader)
        ex: Exchange | None = None
        try:
            while True:
                req = await self._read_request(conn)
                if req is None:
                    if ex is not None:  # the client hung up after a complete response
                        ex.client_closed.set()
                    return
                resp = self._next(req)
                ex = Exchange(req, resp)
                self.exchanges.append(ex)
                keep = await self._respond(conn, writer, ex)
                if not keep:
                    return
        except (ConnectionError, OSError, asyncio.CancelledError):
            return
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _read_request(self, conn: _Conn) -> RecordedRequest | None:
        head = await conn.read_until(b"\r\n\r\n")
        if head is None:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
        body = b""
        if "content-length" in headers:
            body = await conn.read_exactly(int(headers["content-length"])) or b""
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size_line = await conn.read_until(b"\r\n")
                if size_line is None:
                    break
                size = int(size_line.split(b";")[0], 16)
                data = await conn.read_exactly(size + 2)
                if not size or data is None:
                    break
                parts.append(data[:-2])
            body = b"".join(parts)
        return RecordedRequest(method.upper(), path, headers, body)

    async def _respond(self, conn: _Conn, writer: asyncio.StreamWriter, ex: Exchange) -> bool:
        """Write the scripted response; returns whether the connection stays open for another request."""
        resp = ex.response

        async def watch() -> None:
            # The client sends nothing while a response is under way, so reading here only sees its EOF.
            while await conn.fill():
                pass
            ex.client_closed.set()

        watcher = asyncio.create_task(watch())
        try:
            return await self._write(writer, ex, resp, watcher)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _pause(self, seconds: float | _Marker, ex: Exchange) -> None:
        if seconds is HANG:
            await ex.client_closed.wait()
            raise ConnectionResetError("client closed during HANG")
        assert isinstance(seconds, (int, float))
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await ex.client_closed.wait()
            if ex.client_closed.is_set():
                raise ConnectionResetError("client closed")

    async def _send(self, writer: asyncio.StreamWriter, data: bytes, ex: Exchange) -> None:
        if ex.client_closed.is_set():
            raise ConnectionResetError("client closed")
        writer.write(data)
        await writer.drain()

    async def _write(self, writer: asyncio.StreamWriter, ex: Exchange, resp: ScriptedResponse,
                     watcher: asyncio.Task[None]) -> bool:
        await self._pause(resp.before, ex)
        pieces = [p.encode() if isinstance(p, str) else p for p in resp.body]
        if not resp.raw:
            reason = resp.reason or _REASONS.get(resp.status, "Status")
            head = [f"HTTP/1.1 {resp.status} {reason}"]
            hdrs = dict(resp.headers)
            if resp.framing == "chunked":
                hdrs["Transfer-Encoding"] = "chunked"
            elif resp.framing == "length":
                hdrs["Content-Length"] = str(sum(len(p) for p in pieces if isinstance(p, bytes)))
            else:
                hdrs["Connection"] = "close"
            head += [f"{k}: {v}" for k, v in hdrs.items()]
            await self._send(writer, ("\r\n".join(head) + "\r\n\r\n").encode("latin-1"), ex)
        first = True
        for piece in pieces:
            if isinstance(piece, Sleep):
                await self._pause(piece.seconds, ex)
                continue
            if piece is HANG:
                await self._pause(HANG, ex)
            if piece is DROP:
                writer.transport.abort()
                return False
            assert isinstance(piece, bytes)
            if not first and resp.delay:
                await self._pause(resp.delay, ex)
            first = False
            if resp.framing == "chunked" and not resp.raw:
                if not piece:
                    continue  # an empty chunk would end the body
                piece = b"%x\r\n%s\r\n" % (len(piece), piece)
            await self._send(writer, piece, ex)
            ex.sent_at.append(time.monotonic())
        if resp.framing == "chunked" and not resp.raw:
            await self._send(writer, b"0\r\n\r\n", ex)
        ex.completed = True
        if resp.raw or resp.framing == "close":
            writer.close()
            return False
        return True


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
async def scripted_provider() -> AsyncIterator[ScriptedProvider]:
    """A fresh ScriptedProvider on 127.0.0.1 for one test."""
    async with ScriptedProvider() as server:
        yield server


@pytest.fixture
async def provider_client() -> AsyncIterator[ProviderClient]:
    """A ProviderClient (not reading proxy settings from the environment) closed after the test."""
    client = ProviderClient(trust_env=False)
    try:
        yield client
    finally:
        await client.aclose()
