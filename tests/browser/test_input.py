"""Issue #5: Enter sends, Shift+Enter adds a line, and the box is locked while an answer is generated."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from tests.support.appserver import RunningApp
from tests.support.browser import HUMAN, INPUT, SEND, STREAMING, content_of, open_chat, wait_answer
from tests.support.scripted_provider import ScriptedProvider, openai_stream

pytestmark = pytest.mark.browser


async def test_enter_sends_shift_enter_adds_line(page: Page, local_app: RunningApp,
                                                 scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream([f"part {i} " for i in range(10)], delay=0.15))
    await open_chat(page, local_app.url)
    box = page.locator(INPUT)
    await box.click()
    await page.keyboard.type("first line")
    await page.keyboard.press("Shift+Enter")
    await page.keyboard.type("second line")
    assert await box.input_value() == "first line\nsecond line"
    assert await page.locator(HUMAN).count() == 0  # Shift+Enter did not send
    assert await page.locator(SEND).is_enabled()

    await page.keyboard.press("Enter")
    human = page.locator(HUMAN)
    await human.wait_for()
    assert await content_of(human) == "first line\nsecond line"

    # While the answer is generated the box and the button are disabled.
    await page.locator(f"{STREAMING}[data-stream-status=streaming]").wait_for()
    assert await box.is_disabled()
    assert await page.locator(SEND).is_disabled()
    assert await box.input_value() == ""
    assert await page.locator(HUMAN).count() == 1

    await wait_answer(page)
    assert await box.is_enabled()
    await page.wait_for_function(f"() => document.activeElement === document.querySelector({INPUT!r})")
    assert await page.locator(SEND).is_disabled()  # nothing typed yet
    await page.keyboard.type("thanks")
    assert await page.locator(SEND).is_enabled()
    await page.locator(SEND).click()
    await page.locator(HUMAN).nth(1).wait_for()
    assert await content_of(page.locator(HUMAN).nth(1)) == "thanks"

    sent = [r.json["messages"][-1] for r in scripted_provider.requests if r.json]
    assert sent[0] == {"role": "user", "content": "first line\nsecond line"}
