"""`python -m assistant_stream` (__main__.py): access logs without stream tokens; local mode on loopback only."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import pytest

from assistant_stream.__main__ import RedactTokens, container_cpus, worker_count
from assistant_stream.core.env import AppEnv


def test_stream_tokens_are_redacted_from_access_log_lines() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1", "GET", "/chat/stream?sessionId=1&token=abc.def&x=1", "1.1", 200), None)
    assert RedactTokens().filter(record) is True
    assert record.getMessage() == '127.0.0.1 - "GET /chat/stream?sessionId=1&token=***&x=1 HTTP/1.1" 200'


@pytest.mark.parametrize(("query", "logged"), [
    ("token=&tok%65n=abc.def", "token=&tok%65n=***"),  # issue 16: the app decodes tok%65n to token
    ("%74%6F%6B%65%6E=abc.def&x=1", "%74%6F%6B%65%6E=***&x=1"),
    ("TOKEN=abc.def&token=abc.def", "TOKEN=***&token=***"),
    ("tokens=keep&xtoken=keep&token", "tokens=keep&xtoken=keep&token"),
])
def test_tokens_are_redacted_by_their_decoded_name(query: str, logged: str) -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1", "GET", f"/chat/stream?{query}", "1.1", 200), None)
    assert RedactTokens().filter(record) is True
    assert record.getMessage() == f'127.0.0.1 - "GET /chat/stream?{logged} HTTP/1.1" 200'
    assert "abc.def" not in record.getMessage()


async def test_local_mode_refuses_to_listen_beyond_loopback() -> None:
    env = {**os.environ, "LOCAL_MODE": "1", "APP_HOST": "0.0.0.0", "APP_SECRET": ""}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "assistant_stream", env=env,
                                                stderr=asyncio.subprocess.PIPE)
    _out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1 and b"LOCAL_MODE only listens on loopback" in err


def test_workers_default_to_the_cpus_only_with_postgresql_and_redis(tmp_path: Path) -> None:
    base = {"APP_SECRET": "x"}
    assert worker_count(AppEnv.from_environ(base)) == 1
    assert worker_count(AppEnv.from_environ({**base, "REDIS_URL": "redis://r"})) == 1  # SQLite: one process
    shared = {**base, "REDIS_URL": "redis://r", "DATABASE_URL": "postgresql://db/x"}
    assert worker_count(AppEnv.from_environ(shared)) == container_cpus()
    assert worker_count(AppEnv.from_environ({**shared, "WORKERS": "3"})) == 3
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")
    assert container_cpus(cpu_max) == 2  # a quota of 1.5 CPUs
    cpu_max.write_text("max 100000\n")
    assert container_cpus(cpu_max) == len(os.sched_getaffinity(0))


async def test_several_workers_need_postgresql_and_redis_and_say_so(tmp_path: Path) -> None:
    for extra, says in (({"WORKERS": "2"}, b"cannot share the SQLite database"),
                        ({"WORKERS": "2", "DATABASE_URL": "postgresql://x@127.0.0.1:9/db"}, b"needs REDIS_URL")):
        env = {**os.environ, "APP_SECRET": "x", "APP_PERSISTENT_STORAGE": str(tmp_path), **extra}
        env.pop("REDIS_URL", None)
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "assistant_stream", env=env,
                                                    stderr=asyncio.subprocess.PIPE)
        _out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 1 and says in err, err
