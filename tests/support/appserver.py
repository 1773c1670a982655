"""Runs the real ExApp under uvicorn on a loopback port, in the test's event loop, and talks to it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from assistant_stream.web.app import create_app
from assistant_stream.web.protocol import BoundedHttpToolsProtocol
from assistant_stream.web.services import Services
from tests.support.ports import free_port

APP_SECRET = "test-app-secret-3b1f0c9a-not-for-production"
APP_VERSION = "1.0.0"
API_KEY = "sk-test-9f8e7d6c5b4a-distinctive-key"
# httpx's own pool limits, with idle connections let go before the server does (see RunningApp.client).
KEEPALIVE = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=2.0)


def appapi_headers(user: str, secret: str = APP_SECRET, app_id: str = "assistant_stream") -> dict[str, str]:
    """The headers AppAPI's proxy adds to every request it forwards."""
    return {
        "AA-VERSION": "32.0.0",
        "EX-APP-ID": app_id,
        "EX-APP-VERSION": APP_VERSION,
        "AUTHORIZATION-APP-API": base64.b64encode(f"{user}:{secret}".encode()).decode(),
        "AA-REQUEST-ID": "test-request",
    }


@dataclass
class RunningApp:
    url: str
    app: FastAPI
    environ: dict[str, str]
    server: uvicorn.Server
    task: asyncio.Task[None]
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def services(self) -> Services:
        return self.app.state.services

    def client(self, user: str = "alice", *, timeout: float = 15.0) -> httpx.AsyncClient:
        # An idle connection is let go well before the server's keep-alive (uvicorn: 5 s) ends it: with httpx's
        # default, also 5 s, a request sent on a connection the server is closing at that moment fails with
        # "Server disconnected" (seen once in the 50-user test on a loaded machine). Browsers retry such a
        # request; httpx does not.
        client = httpx.AsyncClient(base_url=self.url, headers=appapi_headers(user, self.environ["APP_SECRET"]),
                                   timeout=timeout, trust_env=False, limits=KEEPALIVE)
        self.clients.append(client)
        return client

    def anonymous(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=self.url, timeout=15.0, trust_env=False, limits=KEEPALIVE)
        self.clients.append(client)
        return client

    async def stop(self) -> None:
        for client in self.clients:
            await client.aclose()
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, 30)


def base_environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "APP_ID": "assistant_stream", "APP_SECRET": APP_SECRET, "APP_VERSION": APP_VERSION,
        "APP_HOST": "127.0.0.1", "APP_PERSISTENT_STORAGE": str(tmp_path / "data"),
        **extra,
    }


async def start_app(environ: dict[str, str], **create_kwargs: Any) -> RunningApp:
    port = free_port()
    environ = {**environ, "APP_PORT": str(port)}
    app = create_app(environ=environ, **create_kwargs)
    # The server's HTTP protocol as `python -m assistant_stream` runs it (request heads bounded).
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_config=None,
                            access_log=False, timeout_graceful_shutdown=5, http=BoundedHttpToolsProtocol)
    server = uvicorn.Server(config)
    # The test loop owns the signals; uvicorn must not install its own handlers.
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    else:
        raise RuntimeError("app did not start")
    return RunningApp(f"http://127.0.0.1:{port}", app, environ, server, task)


ROOT = Path(__file__).resolve().parents[2]


async def spawn_app(tmp_path: Path, port: int, env_extra: dict[str, str], *,
                    merge_output: bool = False) -> asyncio.subprocess.Process:
    """The app as its own process (`python -m assistant_stream`), answering /heartbeat.

    Output goes to ``proc.stderr`` (``merge_output``: stdout and stderr together on ``proc.stdout``).
    """
    env = {**os.environ, "APP_ID": "assistant_stream", "APP_SECRET": APP_SECRET, "APP_VERSION": APP_VERSION,
           "APP_HOST": "127.0.0.1", "APP_PORT": str(port), "APP_PERSISTENT_STORAGE": str(tmp_path / "data"),
           "NEXTCLOUD_URL": "http://127.0.0.1:9", **env_extra}
    env.pop("LOCAL_MODE", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "assistant_stream", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE if merge_output else asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.STDOUT if merge_output else asyncio.subprocess.PIPE)
    async with httpx.AsyncClient(trust_env=False) as probe:
        for _ in range(300):
            try:
                if (await probe.get(f"http://127.0.0.1:{port}/heartbeat")).status_code == 200:
                    return proc
            except httpx.TransportError:
                pass
            if proc.returncode is not None:
                output = proc.stdout if merge_output else proc.stderr
                raise AssertionError((await output.read()).decode()[-2000:] if output else "app exited")
            await asyncio.sleep(0.05)
    raise AssertionError("app did not start")


# Starts an app with the given env vars (keyword arguments; NEXTCLOUD_URL as ``nextcloud_url``).
AppFactory = Callable[..., Awaitable[RunningApp]]


async def spawn_with_provider(tmp_path: Path, chat_url: str, port: int) -> asyncio.subprocess.Process:
    """The app as its own process, streaming from the provider at ``chat_url``."""
    return await spawn_app(tmp_path, port, {"STREAMING_API_URL": chat_url,
                                            "STREAMING_API_KEY": "sk-test-process", "LOG_LEVEL": "WARNING"})
