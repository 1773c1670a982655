"""Browser fixtures: one Chromium per session, a fresh context per test, the frontend built once.

Debian's Chromium is driven through Playwright (no downloaded browsers). Every test starts the real
app under uvicorn in the test loop (``app_factory``) and opens its local page at ``/``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.support.appserver import AppFactory, RunningApp
from tests.support.browser import VIEWPORT
from tests.support.scripted_provider import ScriptedProvider

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "js" / "assistant_stream-main.js"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
# A 390 px phone with a touch screen: no hover, coarse pointer (what the CSS and the composer look at).
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def _frontend_sources() -> list[Path]:
    files = [p for p in (ROOT / "src").rglob("*") if p.is_file()]
    return [*files, ROOT / "vite.config.js", ROOT / "tools" / "build-extras.mjs", ROOT / "package.json",
            ROOT / "package-lock.json"]


def _bundle_is_stale() -> bool:
    if not BUNDLE.exists() or not BUNDLE.with_suffix(".css").exists():
        return True
    built = BUNDLE.stat().st_mtime
    return any(p.exists() and p.stat().st_mtime > built for p in _frontend_sources())


@pytest.fixture(scope="session")
def frontend() -> Path:
    """js/assistant_stream-main.js, rebuilt with `npm run build` when missing or older than src/."""
    if _bundle_is_stale():
        npm = shutil.which("npm")
        assert npm, "npm is needed to build the frontend (js/assistant_stream-main.js is missing or stale)"
        subprocess.run([npm, "run", "build", "--silent"], cwd=ROOT, check=True, timeout=300)
    assert not _bundle_is_stale(), "the frontend build did not produce an up-to-date js/assistant_stream-main.js"
    return BUNDLE


@pytest.fixture(scope="session")
async def browser(frontend: Path) -> AsyncIterator[Browser]:
    """One headless Debian Chromium for the whole session."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is needed for the browser tests (apt-get install chromium)"
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    ctx.set_default_timeout(10_000)
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    """A page that fails the test on any uncaught script error."""
    pg = await context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    assert errors == [], f"uncaught errors in the page: {errors}"


@pytest.fixture
async def phone_page(browser: Browser) -> AsyncIterator[Page]:
    """A page on a phone (PHONE) that fails the test on any uncaught script error."""
    ctx = await browser.new_context(**PHONE, locale="en-US", timezone_id="UTC")
    ctx.set_default_timeout(10_000)
    pg = await ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield pg
    finally:
        await ctx.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


@pytest.fixture
async def local_app(app_factory: AppFactory, scripted_provider: ScriptedProvider) -> RunningApp:
    """The app in local single-user mode (chat page at `/`, SSE straight to the app), on the scripted provider."""
    return await app_factory(LOCAL_MODE="1", NEXTCLOUD_URL="", STREAMING_API_URL=scripted_provider.chat_url,
                             STREAMING_MODEL="test-model")


@pytest.fixture(scope="session")
def artifacts() -> Iterator[Path]:
    """tests/artifacts/ (gitignored): screenshots."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield ARTIFACTS
