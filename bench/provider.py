"""Load provider: an OpenAI-compatible streaming server that emits N tokens at R tokens/s per stream.

Each token's text is ``<t=UNIX_SECONDS>``, the wall-clock time taken right before the chunk is written
to the socket, so a client anywhere downstream can tell how long that chunk took to reach it, even
when a relay merges several chunks into one event.

Per request, the last message's text may override the defaults: ``n=<tokens> r=<tokens/s>
d=<seconds before the first token>``, and put the stream in a group ``g=<id>``:
``GET /end?g=<id>&at=<unix time>`` makes every stream of that group finish normally at that time
(the load client ends a run this way once its measurement window is over, however long the relay
took to open the streams). Written on raw asyncio protocols (uvloop when present) and timer
callbacks rather than a web framework, so that emitting 40,000 chunks/s stays cheap; the runner
measures its CPU anyway. ``GET /stats`` reports how late the timers fired.

Run: ``python bench/provider.py --port 18001 [--tokens 100 --rate 20 --delay 0]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from typing import Any

_PARAM = re.compile(r"\b([nrdg])=([0-9.]+)")
_HEAD_END = b"\r\n\r\n"
_MAX_HEAD = 64 * 1024
_MAX_BODY = 4 * 1024 * 1024

_CHUNK_PRE = (b'data: {"id":"chatcmpl-load","object":"chat.completion.chunk","created":1700000000,'
              b'"model":"load","choices":[{"index":0,"delta":{"content":"<t=')
_CHUNK_POST = b'>"},"logprobs":null,"finish_reason":null}]}\n\n'
_ROLE = (b'data: {"id":"chatcmpl-load","object":"chat.completion.chunk","created":1700000000,"model":"load",'
         b'"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,'
         b'"finish_reason":null}]}\n\n')
_FINISH = (b'data: {"id":"chatcmpl-load","object":"chat.completion.chunk","created":1700000000,"model":"load",'
           b'"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\n')
_USAGE = (b'data: {"id":"chatcmpl-load","object":"chat.completion.chunk","created":1700000000,"model":"load",'
          b'"choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}\n\n')
_DONE = b"data: [DONE]\n\n"


def _chunk(payload: bytes) -> bytes:
    """One HTTP/1.1 chunked-encoding frame."""
    return b"%x\r\n%s\r\n" % (len(payload), payload)


class Stats:
    """Timer lateness (how much later than planned a chunk was written) and counts, since the last reset."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.chunks = 0
        self.streams = 0
        self.lags: list[float] = []
        self.since = time.time()

    def as_dict(self) -> dict[str, Any]:
        lags = sorted(self.lags)

        def q(p: float) -> float | None:
            return round(lags[min(len(lags) - 1, int(p * len(lags)))] * 1000, 3) if lags else None

        return {"chunks": self.chunks, "streams": self.streams, "seconds": round(time.time() - self.since, 3),
                "timer_lag_ms_p50": q(0.5), "timer_lag_ms_p99": q(0.99), "timer_lag_ms_max": q(1.0)}


STATS = Stats()
GROUP_END: dict[str, float] = {}  # group id -> loop time at which its streams finish


class LoadProtocol(asyncio.Protocol):
    """One client connection: HTTP/1.1 keep-alive, one streamed completion at a time."""

    def __init__(self, defaults: tuple[int, float, float]) -> None:
        self._defaults = defaults
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._busy = False
        self._left = 0
        self._sent = 0
        self._interval = 0.0
        self._due = 0.0
        self._usage = False
        self._group = ""
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if len(self._buf) > _MAX_HEAD + _MAX_BODY:
            self._close()
            return
        self._try_request()

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _try_request(self) -> None:
        if self._busy:
            return
        end = self._buf.find(_HEAD_END)
        if end < 0:
            return
        head = bytes(self._buf[:end]).decode("latin-1")
        lines = head.split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            self._close()
            return
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if len(self._buf) < end + 4 + length:
            return
        body = bytes(self._buf[end + 4:end + 4 + length])
        del self._buf[:end + 4 + length]
        self._handle(method, target.split("?", 1)[0], target, body)

    def _respond(self, status: str, payload: bytes, ctype: str = "application/json") -> None:
        assert self._transport is not None
        self._transport.write(b"HTTP/1.1 %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s"
                              % (status.encode(), ctype.encode(), len(payload), payload))
        self._try_request()

    def _handle(self, method: str, path: str, target: str, body: bytes) -> None:
        if method == "GET" and path in ("/health", "/v1/health"):
            self._respond("200 OK", b'{"status":"ok"}')
        elif method == "GET" and path in ("/v1/models", "/models"):
            self._respond("200 OK", b'{"object":"list","data":[{"id":"load","object":"model"}]}')
        elif method == "GET" and path == "/stats":
            out = json.dumps(STATS.as_dict()).encode()
            if "reset=1" in target:
                STATS.reset()
            self._respond("200 OK", out)
        elif method == "GET" and path == "/end":
            q = dict(p.split("=", 1) for p in target.partition("?")[2].split("&") if "=" in p)
            GROUP_END[q["g"]] = self._loop.time() + float(q["at"]) - time.time()
            self._respond("200 OK", b'{"ok":true}')
        elif method == "POST" and path.endswith("/chat/completions"):
            self._start_stream(body)
        else:
            self._respond("404 Not Found", b'{"error":{"message":"not found"}}')

    def _start_stream(self, body: bytes) -> None:
        n, rate, delay = self._defaults
        try:
            req = json.loads(body)
            messages = req.get("messages") or []
            text = str(messages[-1].get("content", "")) if messages else ""
        except (ValueError, AttributeError, TypeError):
            self._respond("400 Bad Request", b'{"error":{"message":"bad json"}}')
            return
        self._group = ""
        for key, value in _PARAM.findall(text):
            if key == "g":
                self._group = value
            elif key == "n":
                n = int(float(value))
            elif key == "r":
                rate = float(value)
            else:
                delay = float(value)
        self._usage = bool((req.get("stream_options") or {}).get("include_usage"))
        assert self._transport is not None
        self._busy = True
        self._left = max(n, 0)
        self._sent = 0
        self._interval = 1.0 / rate if rate > 0 else 0.0
        STATS.streams += 1
        self._transport.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
                              b"transfer-encoding: chunked\r\n\r\n" + _chunk(_ROLE))
        self._due = self._loop.time() + delay
        if delay > 0:
            self._timer = self._loop.call_at(self._due, self._emit)
        else:
            self._emit()

    def _emit(self) -> None:
        self._timer = None
        transport = self._transport
        if transport is None:
            return
        now = self._loop.time()
        if self._left <= 0 or (self._group and now >= GROUP_END.get(self._group, now + 1)):
            tail = _FINISH
            if self._usage:
                tail += _USAGE % (10, self._sent, 10 + self._sent)
            transport.write(_chunk(tail + _DONE) + b"0\r\n\r\n")
            self._busy = False
            self._try_request()
            return
        STATS.lags.append(now - self._due)
        STATS.chunks += 1
        transport.write(_chunk(b"%s%.6f%s" % (_CHUNK_PRE, time.time(), _CHUNK_POST)))
        self._left -= 1
        self._sent += 1
        # Planned times, not "now + interval": a late timer does not slow the stream down.
        self._due += self._interval
        self._timer = self._loop.call_at(self._due, self._emit)


async def serve(host: str, port: int, defaults: tuple[int, float, float]) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: LoadProtocol(defaults), host, port, backlog=4096)
    print(f"load provider on http://{host}:{port}/v1", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("the load provider only listens on loopback")
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(serve(args.host, args.port, (args.tokens, args.rate, args.delay)))


def loop_factory() -> Any:
    """uvloop's event loop when installed (it is, with uvicorn[standard]), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    main()
