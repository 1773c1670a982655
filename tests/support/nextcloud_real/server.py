"""One real Nextcloud on loopback: unpacked from a tarball, installed on SQLite, served by PHP's built-in server.

Follows the install and serve steps of the shared tarballs' README. Nextcloud runs as ``www-data`` when the
tests run as root (CI), else as the current user; ``occ`` always runs as the owner of ``config/config.php``.

Served by ``php -S`` with workers rather than nginx + php-fpm: measured on the 2-core machine, both start in
under a second and relay a small request through the AppAPI proxy in the same time (36 vs 38 ms median,
40 requests each, alternating), and ``php -S`` needs neither templates nor a second package. Each open
request (a long-poll holds one for up to its timeout) takes one worker, hence WORKERS.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.nextcloud_real.tarballs import Tarball
from tests.support.ports import free_port

WEB_USER = "www-data"
WORKERS = 10
OCC_TIMEOUT = 120.0
START_TIMEOUT = 30.0
# Debian packages the README lists (the Makefile's system-deps installs them).
PHP_BINARY = "php"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Occ:
    """The result of one ``occ`` run."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def last_line(self) -> str:
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        return lines[-1].strip() if lines else ""


class OccError(RuntimeError):
    pass


@dataclass
class User:
    name: str
    password: str  # the login password
    app_password: str = ""  # what clients use (Basic auth), created with occ user:auth-tokens:add


@dataclass
class RealNextcloud:
    tarball: Tarball
    root: Path  # a fresh temporary folder: nextcloud/, data/, run/ live in it
    port: int = field(default_factory=free_port)
    users: dict[str, User] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    _server: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def version(self) -> str:
        return self.tarball.version

    @property
    def webroot(self) -> Path:
        return self.root / "nextcloud"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_file(self) -> Path:
        """Nextcloud's own log (``nextcloud.log`` in the data folder)."""
        return self.root / "data" / "nextcloud.log"

    # --- running things as the web server user ----------------------------------------------------

    @staticmethod
    def as_root() -> bool:
        return os.geteuid() == 0

    def _as_web_user(self, argv: list[str], env: dict[str, str] | None = None) -> list[str]:
        prefix = ["runuser", "-u", WEB_USER, "--"] if self.as_root() else []
        extra = [f"{k}={v}" for k, v in (env or {}).items()]
        return prefix + (["env", *extra] if extra else []) + argv

    async def occ(self, *args: str, env: dict[str, str] | None = None, check: bool = True,
                  timeout: float = OCC_TIMEOUT) -> Occ:
        """Run ``php occ <args>`` as the owner of config.php; raises OccError on failure when ``check``."""
        argv = self._as_web_user([PHP_BINARY, str(self.webroot / "occ"), "--no-interaction", *args], env)
        proc = await asyncio.create_subprocess_exec(*argv, cwd=self.root, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise OccError(f"occ {' '.join(args[:2])} did not finish in {timeout:.0f} s") from None
        result = Occ(tuple(args), proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))
        if check and result.returncode != 0:
            raise OccError(f"occ {' '.join(args[:3])} failed ({result.returncode}): "
                           f"{(result.stdout + result.stderr).strip()[-800:]}")
        return result

    # --- set-up ----------------------------------------------------------------------------------

    async def unpack(self) -> None:
        t0 = time.monotonic()
        self.root.mkdir(parents=True, exist_ok=True)
        proc = await asyncio.create_subprocess_exec("tar", "-xJf", str(self.tarball.path), "-C", str(self.root))
        if await asyncio.wait_for(proc.wait(), 120) != 0:
            raise RuntimeError(f"could not unpack {self.tarball.path}")
        if not (self.root / "nextcloud" / "occ").is_file():
            raise RuntimeError(f"{self.tarball.path.name} has no nextcloud/occ")
        for sub in ("data", "run"):
            (self.root / sub).mkdir(exist_ok=True)
        if self.as_root():
            user = pwd.getpwnam(WEB_USER)
            proc = await asyncio.create_subprocess_exec(
                "chown", "-R", f"{user.pw_uid}:{user.pw_gid}", "nextcloud", "data", "run", cwd=self.root)
            if await asyncio.wait_for(proc.wait(), 60) != 0:
                raise RuntimeError("chown failed")
        self.timings["unpack"] = time.monotonic() - t0

    async def install(self) -> None:
        t0 = time.monotonic()
        admin = User("admin", "Admin-" + secrets.token_urlsafe(12))
        await self.occ("maintenance:install", "--database", "sqlite", "--admin-user", admin.name,
                       "--admin-pass", admin.password, "--data-dir", str(self.root / "data"))
        self.users[admin.name] = admin
        # The README's config:system:set steps, in one occ run (config:import merges into config.php).
        system = {
            "trusted_domains": ["localhost", "127.0.0.1"],  # Nextcloud compares them without the port
            "integrity.check.disabled": True,
            # Cheap login-password hashing (argon2 with its minimum costs): creating users and their app
            # passwords hashes login passwords; app passwords themselves are checked without it.
            "hashingMemoryCost": 1024,
            "hashingTimeCost": 1,
            "hashingThreads": 1,
        }
        config_file = self.run_dir / "system-config.json"
        config_file.write_text(json.dumps({"system": system}))
        if self.as_root():
            shutil.chown(config_file, WEB_USER)
        await self.occ("config:import", str(config_file))
        self.timings["install"] = time.monotonic() - t0

    async def serve(self) -> None:
        """PHP's built-in server with WORKERS workers, in its own process group (stop() ends them all).

        The port may be chosen after the install (a version prepared in advance): overwrite.cli.url is set here.
        """
        t0 = time.monotonic()
        if not _port_free(self.port):
            raise RuntimeError(f"port {self.port} was taken before Nextcloud could listen on it")
        await self.occ("config:system:set", "overwrite.cli.url", f"--value={self.url}")
        router = self.webroot / ".php-s-router.php"
        argv = [PHP_BINARY, "-d", "memory_limit=512M", "-S", f"127.0.0.1:{self.port}", "-t", str(self.webroot)]
        if router.is_file():
            argv.append(str(router))
        log = (self.run_dir / "php-s.log").open("ab")
        try:
            self._server = await asyncio.create_subprocess_exec(
                *self._as_web_user(argv, {"PHP_CLI_SERVER_WORKERS": str(WORKERS)}), cwd=self.root,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
            while True:
                with contextlib.suppress(httpx.TransportError, ValueError):
                    r = await client.get(f"{self.url}/status.php")
                    if r.status_code == 200 and r.json().get("installed") is True:
                        break
                if self._server.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Nextcloud did not answer on {self.url}: "
                                       f"{(self.run_dir / 'php-s.log').read_text(errors='replace')[-1000:]}")
                await asyncio.sleep(0.05)
        self.timings["serve"] = time.monotonic() - t0

    async def add_users(self, names: tuple[str, ...]) -> None:
        """Create users as the admin does through the provisioning API, then give everyone an app password.

        Over HTTP rather than with occ: the server is warm (opcache), so each step costs a request instead of a
        Nextcloud boot (5 occ runs took 3-14 s on the shared machine, these requests well under 1 s).
        """
        admin = self.users["admin"]
        async with httpx.AsyncClient(base_url=self.url, trust_env=False, timeout=60,
                                     headers={"OCS-APIRequest": "true", "Accept": "application/json"}) as c:
            for name in names:
                user = User(name, f"{name.title()}-" + secrets.token_urlsafe(12))
                r = await c.post("/ocs/v2.php/cloud/users", params={"format": "json"},
                                 data={"userid": name, "password": user.password},
                                 auth=(admin.name, admin.password))
                c.cookies.clear()
                if r.status_code != 200:
                    raise RuntimeError(f"could not create {name}: {r.status_code} {r.text[:300]}")
                self.users[name] = user
            for user in [u for u in self.users.values() if not u.app_password]:  # later calls: the new users
                # What a desktop or mobile client does to turn a login into an app password. No cookies: the
                # session of the previous user would make Nextcloud refuse this one's credentials.
                c.cookies.clear()
                r = await c.get("/ocs/v2.php/core/getapppassword", params={"format": "json"},
                                auth=(user.name, user.password))
                if r.status_code != 200:
                    raise RuntimeError(f"no app password for {user.name}: {r.status_code} {r.text[:300]}")
                user.app_password = r.json()["ocs"]["data"]["apppassword"]

    async def add_group(self, group: str, members: tuple[str, ...]) -> None:
        """Create a group and put ``members`` in it, as the admin does through the provisioning API."""
        admin = self.users["admin"]
        async with httpx.AsyncClient(base_url=self.url, trust_env=False, timeout=60, auth=(admin.name, admin.password),
                                     headers={"OCS-APIRequest": "true", "Accept": "application/json"}) as c:
            r = await c.post("/ocs/v2.php/cloud/groups", params={"format": "json"}, data={"groupid": group})
            if r.status_code != 200:
                raise RuntimeError(f"could not create group {group}: {r.status_code} {r.text[:300]}")
            for name in members:
                r = await c.post(f"/ocs/v2.php/cloud/users/{name}/groups", params={"format": "json"},
                                 data={"groupid": group})
                if r.status_code != 200:
                    raise RuntimeError(f"could not add {name} to {group}: {r.status_code} {r.text[:300]}")

    async def serve_with_users(self, users: tuple[str, ...] = ("alice", "bob")) -> None:
        await self.serve()
        t0 = time.monotonic()
        await self.add_users(users)
        self.timings["users"] = time.monotonic() - t0

    async def set_up(self, users: tuple[str, ...] = ("alice", "bob")) -> None:
        await self.unpack()
        await self.install()
        await self.serve_with_users(users)

    # --- tear-down -------------------------------------------------------------------------------

    async def stop(self) -> None:
        """End the server's whole process group (its workers too) and wait for it."""
        proc, self._server = self._server, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            # PHP's built-in server keeps nothing worth a graceful stop; runuser may linger over its child.
            await asyncio.wait_for(proc.wait(), 2)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        # Workers may outlive the master for a moment; none may keep the port.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
