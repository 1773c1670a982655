"""Issues #5 and #13: Enter sends, Shift+Enter adds a line; the box is always editable and focused; while an
answer runs Send becomes Stop and Esc stops; text typed meanwhile is kept; a "New text" button appears when the
reader scrolled up while text arrives, and Stop stays in reach."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from tests.support.appserver import RunningApp
from tests.support.browser import (
    HUMAN,
    INPUT,
    SEND,
    STREAMING,
    answer_requests,
    content_of,
    open_chat,
    send,
    wait_answer,
    wait_streamed,
)
from tests.support.scripted_provider import ScriptedProvider, openai_stream

pytestmark = pytest.mark.browser

FOCUSED = f"() => document.activeElement === document.querySelector({INPUT!r})"


async def test_enter_sends_shift_enter_adds_line(page: Page, local_app: RunningApp,
                                                 scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream([f"part {i} " for i in range(10)], delay=0.05))
    await open_chat(page, local_app.url)
    await page.wait_for_function(FOCUSED)  # focused on load: type straight away
    await page.keyboard.type("first line")
    await page.keyboard.press("Shift+Enter")
    await page.keyboard.type("second line")
    box = page.locator(INPUT)
    assert await box.input_value() == "first line\nsecond line"
    assert await page.locator(HUMAN).count() == 0  # Shift+Enter did not send
    await page.keyboard.press("Enter")
    human = page.locator(HUMAN)
    await human.wait_for()
    assert await content_of(human) == "first line\nsecond line"
    await wait_answer(page)

    # The Send button sends too, and the focus stays in (comes back to) the box.
    await page.keyboard.type("thanks")
    await page.locator(SEND).click()
    await page.locator(HUMAN).nth(1).wait_for()
    assert await content_of(page.locator(HUMAN).nth(1)) == "thanks"
    await page.wait_for_function(FOCUSED)
    sent = [r.json["messages"][-1] for r in answer_requests(scripted_provider)]
    assert sent[0] == {"role": "user", "content": "first line\nsecond line"}


async def test_composer_stays_editable_send_becomes_stop_and_esc_stops(
        page: Page, local_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream([f"word{i} " for i in range(80)], delay=0.1))
    await open_chat(page, local_app.url)
    await send(page, "Tell me a long story")
    await page.locator(f"{STREAMING}[data-stream-status=streaming]").wait_for()

    # While the answer runs: the box is editable and focused, Send is Stop (one Tab away).
    box = page.locator(INPUT)
    assert await box.is_editable()
    await page.wait_for_function(FOCUSED)
    assert await page.locator(SEND).count() == 0
    stop = page.locator("[data-test=stop]")
    assert await stop.is_visible()
    await page.keyboard.type("and then?")
    await page.keyboard.press("Enter")  # does not send while an answer runs: the text stays
    assert await box.input_value() == "and then?"
    assert await page.locator(HUMAN).count() == 1
    await page.keyboard.press("Tab")
    assert await page.evaluate("() => document.activeElement?.getAttribute('data-test')") == "stop"
    await page.keyboard.press("Shift+Tab")

    # Esc stops; the text typed meanwhile is still there, and the focus too.
    await page.keyboard.press("Escape")
    stopped = await wait_answer(page, "cancelled")
    assert len(await content_of(stopped)) > 0
    assert await box.input_value() == "and then?"
    await page.wait_for_function(FOCUSED)
    assert await page.locator(SEND).is_enabled()
    await page.keyboard.press("Enter")
    await page.locator(HUMAN).nth(1).wait_for()
    assert await content_of(page.locator(HUMAN).nth(1)) == "and then?"
    assert await box.input_value() == ""


async def test_new_text_button_when_scrolled_up_and_stop_in_reach(
        page: Page, local_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    lines = [f"Line {i} of a long answer that keeps on growing.\n\n" for i in range(120)]
    scripted_provider.always(openai_stream(lines, delay=0.08))
    await open_chat(page, local_app.url)
    await send(page, "Write a lot")
    await wait_streamed(page, 1500)
    jump = page.locator("[data-test=jump-to-new]")
    assert await jump.count() == 0  # at the bottom: following the text, no button

    scroller = page.locator(".as-messages__scroller")
    await scroller.evaluate("el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')) }")
    await jump.wait_for()
    top = await scroller.evaluate("el => el.scrollTop")
    assert top < 50  # the page did not drag the reader down
    stop = page.locator("[data-test=stop]")
    box = await stop.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 800, box

    await jump.click()
    await page.wait_for_function(
        "() => { const el = document.querySelector('.as-messages__scroller');"
        " return el.scrollHeight - el.scrollTop - el.clientHeight < 80 }")
    await jump.wait_for(state="detached")
    await stop.click()
    await wait_answer(page, "cancelled")
