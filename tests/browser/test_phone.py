"""Issue #13 on a 390 px touch phone: the drawer closes once a conversation is picked, and the actions of the
user's own messages are there without hover (a desktop mouse still reveals them on hover)."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from tests.support.appserver import RunningApp
from tests.support.browser import HUMAN, SESSION, content_of, open_chat, send, wait_answer
from tests.support.scripted_provider import ScriptedProvider, openai_stream

pytestmark = pytest.mark.browser

DRAWER_OPEN = "() => document.querySelector('#app-navigation-vue')?.getAttribute('aria-hidden') === 'false'"
DRAWER_CLOSED = "() => document.querySelector('#app-navigation-vue')?.getAttribute('aria-hidden') === 'true'"


async def actions_opacity(page: Page) -> float:
    return float(await page.locator(f"{HUMAN} .as-message__actions").first.evaluate(
        "el => getComputedStyle(el).opacity"))


async def test_drawer_closes_after_a_pick_and_actions_show_without_hover(
        phone_page: Page, local_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    page = phone_page
    scripted_provider.script(openai_stream(["An ", "answer."]), openai_stream(["Trip"]))
    await open_chat(page, local_app.url)
    await page.wait_for_function(DRAWER_CLOSED)  # a phone starts with the conversation, not the list
    await send(page, "First question")
    await wait_answer(page)

    # Touch: the copy and delete buttons of the user's own message are visible without any hover.
    assert await actions_opacity(page) == 1.0
    assert await page.locator(f"{HUMAN} [data-test=delete-message]").is_visible()

    # A second conversation, then back to the first through the drawer: it closes after the pick.
    await page.locator(".app-navigation-toggle").click()
    await page.wait_for_function(DRAWER_OPEN)
    await page.locator("[data-test=new-session]").click()
    await page.wait_for_function(DRAWER_CLOSED)
    await page.locator(".app-navigation-toggle").click()
    await page.wait_for_function(DRAWER_OPEN)
    await page.locator(SESSION, has_text="Trip").click()
    await page.wait_for_function(DRAWER_CLOSED)
    assert await content_of(page.locator(HUMAN).first) == "First question"


async def test_desktop_mouse_reveals_actions_on_hover(page: Page, local_app: RunningApp,
                                                      scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(["An ", "answer."]))
    await open_chat(page, local_app.url)
    await send(page, "Question")
    await wait_answer(page)
    await page.mouse.move(1, 790)
    await page.locator("[data-test=chat-input]").blur()
    assert await actions_opacity(page) == 0.0
    await page.locator(HUMAN).hover()
    await page.wait_for_function(
        f"() => getComputedStyle(document.querySelector('{HUMAN} .as-message__actions')).opacity === '1'")
