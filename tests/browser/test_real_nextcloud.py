"""The chat in a real browser on the real Nextcloud's embedded page, through the real stock AppAPI proxy.

The trimmed Nextcloud serves its own CSS and the header but not its core JavaScript (no ``window.OC``): exactly the
page on which the frontend once decided it was standalone and drew itself over Nextcloud's header.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from tests.support.browser import INPUT, SESSION, STREAMING, VIEWPORT, content_of, send, wait_answer
from tests.support.nextcloud_real.client import EMBEDDED
from tests.support.nextcloud_real.plugin import RealStack
from tests.support.nextcloud_real.provider import marker
from tests.support.scripted_provider import openai_stream

pytestmark = pytest.mark.browser


@pytest.fixture
async def nc_page(real_nc: RealStack, browser: Browser) -> AsyncIterator[Page]:
    """alice's browser, logged in through Nextcloud's login form, on the embedded chat page."""
    user = real_nc.nc.users["alice"]
    ctx = await browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    ctx.set_default_timeout(20_000)
    page = await ctx.new_page()
    try:
        # The form needs the request token of the login page and an Origin header (Nextcloud 32 refuses without).
        r = await ctx.request.get(real_nc.url + "/index.php/login")
        token = re.search(r'data-requesttoken="([^"]+)"', await r.text())
        assert token, "no request token on the login page"
        r = await ctx.request.post(real_nc.url + "/index.php/login", max_redirects=0,
                                   form={"user": user.name, "password": user.password, "requesttoken": token.group(1)},
                                   headers={"Origin": real_nc.url})
        assert r.status == 303 and "login" not in (r.headers.get("location") or ""), r.status
        await real_nc.settled()
        await page.goto(real_nc.url + EMBEDDED)
        await page.locator(INPUT).wait_for(state="visible")
        yield page
    finally:
        await ctx.close()


async def test_chat_stays_below_nextclouds_header(nc_page: Page) -> None:
    """Issue 11 defect 5: without window.OC the frontend took the page for its standalone one and set
    --header-height to 0, so the chat covered Nextcloud's header."""
    standalone = await nc_page.evaluate(
        "document.documentElement.classList.contains('assistant-stream--standalone')")
    assert standalone is False
    header = await nc_page.evaluate("document.getElementById('header').getBoundingClientRect().bottom")
    chat = await nc_page.evaluate(f"document.querySelector({INPUT!r}).closest('#content')"
                                  ".getBoundingClientRect().top")
    assert header > 0
    assert chat >= header, f"the chat starts at {chat}px, above the header's bottom at {header}px"


async def test_question_answer_and_rename_in_the_browser(real_nc: RealStack, nc_page: Page, artifacts: Path) -> None:
    mark = marker()
    real_nc.provider.answer(mark, openai_stream(["Real", " Nextcloud", " answer."], delay=1.0))
    await send(nc_page, f"Hello {mark}")
    try:
        # Through the stock proxy the answer reaches the page by long-poll, and the page says so while it streams.
        badge = nc_page.locator(f"{STREAMING} [data-test=transport]")
        await badge.wait_for(timeout=30_000)
        assert await badge.get_attribute("data-transport") == "poll"
        assert "Polling" in await badge.inner_text()
        answer = await wait_answer(nc_page, timeout=30_000)
    except Exception:
        await nc_page.screenshot(path=str(artifacts / f"real-nextcloud-{real_nc.nc.tarball.id}-fail.png"))
        raise
    assert await content_of(answer) == "Real Nextcloud answer."
    assert await nc_page.locator(SESSION).count() >= 1
