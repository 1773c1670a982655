"""`python -m assistant_stream.healthcheck` (healthcheck.py): exit 0 when /heartbeat answers, 1 otherwise."""

from __future__ import annotations

import asyncio
import os
import sys
from urllib.parse import urlsplit

from tests.support.appserver import AppFactory
from tests.support.ports import free_port


async def healthcheck(port: int) -> int:
    env = {**os.environ, "APP_HOST": "127.0.0.1", "APP_PORT": str(port)}
    env.pop("HP_SHARED_KEY", None)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "assistant_stream.healthcheck", env=env)
    return await asyncio.wait_for(proc.wait(), 30)


async def test_healthy_app_and_nothing_listening(app_factory: AppFactory) -> None:
    app = await app_factory()
    assert await healthcheck(urlsplit(app.url).port or 0) == 0
    assert await healthcheck(free_port()) == 1
