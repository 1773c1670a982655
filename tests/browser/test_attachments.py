"""Issue #15 in the browser: attach a PDF, ask about it, the answer quotes it; hostile files get their error."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import BrowserContext, Page

from tests.support import docgen
from tests.support.appserver import RunningApp
from tests.support.browser import HUMAN, INPUT, SEND, content_of, is_title_request, open_chat, send, wait_answer
from tests.support.nextcloud_double import NextcloudDouble, context_chat_source
from tests.support.proxy_doubles import SESSION_COOKIE, ProxiedAppFactory, ProxyDoubles
from tests.support.scripted_provider import RecordedRequest, ScriptedProvider, ScriptedResponse, openai_stream

pytestmark = pytest.mark.browser

CHIP = "[data-test=attachment]"


class QuotingProvider(ScriptedProvider):
    """Answers by quoting the second line of the first attached file it was sent: the answer can only
    contain the file's words if the file really reached the model."""

    def _next(self, req: RecordedRequest) -> ScriptedResponse:
        body = req.json or {}
        users = [m["content"] for m in body.get("messages", []) if m.get("role") == "user"]
        text = users[-1] if users and isinstance(users[-1], str) else ""
        match = re.search(r'<file name="([^"]+)">\n[^\n]*\n([^\n]*)', text)
        if match is None:
            return openai_stream(["I see no file."])
        return openai_stream(["According to ", match.group(1), ': "', match.group(2), '"'], delay=0.05)


@pytest.fixture
async def quoting_app(app_factory) -> RunningApp:
    async with QuotingProvider() as provider:
        yield await app_factory(LOCAL_MODE="1", NEXTCLOUD_URL="", STREAMING_API_URL=provider.chat_url,
                                STREAMING_MODEL="test-model")


async def test_attach_a_pdf_and_ask_about_it(page: Page, quoting_app: RunningApp, tmp_path) -> None:
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(docgen.pdf([["Invoice 4711 from ACME", "Total due: 1,234.56 EUR by 31 March"]]))
    await open_chat(page, quoting_app.url)
    # The local page has no Nextcloud: upload is the only way, so the paperclip is the upload button itself.
    assert await page.locator("[data-test=attach]").get_attribute("aria-label") == "Upload from device"
    async with page.expect_file_chooser() as chooser:
        await page.locator("[data-test=attach]").click()
    await (await chooser.value).set_files(str(pdf))
    chip = page.locator(CHIP)
    await chip.wait_for()
    assert "invoice.pdf" in await chip.inner_text()
    await page.locator(INPUT).fill("What is the total?")
    await page.locator(SEND).wait_for(state="visible")
    await page.wait_for_function(f"() => !document.querySelector({SEND!r}).disabled")
    await page.locator(INPUT).press("Enter")
    answer = await wait_answer(page)
    assert await content_of(answer) == 'According to invoice.pdf: "Total due: 1,234.56 EUR by 31 March"'
    # The question shows its file as a chip; the composer is empty again.
    human = page.locator(HUMAN)
    assert "invoice.pdf" in await human.locator(CHIP).inner_text()
    assert await page.locator(f".as-input {CHIP}").count() == 0


async def test_a_zip_bomb_shows_its_error_on_the_chip(page: Page, quoting_app: RunningApp, tmp_path) -> None:
    bomb = tmp_path / "report.docx"
    bomb.write_bytes(docgen.docx_zip_bomb(64))
    await open_chat(page, quoting_app.url)
    async with page.expect_file_chooser() as chooser:
        await page.locator("[data-test=attach]").click()
    await (await chooser.value).set_files(str(bomb))
    error = page.locator("[data-test=attachment-error]")
    await error.wait_for()
    assert "zip bomb" in await error.inner_text()
    # A failed file is not sent; the chat goes on.
    await send(page, "Hello")
    answer = await wait_answer(page)
    assert await content_of(answer) == "I see no file."


async def test_ask_my_documents_shows_sources_in_nextclouds_page(
        context: BrowserContext, page: Page, proxied_app: ProxiedAppFactory, proxies: ProxyDoubles,
        nextcloud: NextcloudDouble, scripted_provider: ScriptedProvider) -> None:
    """Inside (the double of) Nextcloud's embedded page, with context_chat listed by TaskProcessing."""
    nextcloud.taskprocessing.context_chat = True
    sources = [context_chat_source(nextcloud.url, 42, "Quarterly report.pdf"),
               context_chat_source(nextcloud.url, 7, "Notes.md")]
    nextcloud.taskprocessing.script(output="Revenue grew 12% (see the quarterly report).", delay=0.3, sources=sources)
    nextcloud.add_user("alice")
    app = await proxied_app(STREAMING_API_URL=scripted_provider.chat_url, STREAMING_MODEL="test-model")
    async with httpx.AsyncClient(base_url=app.url, headers=nextcloud.auth_headers(""), timeout=15,
                                 trust_env=False) as appapi:
        assert (await appapi.put("/enabled", params={"enabled": 1})).json() == {"error": ""}
    cookies = proxies.login("alice")
    await context.add_cookies([{"name": SESSION_COOKIE, "value": cookies[SESSION_COOKIE], "url": proxies.base_url}])
    await page.goto(proxies.base_url + proxies.embedded_path("chat"))
    await page.locator(INPUT).wait_for()
    # Inside Nextcloud the paperclip is a menu: Files and upload.
    await page.locator("[data-test=attach] button").first.click()
    await page.locator("[data-test=attach-files]").wait_for()
    await page.keyboard.press("Escape")
    switch = page.locator("[data-test=documents-switch]")
    await switch.wait_for()
    # NcCheckboxRadioSwitch passes data-test to its input (role=switch), hidden behind the drawn switch.
    await switch.click(force=True)  # checked once the server stored it for the (new) conversation
    await page.wait_for_function("() => document.querySelector('[data-test=documents-switch]').checked")
    await send(page, "How did revenue develop?")
    answer = await wait_answer(page)
    assert await content_of(answer) == "Revenue grew 12% (see the quarterly report)."
    links = answer.locator("[data-test=source]")
    assert await links.all_inner_texts() == ["Quarterly report.pdf", "Notes.md"]
    assert (await links.first.get_attribute("href")).endswith("/index.php/f/42")
    task = nextcloud.taskprocessing.last()
    assert (task.type, task.user, task.input["prompt"]) == ("context_chat:context_chat", "alice",
                                                            "How did revenue develop?")
    # The question went to context_chat; the chat model was asked for the conversation's title only.
    assert all(is_title_request(r) for r in scripted_provider.requests)
