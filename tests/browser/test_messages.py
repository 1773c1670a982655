"""Issue #13: deleting a message asks first, can be undone, and takes a question's answer with it (on the page,
on the server and in what the model sees next); the model's name stays on finished answers; /favicon.ico answers."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Page

from tests.support.appserver import RunningApp
from tests.support.browser import ANSWER, HUMAN, answer_requests, content_of, open_chat, send, wait_answer
from tests.support.scripted_provider import ScriptedProvider, openai_stream

pytestmark = pytest.mark.browser


async def test_delete_asks_offers_undo_and_takes_the_answer_along(
        page: Page, local_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.script(openai_stream(["Paris."]), openai_stream(["Capitals"]), openai_stream(["Rome."]),
                             openai_stream(["Madrid."]))
    await open_chat(page, local_app.url)
    await send(page, "Capital of France?")
    await wait_answer(page)
    await send(page, "Capital of Italy?")
    await page.locator(ANSWER).nth(1).wait_for()
    await wait_answer(page)
    assert await page.locator(HUMAN).count() == 2 and await page.locator(ANSWER).count() == 2

    # Asked first: Cancel keeps everything.
    france = page.locator(HUMAN).first
    await france.locator("[data-test=delete-message]").click()
    dialog = page.get_by_role("dialog")
    assert "answer" in (await dialog.inner_text()).lower()
    await page.locator("[data-test=cancel-delete-message]").click()
    assert await page.locator(HUMAN).count() == 2

    # Deleted: the question goes with its answer; Undo brings both back, in place.
    await france.locator("[data-test=delete-message]").click()
    await page.locator("[data-test=confirm-delete-message]").click()
    await page.locator("[data-test=undo-delete]").wait_for()
    assert [await content_of(m) for m in await page.locator("[data-test=message]").all()] == [
        "Capital of Italy?", "Rome."]
    await page.locator("[data-test=undo-delete]").click()
    assert [await content_of(m) for m in await page.locator("[data-test=message]").all()] == [
        "Capital of France?", "Paris.", "Capital of Italy?", "Rome."]

    # Deleted for good: the next question's context no longer has the pair, and a reload shows it gone.
    await page.locator(HUMAN).first.locator("[data-test=delete-message]").click()
    await page.locator("[data-test=confirm-delete-message]").click()
    await page.locator("[data-test=undo-delete]").wait_for()
    await send(page, "And Spain?")
    await page.locator(ANSWER).nth(1).wait_for()
    last = await wait_answer(page)
    assert await content_of(last) == "Madrid."
    context = answer_requests(scripted_provider)[-1].json["messages"]
    said = [m["content"] for m in context if m["role"] != "system"]
    assert said == ["Capital of Italy?", "Rome.", "And Spain?"]
    await page.reload()
    await wait_answer(page)
    assert [await content_of(m) for m in await page.locator("[data-test=message]").all()] == [
        "Capital of Italy?", "Rome.", "And Spain?", "Madrid."]
    # The model that wrote each answer is still named on it.
    assert await page.locator(f"{ANSWER} [data-test=model]").all_inner_texts() == ["test-model", "test-model"]


async def test_favicon_answers(local_app: RunningApp) -> None:
    async with httpx.AsyncClient(base_url=local_app.url, trust_env=False) as client:
        icon = await client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/")
    assert len(icon.content) > 0
