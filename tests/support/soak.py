"""Soak: many users chatting at once against the app in its own process, which is SIGKILLed and restarted
while the provider stalls now and then; afterwards every answer is checked against what its readers saw.

Used by tests/test_soak.py (a short run in `make test`) and tests/soak/run.py (`make soak`, the long run).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.support.appserver import APP_SECRET, APP_VERSION, ROOT, appapi_headers
from tests.support.faults import prompt_of
from tests.support.ports import free_port
from tests.support.scripted_provider import RecordedRequest, ScriptedProvider, ScriptedResponse, openai_stream
from tests.support.sse import sse_events

MIB = 1 << 20
# Seconds after a (re)start until memory is warm: the event log keeps each finished answer for 300 s
# (a reconnecting browser resumes from it), so at steady load it fills for five minutes, then plateaus.
WARM = 420.0
FINAL = {"done", "error", "cancelled", "interrupted"}


# Polls /heartbeat every 250 ms on one kept-alive connection; prints the latency (ms), -1 when it failed.
_PROBE = """
import http.client, sys, time
port = int(sys.argv[1])
conn = None
while True:
    began = time.monotonic()
    try:
        conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/heartbeat")
        ok = conn.getresponse().read() and True
        print((time.monotonic() - began) * 1000 if ok else -1, flush=True)
    except (OSError, http.client.HTTPException):
        conn = None
        print(-1, flush=True)
    time.sleep(0.25)
"""


class StallingProvider(ScriptedProvider):
    """The scripted provider, with a switch that freezes every response mid-write (a provider stall)."""

    def __init__(self) -> None:
        super().__init__()
        self.flowing = asyncio.Event()
        self.flowing.set()

    async def _send(self, writer: asyncio.StreamWriter, data: bytes, ex: Any) -> None:
        await self.flowing.wait()
        await super()._send(writer, data, ex)


def intended(prompt: str) -> str:
    """The answer the provider gives to a soak prompt "q <words> <seed> ..." (deterministic)."""
    _, words, seed, *_ = prompt.split()
    return "".join(f"w{seed}.{i} " for i in range(int(words)))


def answer_for(request: RecordedRequest) -> ScriptedResponse:
    prompt = prompt_of(request)
    words = intended(prompt).split(" ")[:-1]
    return openai_stream([w + " " for w in words], delay=0.03, framing="close")


@dataclass
class Answer:
    """One answer a user asked for, and what its readers saw of it."""

    user: str
    sid: int
    mid: int  # the human message
    prompt: str
    how: str
    aid: int | None = None
    assembled: str | None = None  # the text a reader put together, when it saw the final event
    reader_status: str | None = None  # status in that final event
    stop_status: str | None = None  # message.status in POST /chat/stop's answer
    deleted: bool = False


@dataclass
class Report:
    seconds: float = 0.0
    answers: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    final: Counter[str] = field(default_factory=Counter)
    transport_errors: int = 0
    kills: int = 0
    stalls: int = 0
    heartbeat_ms: list[float] = field(default_factory=list)
    rss: list[tuple[float, int, float]] = field(default_factory=list)  # (seconds, segment, MiB)
    problems: list[str] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if s >= 500)

    def slope(self, segment: int, after: float) -> float | None:
        """RSS trend (MiB per minute, least squares) of one app lifetime from ``after`` s into it."""
        points = [(t, m) for t, s, m in self.rss if s == segment]
        if not points:
            return None
        start = points[0][0]
        points = [(t - start, m) for t, m in points if t - start >= after]
        if len(points) < 10:
            return None
        xs, ys = [p[0] / 60 for p in points], [p[1] for p in points]
        return statistics.linear_regression(xs, ys).slope

    def summary(self) -> str:
        beats = sorted(self.heartbeat_ms) or [0.0]
        lines = [
            f"soak: {self.seconds:.0f} s, {self.answers} answers ({dict(sorted(self.final.items()))}), "
            f"actions {dict(sorted(self.actions.items()))}",
            f"  requests by status {dict(sorted(self.statuses.items()))}, transport errors while the app was "
            f"down {self.transport_errors}, kills {self.kills}, provider stalls {self.stalls}",
            f"  heartbeat: median {statistics.median(beats):.0f} ms, p99 {beats[int(len(beats) * 0.99)]:.0f} ms, "
            f"max {beats[-1]:.0f} ms over {len(self.heartbeat_ms)} beats",
        ]
        for segment in sorted({s for _t, s, _m in self.rss}):
            mib = [m for _t, s, m in self.rss if s == segment]
            span = [t for t, s, _m in self.rss if s == segment]
            lines.append(f"  app run {segment}: {span[-1] - span[0]:.0f} s, RSS {mib[0]:.0f} -> {mib[-1]:.0f} MiB "
                         f"(max {max(mib):.0f}); trend after 60 s: {_fmt(self.slope(segment, 60))} MiB/min, "
                         f"after {WARM:.0f} s: {_fmt(self.slope(segment, WARM))} MiB/min")
        lines += [f"  PROBLEM: {p}" for p in self.problems[:30]]
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


class Soak:
    """Runs the load; ``kill_at`` / ``stall_at`` are seconds into the run (stalls last ``stall_seconds``)."""

    def __init__(self, tmp: Path, *, seconds: float, users: int, kill_at: list[float], stall_at: list[float],
                 stall_seconds: float, seed: int = 16, traced: bool = False, env: dict[str, str] | None = None,
                 log: Any = None) -> None:
        self.tmp = tmp
        self.seconds = seconds
        self.users = users
        self.kill_at = kill_at
        self.stall_at = stall_at
        self.stall_seconds = stall_seconds
        self.rng = random.Random(seed)
        self.traced = traced
        self.env = env or {}
        self.log = log or (lambda _msg: None)
        self.port = free_port()
        self.report = Report()
        self.answers: list[Answer] = []
        self.proc: asyncio.subprocess.Process | None = None
        self.segment = 0
        self.up = asyncio.Event()
        self.provider = StallingProvider()
        self.began = 0.0
        self.stderr: list[bytes] = []
        self.snapshots: list[Path] = []
        self._drainer: asyncio.Task[None] | None = None

    # --- the app process ---------------------------------------------------------------------------

    async def start_app(self) -> None:
        env = {**os.environ, "APP_ID": "assistant_stream", "APP_SECRET": APP_SECRET, "APP_VERSION": APP_VERSION,
               "APP_HOST": "127.0.0.1", "APP_PORT": str(self.port),
               "APP_PERSISTENT_STORAGE": str(self.tmp / "data"), "NEXTCLOUD_URL": "http://127.0.0.1:9",
               "STREAMING_API_URL": self.provider.chat_url, "STREAMING_API_KEY": "sk-soak",
               "STREAMING_MODEL": "soak", "MAX_STARTS_PER_MINUTE": "0", "MAX_CONCURRENT_PER_USER": "3",
               "LOG_LEVEL": "WARNING", "SNAPSHOT_DIR": str(self.tmp), **self.env}
        env.pop("LOCAL_MODE", None)
        module = "tests.soak.traced_app" if self.traced else "assistant_stream"
        self.proc = await asyncio.create_subprocess_exec(sys.executable, "-m", module, cwd=ROOT, env=env,
                                                         stdout=asyncio.subprocess.DEVNULL,
                                                         stderr=asyncio.subprocess.PIPE)
        self._drainer = asyncio.create_task(self._drain(self.proc))
        async with httpx.AsyncClient(trust_env=False, timeout=2) as probe:
            for _ in range(600):
                with contextlib.suppress(httpx.TransportError):
                    if (await probe.get(f"http://127.0.0.1:{self.port}/heartbeat")).status_code == 200:
                        self.segment += 1
                        self.up.set()
                        return
                if self.proc.returncode is not None:
                    raise RuntimeError(b"".join(self.stderr)[-3000:].decode(errors="replace"))
                await asyncio.sleep(0.05)
        self.proc.kill()  # never leave it behind
        await self.proc.wait()
        raise RuntimeError("the app did not start")

    async def _drain(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            self.stderr.append(line)
            del self.stderr[:-2000]

    async def kill_app(self) -> None:
        assert self.proc is not None
        self.up.clear()
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        self.report.kills += 1
        self.log(f"[{self.now():.0f}s] killed the app (SIGKILL)")

    async def snapshot(self, label: str) -> None:
        """Traced runs: ask the app for a tracemalloc snapshot (written by tests/soak/traced_app.py)."""
        if not self.traced or self.proc is None or self.proc.returncode is not None:
            return
        path = self.tmp / f"snapshot-{self.segment}-{label}.tracemalloc"
        (self.tmp / "snapshot.next").write_text(str(path))
        self.proc.send_signal(signal.SIGUSR1)
        for _ in range(600):
            if path.exists():
                self.snapshots.append(path)
                return
            await asyncio.sleep(0.1)

    def now(self) -> float:
        return time.monotonic() - self.began

    # --- the run ---------------------------------------------------------------------------------

    async def run(self) -> Report:
        await self.provider.start()
        self.provider._next = answer_for  # type: ignore[method-assign]
        try:
            await self._load()
            return self.report
        finally:  # also when the run fails or is cancelled: nothing is left running
            await self._stop_app()
            await self.provider.stop()

    async def _load(self) -> None:
        await self.start_app()
        self.began = time.monotonic()
        tasks = [asyncio.create_task(self.user(f"user{i:02d}")) for i in range(self.users)]
        tasks += [asyncio.create_task(self.heartbeat()), asyncio.create_task(self.sample()),
                  asyncio.create_task(self.chaos())]
        try:
            await asyncio.sleep(self.seconds)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.provider.flowing.set()
        if not self.up.is_set():
            await self.start_app()
        await self.verify()
        self.report.seconds = self.now()

    async def _stop_app(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    async def chaos(self) -> None:
        plan = sorted([(t, "kill") for t in self.kill_at] + [(t, "stall") for t in self.stall_at]
                      + [(t, "snapshot") for t in self._snapshot_times()])
        for at, what in plan:
            await asyncio.sleep(max(0.0, at - self.now()))
            if what == "kill":
                await self.kill_app()
                await asyncio.sleep(0.5)
                await self.start_app()
                self.log(f"[{self.now():.0f}s] restarted the app")
            elif what == "stall":
                self.provider.flowing.clear()
                self.report.stalls += 1
                self.log(f"[{self.now():.0f}s] provider stalls for {self.stall_seconds:g} s")
                await asyncio.sleep(self.stall_seconds)
                self.provider.flowing.set()
            else:
                await self.snapshot(f"{at:.0f}s")

    def _snapshot_times(self) -> list[float]:
        """Once a minute in the last app run (under load: the end of the run is not steady state)."""
        if not self.traced:
            return []
        last_kill = max(self.kill_at, default=0.0)
        return [last_kill + 60 * n for n in range(1, 60) if last_kill + 60 * n < self.seconds - 5]

    async def heartbeat(self) -> None:
        """/heartbeat latency, measured by a process of its own: the driver's busy event loop (all the users
        and the provider) must not add its own delays to the app's."""
        probe = await asyncio.create_subprocess_exec(sys.executable, "-c", _PROBE, str(self.port),
                                                     stdout=asyncio.subprocess.PIPE)
        assert probe.stdout is not None
        try:
            while line := await probe.stdout.readline():
                ms = float(line)
                if ms >= 0 and self.up.is_set():
                    self.report.heartbeat_ms.append(ms)
                    self.report.statuses[200] += 1
        finally:
            probe.kill()
            await probe.wait()

    async def sample(self) -> None:
        while True:
            await asyncio.sleep(1)
            proc = self.proc
            if proc is None or proc.returncode is not None or not self.up.is_set():
                continue
            with contextlib.suppress(psutil.Error):
                rss = psutil.Process(proc.pid).memory_info().rss / MIB
                self.report.rss.append((self.now(), self.segment, rss))

    # --- one user ----------------------------------------------------------------------------------

    async def user(self, name: str) -> None:
        rng = random.Random(f"{self.rng.random()}{name}")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", headers=appapi_headers(name),
                                     trust_env=False, timeout=httpx.Timeout(60, connect=5)) as c:
            while True:
                how = rng.choices(["stream", "resume", "poll", "stop", "regenerate", "delete", "check"],
                                  weights=[30, 12, 18, 10, 10, 5, 15])[0]
                self.report.actions[how] += 1
                try:
                    await self.act(c, name, how, rng)
                except httpx.TransportError:
                    self.report.transport_errors += 1
                    await self.up.wait()
                await asyncio.sleep(rng.uniform(0.1, 0.6))

    async def call(self, c: httpx.AsyncClient, verb: str, path: str, **kw: Any) -> httpx.Response:
        await self.up.wait()
        r = await c.request(verb, path, **kw)
        self.report.statuses[r.status_code] += 1
        if r.status_code >= 500:
            self.report.problems.append(f"{verb} {path} -> {r.status_code} {r.text[:200]}")
        return r

    async def new_question(self, c: httpx.AsyncClient, name: str, how: str, rng: random.Random) -> Answer | None:
        r = await self.call(c, "PUT", "/chat/new_session", json={"title": None})
        if r.status_code != 200:
            return None
        sid = r.json()["session"]["id"]
        prompt = f"q {rng.randint(20, 90)} {rng.randint(0, 10**9)} {how}"
        r = await self.call(c, "PUT", "/chat/new_message", json={"sessionId": sid, "role": "human",
                                                                  "content": prompt, "firstHumanMessage": True})
        if r.status_code != 200:
            return None
        answer = Answer(name, sid, r.json()["id"], prompt, how)
        self.answers.append(answer)
        self.report.answers += 1
        return answer

    async def read(self, c: httpx.AsyncClient, answer: Answer, *, after: int = 0, stop_after: int | None = None,
                   text: str = "") -> tuple[int, str, dict[str, Any] | None]:
        """Reads /chat/stream from event ``after``; returns (last id, text so far, final event or None)."""
        await self.up.wait()
        last = after
        headers = {"Last-Event-ID": str(after)} if after else {}
        chunks = 0
        async with c.stream("GET", "/chat/stream", params={"sessionId": answer.sid, "messageId": answer.mid},
                            headers=headers) as r:
            self.report.statuses[r.status_code] += 1
            if r.status_code != 200:
                if r.status_code >= 500:
                    self.report.problems.append(f"stream -> {r.status_code}")
                return last, text, None
            async for event_id, event in sse_events(r):
                last = event_id or last
                if "started" in event:
                    answer.aid = event["messageId"]
                if "chunk" in event:
                    text += event["chunk"]
                    chunks += 1
                if "done" in event or "error" in event:
                    if event.get("code") == "internal_error":
                        self.report.problems.append(f"internal_error event for {answer.prompt}")
                    return last, text, event
                if stop_after is not None and chunks >= stop_after:
                    break
        return last, text, None

    def finished(self, answer: Answer, text: str, event: dict[str, Any] | None) -> None:
        if event is None:
            return
        message = event.get("message") or {}
        answer.assembled = text
        answer.reader_status = message.get("status") or ("error" if "error" in event else None)
        if answer.reader_status == "interrupted" and text.startswith(message.get("content") or ""):
            # Cut off by a SIGKILL: the reader saw up to a second more than was saved (the save interval).
            answer.assembled = message.get("content") or ""
        elif message.get("content") is not None and message.get("content") != text:
            self.report.problems.append(f"{answer.how} {answer.prompt}: the final event's text differs from "
                                        f"the chunks ({len(message['content'])} vs {len(text)} chars)")

    async def act(self, c: httpx.AsyncClient, name: str, how: str, rng: random.Random) -> None:
        if how in ("regenerate", "delete"):
            mine = [a for a in self.answers if a.user == name and not a.deleted and a.aid is not None
                    and a.reader_status is not None]
            if not mine:
                how = "stream"
            else:
                old = rng.choice(mine)
                await (self.regenerate(c, old) if how == "regenerate" else self.delete(c, old))
                return
        answer = await self.new_question(c, name, how, rng)
        if answer is None:
            return
        if how == "stream":
            _last, text, event = await self.read(c, answer)
            self.finished(answer, text, event)
        elif how == "resume":
            last, text, event = await self.read(c, answer, stop_after=rng.randint(1, 15))
            if event is None:
                await asyncio.sleep(rng.uniform(0, 1))
                _last, text, event = await self.read(c, answer, after=last, text=text)
            self.finished(answer, text, event)
        elif how == "poll":
            await self.poll(c, answer)
        elif how == "stop":
            _last, text, event = await self.read(c, answer, stop_after=rng.randint(1, 30))
            if event is None:
                r = await self.call(c, "POST", "/chat/stop", json={"sessionId": answer.sid, "messageId": answer.mid})
                if r.status_code == 200:
                    message = r.json()["message"]
                    answer.aid = message["id"]
                    answer.stop_status = message["status"]
                    if message["status"] not in FINAL:
                        self.report.problems.append(f"POST /chat/stop answered with status {message['status']}")
            else:
                self.finished(answer, text, event)
        else:  # check: Assistant's own flow, generate then check_generation every 200 ms
            r = await self.call(c, "GET", "/chat/generate", params={"sessionId": answer.sid})
            if r.status_code != 200:
                return
            answer.aid = r.json()["taskId"]
            while True:
                r = await self.call(c, "GET", "/chat/check_generation",
                                    params={"taskId": answer.aid, "sessionId": answer.sid})
                if r.status_code != 417:
                    break
                await asyncio.sleep(0.2)

    async def poll(self, c: httpx.AsyncClient, answer: Answer) -> None:
        cursor, text = 0, ""
        while True:
            r = await self.call(c, "GET", "/chat/poll", params={"sessionId": answer.sid, "messageId": answer.mid,
                                                                "cursor": cursor, "timeout": 10})
            if r.status_code != 200:
                return
            body = r.json()
            answer.aid = body["messageId"]
            text += body["text"]
            cursor = body["cursor"]
            if body["done"]:
                answer.assembled = text
                answer.reader_status = body["status"]
                return

    async def regenerate(self, c: httpx.AsyncClient, old: Answer) -> None:
        r = await self.call(c, "GET", "/chat/regenerate", params={"sessionId": old.sid, "messageId": old.aid})
        if r.status_code != 200:
            return
        old.deleted = True  # a version aside now: /chat/messages shows the new one (the active branch)
        answer = Answer(old.user, old.sid, old.mid, old.prompt, "regenerate", aid=r.json()["taskId"])
        self.answers.append(answer)
        self.report.answers += 1
        _last, text, event = await self.read(c, answer)
        self.finished(answer, text, event)

    async def delete(self, c: httpx.AsyncClient, old: Answer) -> None:
        r = await self.call(c, "DELETE", "/chat/delete_session", json={"sessionId": old.sid})
        if r.status_code == 200:
            for a in self.answers:
                if a.sid == old.sid:
                    a.deleted = True

    # --- afterwards --------------------------------------------------------------------------------

    async def verify(self) -> None:
        """Every answer final; what a reader assembled is what is stored; nothing lost beyond a kill."""
        by_user: dict[str, list[Answer]] = {}
        for a in self.answers:
            if not a.deleted:
                by_user.setdefault(a.user, []).append(a)
        deadline = time.monotonic() + 60
        for user, answers in by_user.items():
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", headers=appapi_headers(user),
                                         trust_env=False, timeout=30) as c:
                for a in answers:
                    stored = await self._final(c, a, deadline)
                    if stored is None:
                        continue
                    self.report.final[stored["status"]] += 1
                    self._compare(a, stored)

    async def _final(self, c: httpx.AsyncClient, a: Answer, deadline: float) -> dict[str, Any] | None:
        while True:
            r = await c.get("/chat/messages", params={"sessionId": a.sid, "limit": 200})
            self.report.statuses[r.status_code] += 1
            if r.status_code == 404:
                return None  # deleted by a concurrent action of the same user
            answers = [m for m in r.json() if m["role"] == "assistant" and m["reply_to"] == a.mid]
            if a.aid is not None:
                answers = [m for m in answers if m["id"] == a.aid] or answers
            if not answers:
                # A question whose answer never started (the app was killed in between): nothing to check.
                return None
            message = answers[-1]
            if message["status"] in FINAL:
                return message
            if time.monotonic() > deadline:
                self.report.problems.append(f"stuck: {a.prompt} still {message['status']}")
                return None
            await asyncio.sleep(0.5)

    def _compare(self, a: Answer, stored: dict[str, Any]) -> None:
        full = intended(a.prompt)
        status, content = stored["status"], stored["content"]
        if status == "interrupted" and a.assembled is not None and a.assembled.startswith(content):
            pass  # cut off by a SIGKILL: the reader saw up to a save interval (1 s) more than was stored
        elif a.assembled is not None and a.aid == stored["id"] and content != a.assembled:
            self.report.problems.append(f"{a.how} {a.prompt}: stored {len(content)} chars, reader assembled "
                                        f"{len(a.assembled)} ({status}/{a.reader_status})")
        if status == "done" and content != full:
            self.report.problems.append(f"{a.how} {a.prompt}: done with {len(content)} of {len(full)} chars")
        if not full.startswith(content):
            self.report.problems.append(f"{a.how} {a.prompt}: stored text is not the provider's ({status})")
        if status == "error" and stored.get("error") and "internal" in stored["error"].lower():
            self.report.problems.append(f"{a.how} {a.prompt}: internal error")
