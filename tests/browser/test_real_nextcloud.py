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

from tests.support import docgen
from tests.support.browser import (
    ANSWER,
    HUMAN,
    INPUT,
    SEND,
    SESSION,
    STREAMING,
    VIEWPORT,
    content_of,
    send,
    wait_answer,
)
from tests.support.nextcloud_real.client import EMBEDDED
from tests.support.nextcloud_real.files import file_id, put_file
from tests.support.nextcloud_real.plugin import RealStack
from tests.support.nextcloud_real.provider import marker, messages_of
from tests.support.scripted_provider import RecordedRequest, ScriptedResponse, openai_stream

pytestmark = pytest.mark.browser

CHIP = "[data-test=attachment]"


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



def quote_the_file(req: RecordedRequest) -> ScriptedResponse:
    """Answers with the second line of the first file in the question: the file's words can only come back if
    its text reached the model."""
    question = next((str(m.get("content")) for m in reversed(messages_of(req)) if m.get("role") == "user"), "")
    match = re.search(r'<file name="([^"]+)">\n[^\n]*\n([^\n]*)', question)
    if match is None:
        return openai_stream(["I see no file."])
    return openai_stream(["According to ", match.group(1), ': "', match.group(2), '"'], delay=0.05)


async def pick_from_files(page: Page, name: str) -> None:
    """Paperclip, "From Files", then the file in Nextcloud's own picker (@nextcloud/dialogs), and "Attach"."""
    await page.locator("[data-test=attach] button").first.click()
    await page.locator("[data-test=attach-files]").click()
    picker = page.get_by_role("dialog", name="Attach files")
    await picker.wait_for()
    # The attach menu closed when the picker opened: it does not float over the dialog.
    assert not await page.locator("[data-test=attach-files]").is_visible()
    # The picker lists alice's files over WebDAV as the logged-in user; a row click selects the file.
    await picker.locator(f"tr[data-filename='{name}']").click()
    await picker.get_by_role("button", name="Attach").click()
    await picker.wait_for(state="detached")


async def test_attach_a_pdf_from_files_and_ask_about_it(real_nc: RealStack, nc_page: Page, artifacts: Path) -> None:
    """Issue 15's "Done when": a PDF in alice's Files, attached through Nextcloud's own file picker in
    Nextcloud's page, and the answer quotes it."""
    mark = marker()
    name = f"Invoice-{mark}.pdf"
    await put_file(real_nc, "alice", name, docgen.pdf([[f"Invoice {mark} from ACME",
                                                        "Total due: 1,234.56 EUR by 31 March"]]))
    real_nc.provider.answer(mark, quote_the_file)
    # As for a user who never had Files list a folder: the picker's first listing stores this preference, and
    # Nextcloud answered 500 to one of the picker's two concurrent first listings (src/picker/main.js).
    await real_nc.nc.occ("user:setting", "alice", "files", "lastSeenQuotaUsage", "--delete")
    dav_errors: list[str] = []
    nc_page.on("response", lambda r: dav_errors.append(f"{r.status} {r.request.method} {r.url}")
               if "/remote.php/dav/" in r.url and r.status >= 400 else None)
    try:
        # A new conversation for the file (the page opened alice's latest one).
        await nc_page.locator("[data-test=new-session]").click()
        await nc_page.locator(ANSWER).first.wait_for(state="detached")
        await pick_from_files(nc_page, name)
        chip = nc_page.locator(f".as-input {CHIP}")
        await chip.wait_for()
        assert name in await chip.inner_text()
        # Back from the picker, the message box has the focus: the question is typed next.
        assert await nc_page.evaluate(f"document.activeElement === document.querySelector({INPUT!r})")
        await nc_page.wait_for_function(f"() => !document.querySelector({SEND!r}).disabled")
        await send(nc_page, f"What is the total? {mark}")
        answer = await wait_answer(nc_page, timeout=30_000)
    except Exception:
        await nc_page.screenshot(path=str(artifacts / f"real-nextcloud-files-{real_nc.nc.tarball.id}-fail.png"))
        raise
    assert dav_errors == []
    assert await content_of(answer) == f'According to {name}: "Total due: 1,234.56 EUR by 31 March"'
    # The question carries the file as a chip linking to it in Files; the composer is empty again.
    sent = nc_page.locator(HUMAN).last.locator(CHIP)
    assert name in await sent.inner_text()
    href = await sent.locator("a").get_attribute("href")
    assert href == f"/index.php/f/{await file_id(real_nc, 'alice', name)}"
    assert await nc_page.locator(f".as-input {CHIP}").count() == 0

