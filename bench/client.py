"""Load client: opens streams and records, per chunk, when it left the provider and when it arrived.

Runs as its own process (``python bench/client.py SPEC.json OUT.json``) so that it does not compete
with the runner. Streams are read with raw asyncio protocols on uvloop: each socket read is scanned
with one regular expression for the provider's ``<t=...>`` stamps, whatever the wire format (the
provider's OpenAI chunks, LiteLLM's, or Assistant Stream's SSE events, merged or not), so the client
costs a few microseconds per chunk. The set-up requests (sessions, messages) and the polling
transports use httpx; they are not on the per-chunk path.

Modes (``spec["mode"]``): ``ttft`` (figure 1), ``load`` (figures 2 and 3), ``visible`` (figure 4).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import random
import re
import resource
import sys
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

STAMP = re.compile(rb"<t=(\d+\.\d+)>")
STAMP_STR = re.compile(r"<t=(\d+\.\d+)>")
# A data line carrying at least one stamp: one browser-visible text event (merged chunks count once).
EVENT_LINE = re.compile(rb"data: ?[^\n]*?<t=")
APP_ID = "assistant_stream"
APP_VERSION = "1.0.0"
SYSTEM_PROMPT = "You are a helpful assistant."


def appapi_headers(user: str, secret: str) -> dict[str, str]:
    """The headers AppAPI's proxy adds to every request it forwards to an ExApp."""
    return {"AA-VERSION": "32.0.0", "EX-APP-ID": APP_ID, "EX-APP-VERSION": APP_VERSION,
            "AUTHORIZATION-APP-API": base64.b64encode(f"{user}:{secret}".encode()).decode(),
            "AA-REQUEST-ID": "bench"}


def quantiles(values: Sequence[float], scale: float = 1.0, digits: int = 3) -> dict[str, float | None]:
    """p50 / p90 / p99 / max (nearest rank) of ``values`` times ``scale``."""
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None, "n": 0}
    s = sorted(values)

    def q(p: float) -> float:
        return round(s[min(len(s) - 1, max(0, math.ceil(p * len(s)) - 1))] * scale, digits)

    return {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": round(s[-1] * scale, digits), "n": len(s)}


@dataclass
class Target:
    kind: str  # "direct" (the load provider), "litellm", "relay" (the minimal relay anchor), "ours"
    host: str
    port: int
    api_key: str = ""
    model: str = "load"
    secret: str = ""
    users: list[str] = field(default_factory=lambda: ["bench"])
    pid: int | None = None  # the process whose CPU and memory are measured (with its children)
    ports: list[int] = field(default_factory=list)  # replicas: stream i goes to ports[i % len(ports)]
    pids: list[int] = field(default_factory=list)  # further processes of the target (other replicas)
    name: str = ""  # the label in results when one kind runs in several set-ups (workers, replicas)

    @property
    def label(self) -> str:
        return self.name or self.kind

    def port_for(self, i: int) -> int:
        return self.ports[i % len(self.ports)] if self.ports else self.port

    @property
    def end_marker(self) -> bytes:
        return b'"done":true' if self.kind == "ours" else b"[DONE]"


# --- one stream ------------------------------------------------------------------------------------


class Recorder:
    """Every stamp received: provider time and arrival time; and per read, how many events it held."""

    def __init__(self) -> None:
        self.ts = array("d")
        self.arrived = array("d")
        self.read_ts = array("d")  # first stamp of a read
        self.read_events = array("d")
        self.read_chunks = array("d")


class StreamProto(asyncio.Protocol):
    """Sends one request, then scans the response bytes for stamps until the end marker."""

    def __init__(self, request: bytes, end: bytes, rec: Recorder | None, done: asyncio.Future[None]) -> None:
        self.request = request
        self.end = end
        self.rec = rec
        self.done = done
        self.transport: asyncio.Transport | None = None
        self.head = bytearray()
        self.status = 0
        self.tail = b""
        self.count = 0
        self.first_at: float | None = None
        self.first_ts: float | None = None
        self.finished = False
        self.error: str | None = None
        self.events = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if not self.status:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            line = bytes(self.head[:self.head.find(b"\r\n")])
            try:
                self.status = int(line.split(b" ", 2)[1])
            except (IndexError, ValueError):
                self.status = -1
            data = bytes(self.head[end + 4:])
            if self.status != 200:
                self._fail(f"HTTP {self.status}: {data[:200]!r}")
                return
        buf = self.tail + data if self.tail else data
        cut = buf.rfind(b"\n")
        if cut < 0:
            self.tail = buf
            return
        complete, self.tail = buf[:cut + 1], buf[cut + 1:]
        final = complete.find(self.end)
        if final < 0:
            final = complete.find(b'{"error":')
        # Assistant Stream's `done` / `error` events repeat the whole answer in `message`: not new chunks.
        scan = complete if final < 0 else complete[:complete.rfind(b"\n", 0, final) + 1]
        stamps = STAMP.findall(scan)
        if stamps:
            events = len(EVENT_LINE.findall(scan))
            self.events += events
            if self.first_at is None:
                self.first_at = now
                self.first_ts = float(stamps[0])
            self.count += len(stamps)
            rec = self.rec
            if rec is not None:
                ts, arrived = rec.ts, rec.arrived
                for s in stamps:
                    ts.append(float(s))
                    arrived.append(now)
                rec.read_ts.append(float(stamps[0]))
                rec.read_events.append(events)
                rec.read_chunks.append(len(stamps))
        if b'{"error":' in complete:
            self._fail("error event: " + complete[complete.find(b'{"error":'):][:200].decode("utf-8", "replace"))
        elif self.end in complete:
            self.finished = True
            self._close()

    def _fail(self, why: str) -> None:
        if self.error is None:
            self.error = why
        self._close()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.finished and self.error is None:
            self.error = f"connection closed before the end ({exc or 'EOF'})"
        if not self.done.done():
            self.done.set_result(None)


def stream_request(target: Target, text: str, session: tuple[int, int, str] | None, port: int | None = None
                   ) -> bytes:
    """The raw HTTP/1.1 request that opens one stream on ``target``."""
    host = f"{target.host}:{port or target.port}"
    if target.kind == "ours":
        assert session is not None
        sid, mid, user = session
        headers = "".join(f"{k}: {v}\r\n" for k, v in appapi_headers(user, target.secret).items())
        return (f"GET /chat/stream?sessionId={sid}&messageId={mid} HTTP/1.1\r\nHost: {host}\r\n"
                f"Accept: text/event-stream\r\n{headers}\r\n").encode()
    body = json.dumps({"model": target.model, "stream": True, "stream_options": {"include_usage": True},
                       "messages": [{"role": "system", "content": SYSTEM_PROMPT},
                                    {"role": "user", "content": text}]}).encode()
    auth = f"Authorization: Bearer {target.api_key}\r\n" if target.api_key else ""
    return (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Accept: text/event-stream\r\n{auth}Content-Length: {len(body)}\r\n\r\n").encode() + body


class Stream:
    """One stream's request, its protocol once connected, and its timing."""

    def __init__(self, target: Target, n: int | None, text: str, session: tuple[int, int, str] | None,
                 rec: Recorder | None, port: int | None = None) -> None:
        self.target = target
        self.n = n
        self.port = port or target.port
        self.request = stream_request(target, text, session, self.port)
        self.rec = rec
        self.proto: StreamProto | None = None
        self.started = 0.0
        self.connect_error: str | None = None

    async def run(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self.started = time.time()
        try:
            _t, self.proto = await asyncio.wait_for(loop.create_connection(
                lambda: StreamProto(self.request, self.target.end_marker, self.rec, done),
                self.target.host, self.port), timeout)
            await asyncio.wait_for(done, max(0.1, timeout - (time.time() - self.started)))
        except (OSError, TimeoutError) as exc:
            self.connect_error = f"{type(exc).__name__}: {exc}"
        finally:
            if self.proto is not None and self.proto.transport is not None:
                self.proto.transport.close()

    @property
    def error(self) -> str | None:
        if self.connect_error:
            return self.connect_error if self.proto is None else f"timeout ({self.connect_error})"
        p = self.proto
        if p is None:
            return "not started"
        if p.error:
            return p.error
        if self.n is not None and p.count != self.n:
            return f"received {p.count} of {self.n} chunks"
        if self.n is None and p.count == 0:
            return "no chunk received"
        return None

    @property
    def ttft(self) -> float | None:
        p = self.proto
        return None if p is None or p.first_at is None else p.first_at - self.started


# --- Assistant Stream set-up ------------------------------------------------------------------------


async def make_sessions(target: Target, texts: Sequence[str], concurrency: int = 32,
                        base: str | None = None) -> list[tuple[int, int, str]]:
    """One session and one user message per text: (sessionId, messageId, user), in order."""
    out: list[tuple[int, int, str] | None] = [None] * len(texts)
    sem = asyncio.Semaphore(concurrency)
    url = base or f"http://{target.host}:{target.port}"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, trust_env=False, limits=limits) as client:

        async def one(i: int) -> None:
            user = target.users[i % len(target.users)]
            headers = appapi_headers(user, target.secret)
            root = "" if base or not target.ports else f"http://{target.host}:{target.port_for(i)}"
            async with sem:
                r = await client.put(root + "/chat/new_session", json={"title": "bench"}, headers=headers)
                r.raise_for_status()
                sid = r.json()["session"]["id"]
                r = await client.put(root + "/chat/new_message", headers=headers, json={
                    "sessionId": sid, "role": "human", "content": texts[i], "timestamp": int(time.time())})
                r.raise_for_status()
                out[i] = (sid, r.json()["id"], user)

        await asyncio.gather(*(one(i) for i in range(len(texts))))
    return [x for x in out if x is not None]


# --- process measurements -----------------------------------------------------------------------------


class Watched:
    """CPU seconds and RSS of processes and their children (LiteLLM and uvicorn may fork workers)."""

    def __init__(self, pid: int | None, more: Sequence[int] = ()) -> None:
        self.procs = [psutil.Process(p) for p in (pid, *more) if p]
        self.proc = self.procs[0] if self.procs else None
        self._cached: list[psutil.Process] | None = None

    def _all(self) -> list[psutil.Process]:
        # Children are listed once and then kept: psutil must see the same objects to read CPU deltas.
        if self._cached is None:
            out: list[psutil.Process] = []
            for proc in self.procs:
                out.append(proc)
                with contextlib.suppress(psutil.Error):
                    out.extend(proc.children(recursive=True))
            self._cached = out
        return self._cached

    def cpu(self) -> float:
        total = 0.0
        for p in self._all():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def rss(self) -> int:
        total = 0
        for p in self._all():
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total


def _slope(points: list[tuple[float, int]]) -> float | None:
    """Least-squares slope (bytes per second) of RSS samples."""
    if len(points) < 4:
        return None
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(r for _, r in points) / n
    den = sum((t - mx) ** 2 for t, _ in points)
    return sum((t - mx) * (r - my) for t, r in points) / den if den else None


def _busy() -> float:
    """CPU seconds the whole machine has been busy (all cores, all processes)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)


class LoopLag:
    """How late a 10 ms timer fires in this client: the client's own overload shows here."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.recording = False
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(0.01)
            if self.recording:
                self.lags.append(loop.time() - t - 0.01)

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()


async def provider_stats(spec: dict[str, Any], reset: bool) -> dict[str, Any] | None:
    port = spec.get("provider_port")
    if not port:
        return None
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        r = await client.get(f"http://127.0.0.1:{port}/stats" + ("?reset=1" if reset else ""))
        return r.json()


async def provider_end(spec: dict[str, Any], group: int, at: float) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        r = await client.get(f"http://127.0.0.1:{spec['provider_port']}/end", params={"g": group, "at": at})
        r.raise_for_status()


# --- mode: ttft (figure 1) ---------------------------------------------------------------------------


async def mode_ttft(spec: dict[str, Any]) -> dict[str, Any]:
    """Single streams one after another, targets interleaved; time from request to first token."""
    targets = [Target(**t) for t in spec["targets"]]
    rounds, warmup, n = spec["rounds"], spec.get("warmup", 5), spec.get("tokens", 3)
    text = f"bench n={n} r=1000 d=0"
    samples: dict[str, list[float]] = {t.label: [] for t in targets}
    errors: dict[str, list[str]] = {t.label: [] for t in targets}
    sessions = {t.label: await make_sessions(t, [text] * (rounds + warmup)) for t in targets if t.kind == "ours"}
    deadline = time.monotonic() + spec.get("max_seconds", 120)
    for i in range(rounds + warmup):
        for t in targets:
            s = Stream(t, n, text, sessions[t.label][i] if t.kind == "ours" else None, None)
            await s.run(10)
            if i < warmup:
                continue
            if s.error or s.ttft is None:
                errors[t.label].append(s.error or "no token")
            else:
                samples[t.label].append(s.ttft)
        if time.monotonic() > deadline:
            break
    return {"mode": "ttft", "samples_s": samples, "errors": {k: v[:5] for k, v in errors.items()},
            "error_counts": {k: len(v) for k, v in errors.items()},
            "ttft_ms": {k: quantiles(v, 1000) for k, v in samples.items()}}


# --- mode: load (figures 2 and 3) -------------------------------------------------------------------


async def mode_load(spec: dict[str, Any]) -> dict[str, Any]:
    target = Target(**spec["target"])
    count, rate = spec["streams"], spec["rate"]
    ramp, settle, measure, slack = spec["ramp"], spec["settle"], spec["measure"], spec.get("slack", 4.0)
    watched, provider = Watched(target.pid, target.pids), Watched(spec.get("provider_pid"))
    extras = {name: Watched(pid) for name, pid in (spec.get("watch") or {}).items()}
    me = psutil.Process()
    # Warm-up: the first requests of a process pay for lazy imports and pools; not what is measured.
    warm_texts = ["bench n=5 r=200 d=0"] * 5
    warm_sessions = await make_sessions(target, warm_texts) if target.kind == "ours" else [None] * 5
    for sess in warm_sessions:
        await Stream(target, 5, warm_texts[0], sess, None).run(20)
    # Stream i starts at i*ramp/count. Every stream runs until the provider is told (below) to end
    # the group, once the window is known: a relay slow to open streams still gets a full window.
    offsets = [ramp * i / count for i in range(count)]
    group = random.randrange(10**9)
    open_budget = spec.get("open_budget", 30.0)
    upper = math.ceil(rate * (ramp + open_budget + settle + measure + slack))
    texts = [f"bench n={upper} r={rate} d=0 g={group}"] * count
    t_setup = time.time()
    sessions: Sequence[tuple[int, int, str] | None] = (
        await make_sessions(target, texts) if target.kind == "ours" else [None] * count)
    setup_s = time.time() - t_setup
    await asyncio.sleep(0.5)
    rss_base = watched.rss()
    await provider_stats(spec, reset=True)
    rec = Recorder()
    streams = [Stream(target, None, texts[i], sessions[i], rec, target.port_for(i)) for i in range(count)]
    lag = LoopLag()
    lag.start()
    loop = asyncio.get_running_loop()
    t0 = time.time()
    hard_deadline = ramp + open_budget + settle + measure + slack + 30
    tasks: list[asyncio.Task[None]] = []
    for i, s in enumerate(streams):
        delay = t0 + offsets[i] - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(s.run(hard_deadline - (time.time() - t0))))
    # The window opens `settle` seconds after the last stream got its first token.
    all_open = False
    while time.time() - t0 < ramp + open_budget:
        if all((s.proto is not None and (s.proto.first_at is not None or s.proto.done.done())) or s.connect_error
               for s in streams):
            all_open = True
            break
        await asyncio.sleep(0.05)
    opened = [s.proto.first_at for s in streams if s.proto is not None and s.proto.first_at is not None]
    t_open = max(opened) if all_open and opened else time.time()
    win_start = t_open + settle
    win_end = win_start + measure
    await provider_end(spec, group, win_end + slack / 2)
    await asyncio.sleep(max(0.0, win_start - time.time()))
    if spec.get("window_file"):  # tells the runner (py-spy) that the steady window has begun
        with open(spec["window_file"], "w", encoding="utf-8") as f:
            f.write(str(win_end - time.time()))
    cpu0, pcpu0, mcpu0 = watched.cpu(), provider.cpu(), sum(me.cpu_times()[:2])
    xcpu0 = {name: w.cpu() for name, w in extras.items()}
    sys0 = _busy()
    lag.recording = True
    rss_samples = [(time.time(), watched.rss())]
    while time.time() < win_end:
        await asyncio.sleep(min(0.5, max(0.0, win_end - time.time())))
        rss_samples.append((time.time(), watched.rss()))
    rss_peak = max(r for _, r in rss_samples)
    cpu1, pcpu1, mcpu1 = watched.cpu(), provider.cpu(), sum(me.cpu_times()[:2])
    xcpu = {name: w.cpu() - xcpu0[name] for name, w in extras.items()}
    busy = _busy() - sys0
    lag.recording = False
    real_window = time.time() - win_start
    pstats = await provider_stats(spec, reset=False)
    await asyncio.wait(tasks, timeout=hard_deadline)
    lag.stop()
    errors = [e for e in (s.error for s in streams) if e]
    # Per chunk: arrival minus the provider's stamp, for chunks that left the provider in the window.
    lats = [a - t for t, a in zip(rec.ts, rec.arrived, strict=True) if win_start <= t < win_end]
    ev = sum(e for t, e in zip(rec.read_ts, rec.read_events, strict=True) if win_start <= t < win_end)
    ch = sum(c for t, c in zip(rec.read_ts, rec.read_chunks, strict=True) if win_start <= t < win_end)
    ttfts = [s.ttft for s in streams if s.ttft is not None]
    cpu = cpu1 - cpu0
    relayed = sum(1 for a in rec.arrived if win_start <= a < win_end)  # what the relay delivered in the window
    # Memory that grows with each relayed chunk (the answer's history) vs. per open stream: the RSS
    # slope over the window, per chunk delivered.
    slope = _slope(rss_samples)
    per_chunk_b = slope / (relayed / real_window) if relayed and slope is not None else None
    at_peak = rate * (win_end - t0 - ramp / 2)
    return {
        "mode": "load", "target": target.label, "streams": count, "rate": rate,
        "setup_s": round(setup_s, 2), "open_s": round(t_open - t0, 3), "window_s": round(real_window, 3),
        "chunks_in_window": len(lats), "latency_ms": quantiles(lats, 1000),
        "errors": len(errors), "error_samples": sorted(set(errors))[:5], "all_opened": all_open,
        "events_in_window": ev, "chunks_per_event": round(ch / ev, 3) if ev else None,
        "ttft_under_load_ms": quantiles(ttfts, 1000),
        "target_cpu_s": round(cpu, 3), "target_cpu_util": round(cpu / real_window, 3),
        "chunks_delivered_in_window": relayed,
        "target_cpu_us_per_chunk": round(cpu / relayed * 1e6, 2) if relayed else None,
        "rss_base_mb": round(rss_base / 2**20, 2), "rss_peak_mb": round(rss_peak / 2**20, 2),
        "rss_growth_kb_per_stream": round((rss_peak - rss_base) / 1024 / count, 2),
        "chunks_per_stream_at_peak": round(at_peak),
        "rss_bytes_per_chunk": round(per_chunk_b, 1) if per_chunk_b is not None else None,
        "rss_kb_per_stream_without_history": (
            round((rss_peak - rss_base) / 1024 / count - per_chunk_b * at_peak / 1024, 1)
            if per_chunk_b is not None else None),
        "open_budget_s": open_budget,
        "provider_cpu_util": round((pcpu1 - pcpu0) / real_window, 3),
        "client_cpu_util": round((mcpu1 - mcpu0) / real_window, 3),
        # Everything else on the machine (other users' builds and tests): the cores the bench did not get.
        "other_cpu_util": round(max(0.0, busy - cpu - (pcpu1 - pcpu0 if target.kind != "direct" else 0)
                                    - (mcpu1 - mcpu0) - sum(xcpu.values())) / real_window, 3),
        # Processes the target depends on (Redis, PostgreSQL): their CPU, and per chunk relayed.
        "watched_cpu_util": {k: round(v / real_window, 3) for k, v in xcpu.items()},
        "watched_cpu_us_per_chunk": {k: round(v / relayed * 1e6, 2) if relayed else None for k, v in xcpu.items()},
        "client_loop_lag_ms": quantiles(lag.lags, 1000),
        "provider_stats": pstats,
    }


# --- mode: visible (figure 4) -------------------------------------------------------------------------


def _first_stamp(text: str) -> float | None:
    m = STAMP_STR.search(text)
    return float(m.group(1)) if m else None


async def _visible_sse(target: Target, text: str, n: int, session: tuple[int, int, str] | None
                       ) -> tuple[float | None, list[float], str | None]:
    rec = Recorder()
    s = Stream(target, n, text, session, rec)
    await s.run(60)
    p = s.proto
    first = None if p is None or p.first_at is None or p.first_ts is None else p.first_at - p.first_ts
    return first, [a - t for t, a in zip(rec.ts, rec.arrived, strict=True)], s.error


async def _visible_longpoll(client: httpx.AsyncClient, user: str, sid: int, mid: int, n: int
                            ) -> tuple[float | None, list[float], str | None]:
    cursor, first, per_chunk, seen = 0, None, [], 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = await client.get("/chat/poll", params={"sessionId": sid, "messageId": mid, "cursor": cursor,
                                                  "rcursor": 0, "timeout": 25}, headers={"x-bench-user": user})
        now = time.time()
        if r.status_code != 200:
            return first, per_chunk, f"HTTP {r.status_code}"
        body = r.json()
        stamps = [float(x) for x in STAMP_STR.findall(body.get("text") or "")]
        if stamps and first is None:
            first = now - stamps[0]
        per_chunk += [now - t for t in stamps]
        seen += len(stamps)
        cursor = body["cursor"]
        if body.get("done"):
            return first, per_chunk, None if seen == n else f"saw {seen} of {n} chunks"
    return first, per_chunk, "timeout"


async def _visible_assistant(client: httpx.AsyncClient, user: str, sid: int, n: int, interval: float
                             ) -> tuple[float | None, list[float], str | None]:
    """Nextcloud Assistant's way: GET generate, then GET check_generation every 2 s (setInterval)."""
    h = {"x-bench-user": user}
    r = await client.get("/chat/generate", params={"sessionId": sid}, headers=h)
    if r.status_code != 200:
        return None, [], f"generate: HTTP {r.status_code}"
    task = r.json()["taskId"]
    tick = time.monotonic()
    first, per_chunk, seen = None, [], 0
    while time.monotonic() - tick < 60:
        tick += interval
        await asyncio.sleep(max(0.0, tick - time.monotonic()))
        r = await client.get("/chat/check_generation", params={"taskId": task, "sessionId": sid}, headers=h)
        now = time.time()
        body = r.json()
        text = body.get("task_output") if r.status_code == 417 else (body.get("content") or "")
        stamps = [float(x) for x in STAMP_STR.findall(text or "")]
        new = stamps[seen:]
        if new and first is None:
            first = now - new[0]
        per_chunk += [now - t for t in new]
        seen = max(seen, len(stamps))
        if r.status_code == 200:
            return first, per_chunk, None if seen == n else f"saw {seen} of {n} chunks"
        if r.status_code != 417:
            return first, per_chunk, f"HTTP {r.status_code}"
    return first, per_chunk, "timeout"


async def mode_visible(spec: dict[str, Any]) -> dict[str, Any]:
    """Time from the provider's first token to the first text a client sees, per transport."""
    count, n, rate = spec["streams"], spec["tokens"], spec["rate"]
    rng = random.Random(spec.get("seed", 7))
    out: dict[str, Any] = {"mode": "visible", "transports": {}}
    for tr in spec["transports"]:
        target = Target(**tr["target"])
        # The model's own time to first token varies: uniform in [0.2, 2.2] s, like a real one.
        texts = [f"bench n={n} r={rate} d={rng.uniform(0.2, 2.2):.3f}" for _ in range(count)]
        kind = tr["transport"]
        via = tr.get("proxy_port")
        sessions = await make_sessions(target, texts) if target.kind == "ours" else [None] * count
        if kind == "sse":
            if via:  # the same SSE request, sent through the buffering proxy
                target = Target(**{**tr["target"], "port": via})
            results = await asyncio.gather(*(_visible_sse(target, texts[i], n, sessions[i]) for i in range(count)))
        else:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{via}", timeout=90, trust_env=False,
                                         limits=httpx.Limits(max_connections=count * 2)) as client:
                if kind == "longpoll":
                    coros = [_visible_longpoll(client, s[2], s[0], s[1], n) for s in sessions if s]
                else:
                    coros = [_visible_assistant(client, s[2], s[0], n, tr.get("interval", 2.0))
                             for s in sessions if s]
                results = await asyncio.gather(*coros)
        firsts = [r[0] for r in results if r[0] is not None]
        per_chunk = [x for r in results for x in r[1]]
        errors = [r[2] for r in results if r[2]]
        out["transports"][tr["name"]] = {
            "first_visible_ms": quantiles(firsts, 1000), "per_chunk_ms": quantiles(per_chunk, 1000),
            "errors": len(errors), "error_samples": sorted(set(errors))[:3]}
    return out


# --- mode: resume (figure 7) -------------------------------------------------------------------------


async def mode_resume(spec: dict[str, Any]) -> dict[str, Any]:
    """A stream read on replica A for a while, dropped, and resumed on replica B with Last-Event-ID.

    Time to resume = from sending B's request to B's first event. Every chunk must arrive exactly once.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.support.sse import sse_events  # the app's own SSE decoder, as the tests read streams

    target = Target(**spec["target"])
    rounds, n, rate, before = spec["rounds"], spec["tokens"], spec["rate"], spec.get("read_before", 5)
    sessions = await make_sessions(target, [f"bench n={n} r={rate} d=0"] * rounds)
    a, b = target.ports[0], target.ports[1]
    samples: list[float] = []
    errors: list[str] = []
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        for sid, mid, user in sessions:
            headers = appapi_headers(user, target.secret)
            params = {"sessionId": sid, "messageId": mid}
            stamps: list[str] = []
            last_id: int | None = None
            try:
                async with client.stream("GET", f"http://{target.host}:{a}/chat/stream", params=params,
                                         headers=headers) as r:
                    async for event_id, data in sse_events(r):
                        last_id = event_id if event_id is not None else last_id
                        stamps += STAMP_STR.findall(data.get("chunk") or "")
                        if len(stamps) >= before:
                            break
                # Away for a moment, as a reconnecting browser is: chunks pile up, and resuming must deliver
                # them at once (the time measured is the resume, not the model's next token).
                await asyncio.sleep(spec.get("away", 0.3))
                sent = time.time()
                first: float | None = None
                async with client.stream("GET", f"http://{target.host}:{b}/chat/stream", params=params,
                                         headers={**headers, "Last-Event-ID": str(last_id)}) as r:
                    async for _id, data in sse_events(r):
                        first = first or time.time()
                        stamps += STAMP_STR.findall(data.get("chunk") or "")
                        if "done" in data or "error" in data:
                            break
                if first is not None:
                    samples.append(first - sent)
                if len(stamps) != n or len(set(stamps)) != n:
                    errors.append(f"got {len(stamps)} chunks ({len(set(stamps))} distinct) of {n}")
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
    return {"mode": "resume", "rounds": rounds, "resume_ms": quantiles(samples, 1000), "errors": len(errors),
            "error_samples": sorted(set(errors))[:5]}


async def main_async(spec: dict[str, Any]) -> dict[str, Any]:
    mode = spec["mode"]
    if mode == "resume":
        return await mode_resume(spec)
    if mode == "ttft":
        return await mode_ttft(spec)
    if mode == "load":
        return await mode_load(spec)
    if mode == "visible":
        return await mode_visible(spec)
    raise SystemExit(f"unknown mode {mode}")


def raise_nofile(want: int = 65536) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def main() -> None:
    spec_path, out_path = sys.argv[1], sys.argv[2]
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    raise_nofile()
    try:
        import uvloop

        factory: Any = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        result = runner.run(asyncio.wait_for(main_async(spec), spec.get("max_seconds", 300)))
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
