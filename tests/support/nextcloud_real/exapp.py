"""The app as an admin runs it next to a Nextcloud: ``NEXTCLOUD_URL=... make run``, then the occ commands it prints."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.nextcloud_real.server import Occ, RealNextcloud
from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[3]
APP_ID = "assistant_stream"
START_TIMEOUT = 120.0  # make run may have to build the frontend first on a developer's machine


@dataclass
class PrintedCommands:
    """The ``occ`` lines ``make run`` printed, split like a shell would (``occ`` itself dropped)."""

    register: list[list[str]] = field(default_factory=list)  # daemon:register, app:register
    configure: list[list[str]] = field(default_factory=list)  # app:config:set / delete
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> PrintedCommands:
        out = cls(text=text)
        for line in text.splitlines():
            stripped = line.strip()
            if not stripped.startswith("occ "):
                continue
            argv = shlex.split(stripped, comments=True)[1:]
            (out.configure if argv[0].startswith("app_api:app:config:") else out.register).append(argv)
        return out


def substitute_value(argv: list[str], values: dict[str, str]) -> list[str]:
    """A printed ``app_api:app:config:set <app> <key> --value=<example>`` with our value for <key>."""
    if argv[0] != "app_api:app:config:set":
        return argv
    key = argv[2]
    return [f"--value={values[key]}" if a.startswith("--value=") else a for a in argv]


@dataclass
class RunningExApp:
    """``make run`` in its own process group; everything it prints goes to ``log_file``."""

    port: int
    data: Path
    log_file: Path
    proc: asyncio.subprocess.Process
    printed: PrintedCommands
    _drain: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def secret(self) -> str:
        return (self.data / "app_secret").read_text().strip()

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace")

    async def stop(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                await self.proc.wait()
        if self._drain is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._drain, 5)


async def start_make_run(nextcloud_url: str, data: Path, *, extra_env: dict[str, str] | None = None
                         ) -> RunningExApp:
    """``NEXTCLOUD_URL=<url> make run`` on a free port; returns once the register commands are printed and
    ``/heartbeat`` answers."""
    port = free_port()
    log_file = data.parent / f"{data.name}.log"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("STREAMING_", "APP_", "LOCAL_MODE", "NEXTCLOUD_URL", "MAKEFLAGS", "MFLAGS"))}
    env.update(extra_env or {})
    proc = await asyncio.create_subprocess_exec(
        "make", "--no-print-directory", "run", f"NEXTCLOUD_URL={nextcloud_url}", f"APP_PORT={port}",
        f"DATA={data}", cwd=REPO, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    assert proc.stdout is not None
    lines: list[str] = []
    ready = asyncio.Event()
    heartbeat = re.compile(r"Uvicorn running on")

    async def drain() -> None:
        # Reads everything the app prints for its whole life: a full pipe would block the app.
        assert proc.stdout is not None
        with log_file.open("a", encoding="utf-8") as log:
            while True:
                raw = await proc.stdout.readline()
                if not raw:
                    break
                line = raw.decode(errors="replace")
                log.write(line)
                log.flush()
                lines.append(line)
                if heartbeat.search(line):
                    ready.set()
        ready.set()

    task = asyncio.create_task(drain())
    app = RunningExApp(port, data, log_file, proc, PrintedCommands())
    app._drain = task
    try:
        await asyncio.wait_for(ready.wait(), START_TIMEOUT)
    except TimeoutError:
        await app.stop()
        raise RuntimeError("make run did not start the app: " + "".join(lines)[-2000:]) from None
    if proc.returncode is not None or not any(heartbeat.search(line) for line in lines):
        await app.stop()
        raise RuntimeError("make run ended: " + "".join(lines)[-2000:])
    app.printed = PrintedCommands.parse("".join(lines))
    return app


@dataclass
class Registration:
    """What registering and configuring took, and what occ answered."""

    results: list[Occ] = field(default_factory=list)
    registered_at: float = 0.0  # monotonic, when app:register returned
    configured_at: float = 0.0  # monotonic, when the last config command returned


async def register_and_configure(nc: RealNextcloud, app: RunningExApp, values: dict[str, str]) -> Registration:
    """Run the printed register commands, then the printed config commands with ``values``, right away."""
    reg = Registration()
    if len(app.printed.register) != 2 or len(app.printed.configure) < 3:
        raise RuntimeError("make run did not print the register and config commands:\n" + app.printed.text)
    for argv in app.printed.register:
        reg.results.append(await nc.occ(*argv))
    reg.registered_at = time.monotonic()
    for argv in app.printed.configure:
        # The printed delete of the key may find nothing to delete: that is not a failure for the admin.
        check = argv[0] != "app_api:app:config:delete"
        reg.results.append(await nc.occ(*substitute_value(argv, values), check=check))
    reg.configured_at = time.monotonic()
    return reg
