"""pytest wiring: one real Nextcloud per tarball and run, the tests parametrized over them, and the run's summary.

Tests that use the ``real_nc`` fixture run once per tarball (ids ``nc32``, ``nc33``, ...). Without a tarball they
are deselected and the run's summary says so in one line; at the end it says how many ran on each version.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
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

FIXTURE = "real_nc"
TARBALLS, NO_TARBALL_REASON = find_tarballs()
SETTLE_TIMEOUT = 40.0  # the app's settings cache is 10 s; an admin would wait this long at most

_ran: dict[str, Counter[str]] = {}  # tarball id -> outcome counts
_deselected: list[int] = [0]
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


@pytest.fixture(scope="session")
async def real_nc(request: pytest.FixtureRequest, shared_provider: SharedProvider) -> AsyncIterator[RealStack]:
    """Nextcloud from one tarball, with alice, bob and admin (app passwords), and the app registered and
    configured on it with the commands ``make run`` prints."""
    tarball: Tarball | None = request.param
    if tarball is None:  # deselected in pytest_collection_modifyitems; never set up
        pytest.fail(NO_TARBALL_REASON)
    t0 = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix=f"real-{tarball.id}-"))
    root.chmod(0o755)  # the web server user must reach nextcloud/ and data/ inside
    nc = RealNextcloud(tarball, root)
    app: RunningExApp | None = None
    stack: RealStack | None = None
    try:
        # The app starts (and prints its commands) while Nextcloud unpacks and installs.
        app, _ = await _gather(start_make_run(nc.url, root / "app-data"), nc.set_up())
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
        yield stack
    finally:
        if stack is not None:
            await stack.aclose()
        if app is not None:
            await app.stop()
        await nc.stop()
        if os.environ.get("KEEP_NEXTCLOUD") != "1":
            nc.remove()


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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    real = [item for item in items if FIXTURE in getattr(item, "fixturenames", ())]
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
