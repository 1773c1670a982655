"""pytest plugin: a real, throw-away Redis server on loopback (fixtures redis_server, redis_url)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import free_port


class RedisServer:
    """One redis-server process on 127.0.0.1, no persistence; ``restart()`` keeps the port (and loses data)."""

    def __init__(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("redis-server not found: install it (`make system-deps` or apt-get install redis-server); "
                        "the shared-state tests run against a real Redis.", pytrace=False)
        self.exe = exe
        self.root = Path(tempfile.mkdtemp(prefix="assistant-stream-redis-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.root / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.root), "--protected-mode", "yes", "--maxclients", "4000"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited ({self.proc.returncode}): {self._log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not answer PING within 20 s: {self._log_tail()}")

    def stop(self) -> None:
        """Hard stop (SIGKILL): what a crashed or restarted Redis looks like to its clients."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), 2) as s:
            s.sendall(b"FLUSHALL\r\n")
            s.recv(16)

    def _log_tail(self) -> str:
        try:
            return "\n".join((self.root / "server.log").read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        server.start()
    except (RuntimeError, OSError) as exc:
        server.close()
        pytest.fail(f"Could not start the test Redis server: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The shared server's URL; tests keep apart by a random key prefix (see ``redis_prefix``)."""
    if redis_server.proc is None or redis_server.proc.poll() is not None:
        redis_server.start()  # a previous test stopped it
    return redis_server.url


@pytest.fixture
def redis_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of the test's own, for tests that stop or restart it."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.close()
