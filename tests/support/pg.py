"""pytest plugin: a real, throw-away PostgreSQL server for the test session (fixtures pg_url, storage_url)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import free_port

PG_GLOB = "/usr/lib/postgresql/*/bin"
SUPERUSER = "postgres"


def _bindir() -> Path:
    """The newest installed server's bin directory; fails (never skips) when there is none."""
    found = [Path(d) for d in glob.glob(PG_GLOB)
             if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists()]
    if not found:
        pytest.fail(f"PostgreSQL server binaries not found ({PG_GLOB}/initdb): install the server "
                    "(`make system-deps` or apt-get install postgresql); the storage tests must also "
                    "run on PostgreSQL.", pytrace=False)
    return max(found, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)


class PgServer:
    """One postgres cluster in a temporary directory, listening on 127.0.0.1 only, trust auth."""

    def __init__(self) -> None:
        self.bindir = _bindir()
        # postgres refuses to run as root: run the server as the `postgres` system user then.
        self.as_user: list[str] = []
        self.owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self.owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("Running as root but there is no `postgres` system user to run the test "
                            "PostgreSQL server as (the postgresql package creates it)", pytrace=False)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        # Not under pytest's tmp_path: that is 0700 root-owned, so the postgres user could not enter it.
        self.root = Path(tempfile.mkdtemp(prefix="assistant-stream-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.url = ""

    def _run(self, *args: str, user: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [*(self.as_user if user else []), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                              env={**os.environ, "LC_ALL": "C", "LANG": "C"})
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n"
                               f"{self._log_tail()}")
        return proc

    def _log_tail(self) -> str:
        try:
            return "server log:\n" + "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])
        except OSError:
            return ""

    def start(self) -> None:
        if self.owner is not None:
            os.chown(self.root, self.owner.pw_uid, self.owner.pw_gid)
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "-A", "trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        # fsync off etc.: a test database is disposable, and this makes CREATE DATABASE per test cheap.
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", opts,
                  "-w", "-t", "60", "start")
        self.url = f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}"

    def psql(self, sql: str, db: str = "postgres") -> None:
        self._run(str(self.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                  "-p", str(self.port), "-U", SUPERUSER, "-d", db, "-c", sql, user=False)

    def create_db(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return f"{self.url}/{name}"

    def drop_db(self, name: str) -> None:
        # FORCE: a test that failed before closing its engine must not keep the database alive.
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            if self.data.exists():
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                          "stop", timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer()
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        server.stop()
        pytest.fail(f"Could not start the test PostgreSQL server: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_url(pg_server: PgServer) -> str:
    """SQLAlchemy URL (asyncpg) of a database shared by the whole session."""
    return pg_server.create_db("assistant_stream_test")


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty (unmigrated) database per test, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'assistant_stream.db'}"
        return
    # Only PostgreSQL tests start the server, so `-k sqlite` runs without it.
    server: PgServer = request.getfixturevalue("pg_server")
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = server.create_db(name)
    try:
        yield url
    finally:
        server.drop_db(name)
