"""Helpers for the reliability suites: route scripted answers by prompt, and prove nothing leaked."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil

from tests.support.appserver import RunningApp
from tests.support.scripted_provider import RecordedRequest, ScriptedProvider, ScriptedResponse, openai_stream

Responder = ScriptedResponse | Callable[[RecordedRequest], ScriptedResponse]


def prompt_of(request: RecordedRequest) -> str:
    """The last message the app sent the provider (the user's question)."""
    body = request.json if isinstance(request.json, dict) else {}
    messages = body.get("messages") or []
    return str(messages[-1].get("content", "")) if messages else ""


def route_by_prompt(provider: ScriptedProvider, routes: dict[str, Responder]) -> None:
    """Answer each request by the first route key found in its prompt (concurrent chats get their own
    script, whatever order their requests arrive in); anything else falls back to the provider's queue."""
    fallback = provider._next

    def pick(request: RecordedRequest) -> ScriptedResponse:
        prompt = prompt_of(request)
        for key, responder in routes.items():
            if key in prompt:
                return responder(request) if callable(responder) else responder
        return fallback(request)

    provider._next = pick  # type: ignore[method-assign]


def healthy(words: list[str], delay: float = 0.02) -> ScriptedResponse:
    """A complete answer whose connection is closed afterwards, so it never sits in the app's pool:
    the socket accounting below then only sees what the faults left behind."""
    return openai_stream(words, delay=delay, framing="close")


# --- leak accounting -------------------------------------------------------------------------------


def app_tasks() -> set[asyncio.Task[Any]]:
    """Tasks of this loop except the scripted provider's per-connection handlers (the test double's
    server side; its sockets are checked separately, from the app's side)."""
    return {t for t in asyncio.all_tasks() if not t.get_coro().__qualname__.startswith("ScriptedProvider.")}


def client_sockets(port: int) -> list[Any]:
    """This process's TCP sockets whose remote end is ``port`` (the app's side of provider connections)."""
    return [c for c in psutil.Process().net_connections(kind="tcp") if c.raddr and c.raddr.port == port]


def idle_pooled(app: RunningApp, url: str) -> int:
    """Connections the app's provider client keeps idle for reuse (keep-alive: not a leak)."""
    client: httpx.AsyncClient = app.services.provider.http
    transport = client._transport_for_url(httpx.URL(url))
    if hasattr(transport, "idle_connections"):  # providers/aiohttp_transport.py, the app's default
        return int(transport.idle_connections())
    pool = transport._pool  # type: ignore[attr-defined]
    return sum(1 for c in pool.connections if c.is_idle())


@dataclass
class LeakProbe:
    """Snapshot of tasks and provider sockets; :meth:`assert_back` waits for both to return to it."""

    app: RunningApp
    url: str
    ports: list[int]
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    busy_sockets: int = 0

    def _busy(self) -> tuple[int, list[Any]]:
        socks = [s for p in self.ports for s in client_sockets(p)]
        established = [s for s in socks if s.status == psutil.CONN_ESTABLISHED]
        # CLOSE_WAIT: the provider hung up and the app never closed its end, the classic leak.
        stuck = [s for s in socks if s.status == psutil.CONN_CLOSE_WAIT]
        return len(established) - idle_pooled(self.app, self.url), stuck

    def snapshot(self) -> LeakProbe:
        self.tasks = app_tasks()
        self.busy_sockets, _ = self._busy()
        return self

    async def assert_back(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            extra = app_tasks() - self.tasks
            busy, stuck = self._busy()
            gens = self.app.services.generations.active
            if not extra and busy <= self.busy_sockets and not stuck and gens == 0:
                return
            if time.monotonic() > deadline:
                names = sorted(t.get_name() + ":" + t.get_coro().__qualname__ for t in extra)
                raise AssertionError(f"leaked: tasks={names} busy_sockets={busy} (baseline {self.busy_sockets}) "
                                     f"close_wait={len(stuck)} active_generations={gens}")
            await asyncio.sleep(0.05)


# --- a cuttable TCP path (a database or any server that "goes away for a while") -----------------


class TcpProxy:
    """Loopback TCP forwarder. ``down()`` closes every connection and refuses new ones (the server
    vanished); ``up()`` listens again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def up(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.transport.abort()

        tasks = [asyncio.create_task(pipe(reader, up_writer)), asyncio.create_task(pipe(up_reader, writer))]
        self._tasks.update(tasks)
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self._tasks.difference_update(tasks)
            self._writers.difference_update((writer, up_writer))
