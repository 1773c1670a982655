"""Issue #5: provider failures are shown in words a user understands; a broken stream keeps its partial text."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page

from tests.support.appserver import API_KEY, AppFactory, RunningApp
from tests.support.browser import (
    ANSWER,
    STREAMING,
    answer_requests,
    content_of,
    open_chat,
    open_embedded_chat,
    send,
    wait_answer,
)
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.proxy_doubles import ProxiedAppFactory, ProxyDoubles
from tests.support.scripted_provider import (
    DROP,
    ScriptedProvider,
    ScriptedResponse,
    Sleep,
    chat_chunk,
    error_response,
    openai_stream,
    sse,
)

pytestmark = pytest.mark.browser


async def test_rejected_api_key_is_explained(page: Page, app_factory: AppFactory,
                                             scripted_provider: ScriptedProvider, artifacts: Path) -> None:
    app = await app_factory(LOCAL_MODE="1", NEXTCLOUD_URL="", STREAMING_API_URL=scripted_provider.chat_url,
                            STREAMING_MODEL="test-model", STREAMING_API_KEY=API_KEY)
    scripted_provider.always(error_response(401, {"error": {
        "message": f"Incorrect API key provided: {API_KEY}. You can find your API key at "
                   "https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}))
    await open_chat(page, app.url)
    await send(page, "Hello?")

    failed = await wait_answer(page, "error")
    note = failed.locator("[data-test=error]")
    assert await note.get_attribute("data-code") == "provider_auth"
    text = await note.inner_text()
    live_title = await note.locator("[data-test=error-title]").inner_text()
    assert "The AI provider rejected the API key." in text
    assert "administrator" in text and "API key" in text
    # The provider's own words are for whoever has to fix it: folded under "Details" (the local user runs
    # the app: the detail is for them).
    assert "HTTP 401" not in text
    await note.locator("[data-test=error-detail] summary").click()
    assert "HTTP 401" in await note.locator("[data-test=error-detail]").inner_text()
    await page.screenshot(path=str(artifacts / "error-api-key.png"))
    assert API_KEY not in await page.locator("body").inner_text()
    assert await page.locator(STREAMING).count() == 0
    assert await page.locator("[data-test=chat-input]").is_enabled()
    assert scripted_provider.requests[0].headers["authorization"] == f"Bearer {API_KEY}"

    # What was stored says the same after a reload: the same title, from the stored error code.
    await page.reload()
    note = (await wait_answer(page, "error")).locator("[data-test=error]")
    assert await note.get_attribute("data-code") == "provider_auth"
    assert await note.locator("[data-test=error-title]").inner_text() == live_title


async def test_only_a_nextcloud_admin_can_unfold_where_the_provider_failed(
        context: BrowserContext, page: Page, proxied_app: ProxiedAppFactory, proxies: ProxyDoubles,
        nextcloud: NextcloudDouble, scripted_provider: ScriptedProvider) -> None:
    """Issue #13: the provider's words and URL reach a Nextcloud admin's page only, under "Details"."""
    scripted_provider.always(error_response(404, {"error": {"message": "model 'gpt-9' does not exist"}}))
    app = await proxied_app(STREAMING_API_URL=scripted_provider.chat_url, STREAMING_MODEL="gpt-9")
    internal = ("gpt-9' does not exist", "HTTP 404", scripted_provider.base_url.split("://")[1])
    for user, admin in (("alice", False), ("admin", True)):
        await open_embedded_chat(context, page, app, nextcloud, proxies, user)
        await send(page, "Hello?")
        note = (await wait_answer(page, "error", timeout=30_000)).locator("[data-test=error]")
        assert await note.get_attribute("data-code") == "provider_not_found"
        assert await note.locator("[data-test=error-detail]").count() == int(admin), user
        if admin:
            await note.locator("[data-test=error-detail] summary").click()
            detail = await note.locator("[data-test=error-detail]").inner_text()
            assert all(word in detail for word in internal), detail
        else:
            html = await page.content()
            assert not any(word in html for word in internal), user
        # The same after a reload, from the stored message.
        await page.reload()
        note = (await wait_answer(page, "error")).locator("[data-test=error]")
        assert await note.locator("[data-test=error-detail]").count() == int(admin), user


async def test_dropped_stream_keeps_partial_text_with_error(page: Page, local_app: RunningApp,
                                                        scripted_provider: ScriptedProvider, artifacts: Path) -> None:
    body = [sse(chat_chunk("", role="assistant")), sse(chat_chunk("The first half ")),
            sse(chat_chunk("of an answer")), Sleep(1.0), DROP]
    scripted_provider.always(ScriptedResponse(body=body, delay=0.1))
    await open_chat(page, local_app.url)
    await send(page, "Tell me a story")

    await page.locator(f"{STREAMING} [data-test=message-content]", has_text="The first half").wait_for()
    failed = await wait_answer(page, "error")
    assert await content_of(failed) == "The first half of an answer"
    await page.screenshot(path=str(artifacts / "error-dropped-stream.png"))
    note = failed.locator("[data-test=error]")
    assert await note.is_visible()
    assert await note.get_attribute("data-code") not in (None, "", "unknown")
    assert len(await note.inner_text()) > 20
    assert len(answer_requests(scripted_provider)) == 1  # a partial answer is never silently retried
    assert await page.locator(ANSWER).count() == 1

    await page.reload()
    failed = await wait_answer(page, "error")
    assert await content_of(failed) == "The first half of an answer"
    assert await failed.locator("[data-test=error]").is_visible()


async def test_rate_limit_counts_down_before_try_again(page: Page, local_app: RunningApp,
                                                       scripted_provider: ScriptedProvider) -> None:
    """Issue #13: "try again in N s" from the provider's Retry-After; Try again waits for it, also after a reload."""
    limited = error_response(429, {"error": {"message": "Rate limit reached, try again in 4 s"}},
                             headers={"Retry-After": "4"})
    scripted_provider.always(limited)  # however often the provider client tries before giving up
    await open_chat(page, local_app.url)
    await send(page, "Hello?")
    failed = await wait_answer(page, "error", timeout=30_000)
    note = failed.locator("[data-test=error]")
    assert await note.get_attribute("data-code") == "provider_rate_limited"
    retry = note.locator("[data-test=retry]")
    assert await retry.is_disabled()
    first = int(await retry.get_attribute("data-wait"))
    assert 1 <= first <= 4 and f"Try again in {first} s" in await retry.inner_text()
    scripted_provider.always(openai_stream(["Now ", "it works."]))
    await page.reload()  # the wait is stored with the answer: the countdown goes on
    retry = (await wait_answer(page, "error")).locator("[data-test=retry]")
    await page.wait_for_function("el => el.disabled === false", arg=await retry.element_handle(), timeout=8_000)
    assert await retry.inner_text() == "Try again"
    await retry.click()
    done = await wait_answer(page)
    assert await content_of(done) == "Now it works."
