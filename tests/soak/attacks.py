"""`make attacks`: each attack class of docs/reliability.md against the app in its own process, measuring
what the table reports: the slowest /heartbeat while the attack runs, the app's RSS and open descriptors
(before, peak, after), and the time until the attacker got a clear error.

    .venv/bin/python -m tests.soak.attacks [--only NAME ...]

The figures are measurements, not assertions; the tests that hold each bound are named in the table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.support.appserver import APP_SECRET, APP_VERSION, ROOT, appapi_headers
from tests.support.faults import prompt_of
from tests.support.ports import free_port
from tests.support.rawclient import Raw, connect
from tests.support.scripted_provider import (
    HANG,
    RecordedRequest,
    ScriptedProvider,
    ScriptedResponse,
    chat_chunk,
    openai_stream,
    sse,
)
from tests.support.sse import sse_events

MIB = 1 << 20
ROLE = sse(chat_chunk("", role="assistant"))


@dataclass
class Row:
    name: str
    outcome: str
    clear_after: float | None
    heartbeat_ms: float
    rss: tuple[float, float, float]
    fds: tuple[int, int, int]

    def markdown(self) -> str:
        clear = "-" if self.clear_after is None else f"{self.clear_after:.2f} s"
        return (f"| {self.name} | {self.outcome} | {clear} | {self.heartbeat_ms:.0f} ms | "
                f"{self.rss[0]:.0f} / {self.rss[1]:.0f} / {self.rss[2]:.0f} MiB | "
                f"{self.fds[0]} / {self.fds[1]} / {self.fds[2]} |")


class Sampler(threading.Thread):
    """Samples the app's RSS and descriptors every 20 ms from a thread (works while its loop is blocked)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak_rss = 0
        self.peak_fds = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            with contextlib.suppress(psutil.Error):
                self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)
                self.peak_fds = max(self.peak_fds, self.process.num_fds())
            time.sleep(0.02)


class Target:
    """The app (`python -m assistant_stream`) and a scripted provider routed by prompt."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.provider = ScriptedProvider()
        self.routes: dict[str, ScriptedResponse] = {}
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        await self.provider.start()

        def pick(request: RecordedRequest) -> ScriptedResponse:
            prompt = prompt_of(request)
            for key, response in self.routes.items():
                if key in prompt:
                    return response
            return openai_stream(["fine"])

        self.provider._next = pick  # type: ignore[method-assign]
        env = {**os.environ, "APP_ID": "assistant_stream", "APP_SECRET": APP_SECRET, "APP_VERSION": APP_VERSION,
               "APP_HOST": "127.0.0.1", "APP_PORT": str(self.port), "APP_PERSISTENT_STORAGE": str(self.tmp),
               "NEXTCLOUD_URL": "http://127.0.0.1:9", "STREAMING_API_URL": self.provider.chat_url,
               "STREAMING_API_KEY": "sk-attack", "STREAMING_MODEL": "m", "REQUEST_TIMEOUT": "10",
               "MAX_STARTS_PER_MINUTE": "0", "STREAMING_PUBLIC_URL": "https://cloud.example.com/s",
               "LOG_LEVEL": "WARNING"}
        env.pop("LOCAL_MODE", None)
        self.proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "assistant_stream", cwd=ROOT, env=env,
                                                         stdout=asyncio.subprocess.DEVNULL,
                                                         stderr=asyncio.subprocess.DEVNULL)
        async with httpx.AsyncClient(trust_env=False) as probe:
            for _ in range(300):
                with contextlib.suppress(httpx.TransportError):
                    if (await probe.get(self.url + "/heartbeat")).status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise RuntimeError("the app did not start")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        await self.provider.stop()

    def client(self, user: str = "mallory", **kw: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=appapi_headers(user), trust_env=False,
                                 timeout=httpx.Timeout(120, connect=5), **kw)

    async def ask(self, prompt: str, response: ScriptedResponse) -> tuple[dict[str, Any], float]:
        """Ask a question answered by ``response``; returns (the final stream event, seconds until it)."""
        self.routes[prompt] = response
        async with self.client() as c:
            sid = (await c.put("/chat/new_session", json={"title": "x"})).json()["session"]["id"]
            mid = (await c.put("/chat/new_message", json={"sessionId": sid, "role": "human",
                                                          "content": prompt})).json()["id"]
            began = time.monotonic()
            last: dict[str, Any] = {}
            async with c.stream("GET", "/chat/stream", params={"sessionId": sid, "messageId": mid}) as r:
                async for _id, event in sse_events(r):
                    last = event
            return last, time.monotonic() - began


async def measure(target: Target, name: str, attack: Callable[[], Awaitable[tuple[str, float | None]]]) -> Row:
    assert target.proc is not None
    process = psutil.Process(target.proc.pid)
    await asyncio.sleep(0.5)
    before_rss, before_fds = process.memory_info().rss, process.num_fds()
    sampler = Sampler(target.proc.pid)
    sampler.start()
    worst = 0.0
    stop = asyncio.Event()

    async def beat() -> None:
        nonlocal worst
        async with httpx.AsyncClient(trust_env=False, timeout=60) as c:
            while not stop.is_set():
                began = time.monotonic()
                with contextlib.suppress(httpx.HTTPError):
                    await c.get(target.url + "/heartbeat")
                worst = max(worst, time.monotonic() - began)
                await asyncio.sleep(0.05)

    beater = asyncio.create_task(beat())
    try:
        outcome, clear = await attack()
    except (httpx.HTTPError, OSError, KeyError, ValueError) as exc:  # the attack broke the app's answer
        outcome, clear = f"the attacker's request failed: {type(exc).__name__} {exc}", None
    finally:
        stop.set()
        await beater
        sampler.running = False
        sampler.join()
    await asyncio.sleep(1.0)
    row = Row(name, outcome, clear, worst * 1000,
              (before_rss / MIB, max(sampler.peak_rss, before_rss) / MIB, process.memory_info().rss / MIB),
              (before_fds, max(sampler.peak_fds, before_fds), process.num_fds()))
    print(row.markdown(), flush=True)
    return row


# --- the attacks ----------------------------------------------------------------------------------


def bomb(mib: int, block: bytes = b"\n", prefix: bytes = ROLE + sse(chat_chunk("Start "))) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [c.compress(prefix)] + [c.compress(block * MIB) for _ in range(mib)]
    return b"".join(parts) + c.flush()


def attacks(t: Target) -> dict[str, Callable[[], Awaitable[tuple[str, float | None]]]]:
    gz = {"Content-Type": "text/event-stream", "Content-Encoding": "gzip"}

    async def provider_answer(prompt: str, response: ScriptedResponse) -> tuple[str, float | None]:
        last, took = await t.ask(prompt, response)
        code = last.get("code") or ("done" if last.get("done") else "?")
        return f"`{code}`: {str(last.get('error', ''))[:90]}", took

    async def gzip_small() -> tuple[str, float | None]:
        body = bomb(32)
        return await provider_answer(f"bomb32 ({len(body) // 1024} KB)",
                                     ScriptedResponse(body=[body, HANG], headers=gz))

    async def gzip_big() -> tuple[str, float | None]:
        body = bomb(512)
        return await provider_answer(f"bomb512 ({len(body) // 1024} KB)",
                                     ScriptedResponse(body=[body, HANG], headers=gz))

    async def gzip_error_body() -> tuple[str, float | None]:
        body = bomb(64, b" ", b'{"error": {"message": "overloaded"}}')
        return await provider_answer("errbomb", ScriptedResponse(
            status=500, body=[body], framing="length",
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}))

    async def long_line() -> tuple[str, float | None]:
        return await provider_answer("longline", ScriptedResponse(
            body=[ROLE, b'data: {"x": "', *([b"y" * 65536] * 64), HANG]))

    async def many_data_lines() -> tuple[str, float | None]:
        return await provider_answer("datalines", ScriptedResponse(
            body=[ROLE, *([b"data: " + b"z" * 1000 + b"\n"] * 65536), HANG]))

    async def big_request_bodies() -> tuple[str, float | None]:
        async with t.client() as c:
            began = time.monotonic()
            statuses = [(await c.put("/chat/new_session", content=b'{"title": "' + b"t" * 300_000 + b'"}',
                                     headers={"content-type": "application/json"})).status_code]
            took = time.monotonic() - began
            statuses.append((await c.put("/chat/new_session", content=gzip_json({"title": "x" * 10}),
                                         headers={"content-type": "application/json",
                                                  "content-encoding": "gzip"})).status_code)
        # A declared 10 GB body that never comes: refused on its Content-Length.
        reader, writer = await asyncio.open_connection("127.0.0.1", t.port)
        head = "".join(f"{k}: {v}\r\n" for k, v in appapi_headers("mallory").items())
        writer.write(f"PUT /chat/new_session HTTP/1.1\r\nHost: x\r\n{head}Content-Type: application/json\r\n"
                     f"Content-Length: 10000000000\r\n\r\n".encode())
        await writer.drain()
        status = (await asyncio.wait_for(reader.readline(), 30)).split()[1].decode()
        writer.close()
        return f"300 KB JSON: {statuses[0]}; gzip-encoded JSON: {statuses[1]}; 10 GB Content-Length: {status}", took

    async def slow_body() -> tuple[str, float | None]:
        reader, writer = await asyncio.open_connection("127.0.0.1", t.port)
        head = "".join(f"{k}: {v}\r\n" for k, v in appapi_headers("mallory").items())
        writer.write(f"PUT /chat/new_session HTTP/1.1\r\nHost: x\r\n{head}Content-Type: application/json\r\n"
                     f"Content-Length: 1000\r\n\r\n{{".encode())
        began = time.monotonic()
        reply = b""

        async def read() -> None:
            nonlocal reply
            with contextlib.suppress(ConnectionError):
                reply = await reader.read(4096)

        reading = asyncio.create_task(read())
        while not reading.done() and time.monotonic() - began < 70:
            with contextlib.suppress(ConnectionError):
                writer.write(b" ")
                await writer.drain()
            await asyncio.sleep(1)
        took = time.monotonic() - began
        reading.cancel()
        writer.close()
        if not reply:
            return "no answer within 70 s (the connection is held)", None
        return f"{reply.split()[1].decode()} after the body stalled", took

    async def encodings() -> tuple[str, float | None]:
        lone = b'data: {"choices":[{"index":0,"delta":{"content":"abc\\ud800def\\u0000"}}]}\n\n'
        t.routes["surrogate"] = ScriptedResponse(body=[ROLE, lone, HANG])
        out = []
        async with t.client() as c:
            sid = (await c.put("/chat/new_session", json={"title": "x"})).json()["session"]["id"]
            mid = (await c.put("/chat/new_message", json={"sessionId": sid, "role": "human",
                                                          "content": "surrogate"})).json()["id"]
            began = time.monotonic()
            statuses = []
            for _ in range(10):
                r = await c.get("/chat/poll", params={"sessionId": sid, "messageId": mid, "timeout": 1})
                statuses.append(r.status_code)
                if r.status_code == 200 and r.json().get("text"):
                    break
            took = time.monotonic() - began
            check = await c.get("/chat/check_generation", params={"taskId": mid + 1, "sessionId": sid})
            out.append(f"live lone surrogate + NUL: poll {statuses[-1]}, check_generation {check.status_code}")
            await c.post("/chat/stop", json={"sessionId": sid, "messageId": mid})
            for raw in (b'{"title": "\\udfff"}', b'{"title": "\xff\xfe"}', b'{"title": "a\\u0000b"}'):
                r = await c.put("/chat/new_session", content=raw, headers={"content-type": "application/json"})
                out.append(f"{raw[11:-2]!r}: {r.status_code}")
        return "; ".join(out), took

    async def header_flood() -> tuple[str, float | None]:
        conns = [await connect(t.port) for _ in range(6)]
        began = time.monotonic()

        async def flood(conn: Raw) -> int:
            sent = 0
            await conn.send(b"GET /heartbeat HTTP/1.1\r\nHost: x\r\nX-Flood: ")
            for _ in range(32 * 16):
                if not await conn.send(b"a" * 65536):
                    break
                sent += 65536
            return sent

        sent = await asyncio.gather(*(flood(c) for c in conns))
        closed = [await c.wait_closed(60) for c in conns]
        took = time.monotonic() - began
        codes = sorted({bytes(c.data).split(b" ")[1].decode() if c.data.startswith(b"HTTP/") else "no answer"
                        for c in conns})
        for c in conns:
            if c.transport is not None:
                c.transport.abort()
        return (f"6 x 32 MiB head: {', '.join(codes)}, {sum(closed)} of 6 closed by the server; at most "
                f"{max(sent) / MIB:.1f} MiB written (into socket buffers) before it hung up"), took

    async def slowloris() -> tuple[str, float | None]:
        conns = [await connect(t.port) for _ in range(200)]
        began = time.monotonic()

        async def trickle(conn: Raw, talk: bool) -> float | None:
            if talk:
                await conn.send(b"GET /heartbeat HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            while time.monotonic() - began < 70:
                if await conn.wait_closed(1):
                    return time.monotonic() - began
                if talk:
                    await conn.send(b"x")
            return None

        closed = await asyncio.gather(*(trickle(c, bool(i % 2)) for i, c in enumerate(conns)))
        codes = Counter(bytes(c.data).split(b" ")[1].decode() if c.data.startswith(b"HTTP/") else "none"
                        for c in conns)
        for c in conns:
            if c.transport is not None:
                c.transport.abort()
        done = [c for c in closed if c is not None]
        if len(done) < len(conns):
            return f"{len(conns) - len(done)} of 200 connections still open after 70 s", None
        return f"100 trickling + 100 silent connections, all closed by the server; answers {dict(codes)}", max(done)

    async def percent_names() -> tuple[str, float | None]:
        async with t.client() as c:
            sid = (await c.put("/chat/new_session", json={"title": "x"})).json()["session"]["id"]
            mid = (await c.put("/chat/new_message", json={"sessionId": sid, "role": "human",
                                                          "content": "fine"})).json()["id"]
            token = (await c.post("/chat/stream_token", json={"sessionId": sid, "messageId": mid})).json()["token"]
            ok = (await c.get(f"/chat/messages?s%65ssionId={sid}")).status_code
        async with httpx.AsyncClient(base_url=t.url, trust_env=False, timeout=30) as anon:
            began = time.monotonic()
            codes = []
            for q in (f"tok%65n={token}", f"token=&tok%65n={token}", "tok%65n=forged"):
                codes.append((await anon.get(f"/chat/stream?sessionId={sid}&messageId={mid}&{q}")).status_code)
            took = time.monotonic() - began
        return (f"`s%65ssionId`: {ok}; `tok%65n=<token>`: {codes[0]}, `token=&tok%65n=`: {codes[1]}, "
                f"forged: {codes[2]}"), took

    return {"gzip-bomb-32k": gzip_small, "gzip-bomb-510k": gzip_big, "gzip-error-body": gzip_error_body,
            "1mb-line": long_line, "event-of-64k-data-lines": many_data_lines, "request-bodies": big_request_bodies,
            "slow-request-body": slow_body, "encodings": encodings, "header-flood": header_flood,
            "slowloris": slowloris, "percent-encoded-names": percent_names}


def gzip_json(obj: Any) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(json.dumps(obj).encode()) + c.flush()


async def main(only: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="assistant-stream-attacks-") as tmp:
        target = Target(Path(tmp))
        await target.start()
        try:
            print("| attack | outcome | clear error after | slowest /heartbeat | RSS before / peak / after "
                  "| fds before / peak / after |")
            print("|---|---|---|---|---|---|")
            for name, attack in attacks(target).items():
                if only and name not in only:
                    continue
                await measure(target, name, attack)
        finally:
            await target.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=[])
    asyncio.run(main(parser.parse_args().only))
