"""Upstream transport comparison: CPU per chunk received through each HTTP client stack, same streams.

Each variant runs in its own process (``python bench/transport_bench.py --variant V --port P``) and opens
``--streams`` concurrent streams of ``--tokens`` chunks at ``--rate`` tokens/s from the load provider,
reading them as Assistant Stream's provider client does (``aiter_bytes``). It prints one JSON line: the
process's CPU seconds while streaming, divided by the chunks received. Variants:

- ``raw``: asyncio protocol on uvloop, no HTTP library (the floor);
- ``httpx``: httpx's default transport (httpcore + anyio; a read timeout wraps every socket read);
- ``httpx-noread``: the same with ``read=None`` (no per-read cancel scope);
- ``httpx-aiohttp``: httpx's interface on aiohttp's connection handling (the httpx-aiohttp package);
- ``httpx-aiohttp-noread``: the same with ``read=None`` (aiohttp re-arms a read timer on every read otherwise);
- ``httpx-aiohttp+timeout``: the same plus one ``asyncio.timeout()`` per read, as a per-chunk idle timer;
- ``aiohttp``: aiohttp's own client, for reference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from typing import Any

VARIANTS = ["raw", "httpx", "httpx-noread", "httpx-aiohttp", "httpx-aiohttp-noread", "httpx-aiohttp+timeout",
            "aiohttp"]


def _body(tokens: int, rate: float) -> bytes:
    return json.dumps({"model": "load", "stream": True,
                       "messages": [{"role": "user", "content": f"n={tokens} r={rate}"}]}).encode()


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def run_raw(port: int, streams: int, body: bytes) -> int:
    loop = asyncio.get_running_loop()
    request = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
               b"content-length: %d\r\n\r\n%s" % (len(body), body))
    total = 0

    class Proto(asyncio.Protocol):
        def __init__(self, done: asyncio.Future[None]) -> None:
            self.done = done

        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            transport.write(request)

        def data_received(self, data: bytes) -> None:
            nonlocal total
            total += data.count(b"<t=")
            if b"[DONE]" in data:
                self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            if not self.done.done():
                self.done.set_result(None)

    async def one() -> None:
        done = loop.create_future()
        await loop.create_connection(lambda: Proto(done), "127.0.0.1", port)
        await done

    await asyncio.gather(*(one() for _ in range(streams)))
    return total


async def run_httpx(port: int, streams: int, body: bytes, variant: str) -> int:
    import httpx

    transport = None
    if variant.startswith("httpx-aiohttp"):
        from httpx_aiohttp import AiohttpTransport

        transport = AiohttpTransport(limits=httpx.Limits(max_connections=4096))
    read = None if variant.endswith("-noread") else 65.0
    per_read_timeout = variant.endswith("+timeout")
    total = 0
    async with httpx.AsyncClient(transport=transport, limits=httpx.Limits(max_connections=4096),
                                 timeout=httpx.Timeout(10.0, read=read)) as client:
        async def one() -> None:
            nonlocal total
            req = client.build_request("POST", f"http://127.0.0.1:{port}/v1/chat/completions", content=body,
                                       headers={"content-type": "application/json"})
            response = await client.send(req, stream=True)
            try:
                stream = response.aiter_bytes()
                while True:
                    try:
                        if per_read_timeout:
                            async with asyncio.timeout(60):
                                chunk = await anext(stream)
                        else:
                            chunk = await anext(stream)
                    except StopAsyncIteration:
                        break
                    total += chunk.count(b"<t=")
            finally:
                await response.aclose()

        await asyncio.gather(*(one() for _ in range(streams)))
    return total


async def run_aiohttp(port: int, streams: int, body: bytes) -> int:
    import aiohttp

    total = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=4096)) as session:
        async def one() -> None:
            nonlocal total
            async with session.post(f"http://127.0.0.1:{port}/v1/chat/completions", data=body,
                                    headers={"content-type": "application/json"}) as r:
                async for chunk in r.content.iter_any():
                    total += chunk.count(b"<t=")

        await asyncio.gather(*(one() for _ in range(streams)))
    return total


async def measure(variant: str, port: int, streams: int, tokens: int, rate: float) -> dict[str, Any]:
    body = _body(tokens, rate)
    # Warm-up: imports, connection set-up code paths.
    await dispatch(variant, port, 2, _body(5, 1000))
    cpu0, t0 = _cpu(), time.monotonic()
    chunks = await dispatch(variant, port, streams, body)
    cpu = _cpu() - cpu0
    return {"variant": variant, "streams": streams, "chunks": chunks, "expected": streams * tokens,
            "seconds": round(time.monotonic() - t0, 2), "cpu_s": round(cpu, 3),
            "us_per_chunk": round(cpu / max(chunks, 1) * 1e6, 1)}


async def dispatch(variant: str, port: int, streams: int, body: bytes) -> int:
    if variant == "raw":
        return await run_raw(port, streams, body)
    if variant == "aiohttp":
        return await run_aiohttp(port, streams, body)
    return await run_httpx(port, streams, body, variant)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", choices=VARIANTS, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        print(json.dumps(runner.run(measure(args.variant, args.port, args.streams, args.tokens, args.rate))))


if __name__ == "__main__":
    main()
