"""pytest wiring: one real Nextcloud per tarball and run, the tests parametrized over them, and the run's summary.

Tests that use the ``real_nc`` fixture run once per tarball (ids ``nc32``, ``nc33``, ...). Without a tarball they
are deselected and the run's summary says so in one line; at the end it says how many ran on each version.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.nextcloud_real.client import PROXY, client, wait_for
from tests.support.nextcloud_real.exapp import Registration, RunningExApp, register_and_configure, start_make_run
from tests.support.nextcloud_real.provider import SharedProvider
from tests.support.nextcloud_real.server import RealNextcloud
from tests.support.nextcloud_real.tarballs import Tarball, find_tarballs
from tests.support.ports import free_port

FIXTURE = "real_nc"
TARBALLS, NO_TARBALL_REASON = find_tarballs()
SETTLE_TIMEOUT = 40.0  # the app's settings cache is 10 s; an admin would wait this long at most

_ran: dict[str, Counter[str]] = {}  # tarball id -> outcome counts
_deselected: list[int] = [0]
_selected: set[str] = set()  # tarball ids that have tests in this run
_timings: dict[str, dict[str, float]] = {}


@dataclass
class RealStack:
    """A real Nextcloud with the app registered and configured on it, shared by the tests of one version."""

    nc: RealNextcloud
    app: RunningExApp
    provider: SharedProvider
    values: dict[str, str]  # what is configured now (url, model, key); tests that change a value update it
    registration: Registration = field(default_factory=Registration)
    first_status: dict[str, Any] | None = None  # /admin/status read right after configuring
    initial_values: dict[str, str] = field(default_factory=dict)  # what was configured right after registration
    _clients: list[httpx.AsyncClient] = field(default_factory=list)
    _admin: httpx.AsyncClient | None = None

    @property
    def url(self) -> str:
        return self.nc.url

    @property
    def api_key(self) -> str:
        return self.values["streaming_api_key"]

    def as_user(self, name: str, *, timeout: float = 60.0) -> httpx.AsyncClient:
        """A client for ``name`` (admin, alice, bob) with its app password; closed at the end of the session."""
        user = self.nc.users[name]
        c = client(self.url, name, user.app_password, timeout=timeout)
        self._clients.append(c)
        return c

    async def status(self) -> dict[str, Any]:
        """``/admin/status`` through the stock proxy, as the admin."""
        r = await self.as_admin.get(f"{PROXY}/admin/status")
        assert r.status_code == 200, f"admin/status: {r.status_code} {r.text[:300]}"
        return r.json()

    @property
    def as_admin(self) -> httpx.AsyncClient:
        if self._admin is None:
            self._admin = self.as_user("admin")
        return self._admin

    async def settled(self, expect: dict[str, str] | None = None, timeout: float = SETTLE_TIMEOUT) -> dict[str, Any]:
        """Wait until /admin/status shows ``expect`` (default: the configured provider url, and a key)."""
        want = expect or {"streaming_api_url": self.values["streaming_api_url"], "streaming_api_key": "set"}

        async def check() -> dict[str, Any] | None:
            status = await self.status()
            seen = {k: status["settings"][k]["value"] for k in want}
            return status if seen == want else None

        return await wait_for(check, timeout=timeout, what=f"settings {want}")

    async def aclose(self) -> None:
        for c in self._clients:
            await c.aclose()
        self._clients.clear()


@pytest.fixture(scope="session")
async def shared_provider() -> AsyncIterator[SharedProvider]:
    async with SharedProvider() as provider:
        yield provider


class Preparer:
    """Unpacks and installs the next version's Nextcloud while the current version's tests run (they mostly wait
    on paced answers), so a run pays the set-up of one version only once in full."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[RealNextcloud]] = {}
        self._removals: list[threading.Thread] = []
        self._removing: set[Path] = set()

    def remove_later(self, folder: Path) -> None:
        if folder in self._removing:
            return
        self._removing.add(folder)
        thread = threading.Thread(target=shutil.rmtree, args=(folder,), kwargs={"ignore_errors": True},
                                  name=f"remove {folder.name}")
        thread.start()
        self._removals.append(thread)

    def start(self, tarball: Tarball) -> asyncio.Task[RealNextcloud]:
        if tarball.id not in self._tasks:
            self._tasks[tarball.id] = asyncio.get_running_loop().create_task(self._prepare(tarball))
        return self._tasks[tarball.id]

    @staticmethod
    async def _prepare(tarball: Tarball) -> RealNextcloud:
        t0 = time.monotonic()
        root = Path(tempfile.mkdtemp(prefix=f"real-{tarball.id}-"))
        root.chmod(0o755)  # the web server user must reach nextcloud/ and data/ inside
        nc = RealNextcloud(tarball, root)
        try:
            await nc.unpack()
            await nc.install()
        except BaseException:
            nc.remove()
            raise
        nc.timings["prepared"] = time.monotonic() - t0
        return nc

    def start_next(self, after: Tarball) -> None:
        later = [t for t in TARBALLS if t.id in _selected and t.id != after.id and t.id not in self._tasks]
        if later:
            self.start(later[0])

    async def close(self) -> None:
        """Remove what was prepared but never used (a run that stopped early, or ran one version only)."""
        for task in self._tasks.values():
            if not task.done():
                task.cancel()
            with contextlib.suppress(BaseException):
                nc = await task
                if nc.root.exists() and os.environ.get("KEEP_NEXTCLOUD") != "1":
                    self.remove_later(nc.root)
        for thread in self._removals:
            await asyncio.to_thread(thread.join)


@pytest.fixture(scope="session")
async def nextcloud_preparer() -> AsyncIterator[Preparer]:
    preparer = Preparer()
    try:
        yield preparer
    finally:
        await preparer.close()


@pytest.fixture(scope="session")
async def real_nc(request: pytest.FixtureRequest, shared_provider: SharedProvider,
                  nextcloud_preparer: Preparer) -> AsyncIterator[RealStack]:
    """Nextcloud from one tarball, with alice, bob and admin (app passwords), and the app registered and
    configured on it with the commands ``make run`` prints."""
    tarball: Tarball | None = request.param
    if tarball is None:  # deselected in pytest_collection_modifyitems; never set up
        pytest.fail(NO_TARBALL_REASON)
    t0 = time.monotonic()
    preparing = nextcloud_preparer.start(tarball)  # already under way, unless this is the first version
    port = free_port()
    app: RunningExApp | None = None
    stack: RealStack | None = None
    nc: RealNextcloud | None = None

    async def nextcloud() -> RealNextcloud:
        nonlocal nc
        waited = time.monotonic()
        nc = await preparing
        nc.timings["waited for unpack+install"] = time.monotonic() - waited
        nc.port = port
        await nc.serve_with_users()
        return nc

    try:
        # The app starts (and prints its commands) while Nextcloud is prepared, starts serving and gets its users.
        app, nc = await _gather(start_make_run(f"http://127.0.0.1:{port}", _app_data(tarball)), nextcloud())
        values = {"streaming_api_url": shared_provider.base_url, "streaming_model": f"model-{tarball.id}",
                  "streaming_api_key": "sk-real-" + secrets.token_urlsafe(24)}
        stack = RealStack(nc, app, shared_provider, dict(values), initial_values=values)
        stack.registration = await register_and_configure(nc, app, values)
        # The suite starts far more answers per minute as one user than a person does (the default limit is 20).
        await nc.occ("app_api:app:config:set", "assistant_stream", "max_starts_per_minute", "--value=1000")
        nc.timings["register+configure"] = stack.registration.configured_at - stack.registration.registered_at
        stack.first_status = await stack.status()
        nc.timings["total"] = time.monotonic() - t0
        _timings[tarball.id] = dict(nc.timings)
        nextcloud_preparer.start_next(tarball)
        yield stack
    finally:
        t_down = time.monotonic()
        if stack is not None:
            await stack.aclose()
        if app is not None:
            await app.stop()
        t_app = time.monotonic()
        if nc is not None:
            await nc.stop()
            if os.environ.get("KEEP_NEXTCLOUD") != "1":
                # 11,000 files: removing them took 17-27 s on the shared machine's disk. In the background, while
                # the next version's tests run; the session's end waits for it (Preparer.close).
                nextcloud_preparer.remove_later(nc.root)
        nextcloud_preparer.remove_later(_app_data(tarball).parent)
        _timings.setdefault(tarball.id, {}).update(
            {"stop app": t_app - t_down, "stop+remove nextcloud": time.monotonic() - t_app})


def _app_data(tarball: Tarball) -> Path:
    """The app's data folder (make run's DATA): beside, not inside, the Nextcloud tree prepared in advance."""
    folder = Path(tempfile.gettempdir()) / f"real-{tarball.id}-app-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    return folder / "app-data"


async def _gather(*aws: Any) -> list[Any]:
    """asyncio.gather that, when one fails, still waits for the others (nothing left running)."""
    results = await asyncio.gather(*aws, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        for r in results:
            if isinstance(r, RunningExApp):
                with contextlib.suppress(Exception):
                    await r.stop()
        raise errors[0]
    return list(results)


# --- hooks -----------------------------------------------------------------------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if FIXTURE not in metafunc.fixturenames:
        return
    if TARBALLS:
        metafunc.parametrize(FIXTURE, TARBALLS, ids=[t.id for t in TARBALLS], indirect=True, scope="session")
    else:
        metafunc.parametrize(FIXTURE, [None], ids=["no-nextcloud"], indirect=True, scope="session")


def _tarball_of(item: pytest.Item) -> Tarball | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get(FIXTURE) if callspec is not None else None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    real = [item for item in items if FIXTURE in getattr(item, "fixturenames", ())]
    _selected.update(t.id for t in (_tarball_of(item) for item in real) if t is not None)
    if TARBALLS or not real:
        return
    # No tarball: these tests cannot run here. Deselected (counted in the summary line), not skipped.
    keep = [item for item in items if FIXTURE not in getattr(item, "fixturenames", ())]
    items[:] = keep
    config.hook.pytest_deselected(items=real)
    _deselected[0] = len(real)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    tid = _id_from_nodeid(report.nodeid)
    if tid is None:
        return
    counts = _ran.setdefault(tid, Counter())
    if report.when == "call":
        counts[report.outcome] += 1
    elif report.when == "setup" and report.outcome != "passed":
        counts["error"] += 1


def _id_from_nodeid(nodeid: str) -> str | None:
    if "[" not in nodeid:
        return None
    params = nodeid.rsplit("[", 1)[1].rstrip("]").split("-")
    ids = {t.id: t for t in TARBALLS}
    return next((p for p in params if p in ids), None)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    tr = terminalreporter
    if not TARBALLS:
        if _deselected[0]:
            tr.write_line(f"real Nextcloud: {_deselected[0]} tests did NOT run ({NO_TARBALL_REASON}); "
                          f"point NEXTCLOUD_TARBALL at Nextcloud tarballs to run them", yellow=True, bold=True)
        return
    if not _ran:
        return
    parts = []
    for tarball in TARBALLS:
        counts = _ran.get(tarball.id, Counter())
        ran = counts["passed"] + counts["failed"]
        detail = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()) if n)
        timing = _timings.get(tarball.id, {})
        setup = (f", set-up {timing['total']:.1f} s: "
                 + " ".join(f"{k} {v:.1f}" for k, v in timing.items() if k != "total")) if "total" in timing else ""
        parts.append(f"{ran} tests ran against Nextcloud {tarball.version} ({tarball.id}: {detail or 'none'}{setup})")
    tr.write_line("real Nextcloud: " + "; ".join(parts), bold=True)
