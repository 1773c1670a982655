"""Issue #5: conversations in the browser: create, title after the first answer, rename, delete with confirmation."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Locator, Page

from tests.support.appserver import RunningApp
from tests.support.browser import SESSION, content_of, is_title_request, open_chat, send, wait_answer
from tests.support.scripted_provider import ScriptedProvider, openai_stream

pytestmark = pytest.mark.browser


def session(page: Page, title: str) -> Locator:
    """The item titled exactly ``title`` (has_text alone matches "Plan a weekend trip to Paris" for "Trip to Paris")."""
    exact = re.compile(rf"^\s*{re.escape(title)}\s*$")
    return page.locator(SESSION).filter(has=page.locator("[data-test=session-title]", has_text=exact))


async def titles(page: Page) -> list[str]:
    return [t.strip() for t in await page.locator(f"{SESSION} [data-test=session-title]").all_inner_texts()]


async def open_menu(item: Locator) -> None:
    await item.hover()
    await item.locator(".app-navigation-entry__actions button").first.click()


async def test_create_title_rename_delete(page: Page, local_app: RunningApp,
                                          scripted_provider: ScriptedProvider) -> None:
    scripted_provider.script(openai_stream(["Start ", "at the ", "Louvre."], delay=0.05),
                             openai_stream(["Trip ", "to ", "Paris"], delay=0.05))
    await open_chat(page, local_app.url)
    assert await page.locator(SESSION).count() == 0

    # Create: a new, empty conversation becomes the active one.
    await page.locator("[data-test=new-session]").click()
    await page.locator(f"{SESSION}[data-active=true]").wait_for()
    assert await titles(page) == ["New conversation"]

    # The title is written after the first answer (second provider request).
    await send(page, "Plan a weekend trip to Paris")
    assert await content_of(await wait_answer(page)) == "Start at the Louvre."
    await session(page, "Trip to Paris").wait_for()
    assert await titles(page) == ["Trip to Paris"]
    assert [is_title_request(r) for r in scripted_provider.requests] == [False, True]
    assert "Plan a weekend trip to Paris" in scripted_provider.requests[1].json["messages"][1]["content"]

    # A second conversation.
    await page.locator("[data-test=new-session]").click()
    await page.locator(f"{SESSION}[data-active=true]", has_text="New conversation").wait_for()
    assert sorted(await titles(page)) == ["New conversation", "Trip to Paris"]

    # Rename the first one in place.
    trip = session(page, "Trip to Paris")
    await open_menu(trip)
    await page.locator("[data-test=rename]").click()
    editor = trip.locator("input[type=text]")
    await editor.fill("Paris with the kids")
    await editor.press("Enter")
    await session(page, "Paris with the kids").wait_for()
    assert sorted(await titles(page)) == ["New conversation", "Paris with the kids"]
    await page.reload()
    await session(page, "Paris with the kids").wait_for()
    assert sorted(await titles(page)) == ["New conversation", "Paris with the kids"]

    # Delete asks first; cancelling keeps the conversation.
    renamed = session(page, "Paris with the kids")
    await open_menu(renamed)
    await page.locator("[data-test=delete-session]").click()
    dialog = page.get_by_role("dialog")
    await dialog.wait_for()
    assert "Paris with the kids" in await dialog.inner_text()
    await page.locator("[data-test=cancel-delete]").click()
    await dialog.wait_for(state="hidden")
    assert sorted(await titles(page)) == ["New conversation", "Paris with the kids"]

    await open_menu(renamed)
    await page.locator("[data-test=delete-session]").click()
    await page.locator("[data-test=confirm-delete]").click()
    await renamed.wait_for(state="detached")
    assert await titles(page) == ["New conversation"]

    # All of it was stored: after a reload the list is the same.
    await page.reload()
    await page.locator(SESSION).first.wait_for()
    assert await titles(page) == ["New conversation"]
    sessions = await local_app.services.storage.list_sessions("local")
    assert [s["title"] for s in sessions] in ([None], [""])


async def rename_to(page: Page, item: Locator, name: str) -> None:
    await open_menu(item)
    await page.locator("[data-test=rename]").click()
    editor = item.locator("input[type=text]")
    await editor.fill(name)
    await editor.press("Enter")


async def test_activity_order_background_spinner_search_manual_titles_no_empty_piles(
        page: Page, local_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    """Issue #13: the sidebar as a daily user needs it."""
    scripted_provider.script(
        openai_stream(["Start ", "at the ", "Louvre."]), openai_stream(["Paris weekend"]),
        openai_stream([f"step{i} " for i in range(16)] + ["reversed(items)"], delay=0.25),
        openai_stream(["A short ", "answer."], delay=0.3), openai_stream(["Generated title"]))
    await open_chat(page, local_app.url)
    await send(page, "Plan a weekend in Paris")
    await wait_answer(page)
    await session(page, "Paris weekend").wait_for()

    # An answer still being written in a conversation left behind keeps its spinner (with a text
    # alternative) until the server says it is done; then that conversation is the most recently active.
    await page.locator("[data-test=new-session]").click()
    await send(page, "How do I reverse a list in Python?")
    await page.locator("[data-test=streaming-message]").wait_for()
    await session(page, "Paris weekend").click()
    python = session(page, "How do I reverse a list in Python?")
    spinner = python.locator("[data-test=session-generating]")
    await spinner.wait_for()
    assert await spinner.get_attribute("role") == "img"
    assert await spinner.get_attribute("aria-label") == "An answer is being written"
    assert await python.get_attribute("data-generating") == "true"
    await spinner.wait_for(state="detached", timeout=15_000)
    assert await titles(page) == ["How do I reverse a list in Python?", "Paris weekend"]

    # Server-side search over titles and message text (the answer's words included).
    search = page.locator("[data-test=session-search] input")
    await search.fill("louvre")
    await page.wait_for_function("() => document.querySelectorAll('[data-test=session-item]').length === 1")
    assert await titles(page) == ["Paris weekend"]
    await search.fill("reversed")
    await session(page, "How do I reverse a list in Python?").wait_for()
    assert await titles(page) == ["How do I reverse a list in Python?"]
    await search.fill("zebra")
    await page.locator("[data-test=no-search-results]").wait_for()
    assert await titles(page) == []
    await search.fill("")
    await page.wait_for_function("() => document.querySelectorAll('[data-test=session-item]').length === 2")

    # A title the user gives is never replaced by the generated one, even when it arrives later.
    await page.locator("[data-test=new-session]").click()
    await send(page, "A third question")
    await page.locator("[data-test=streaming-message]").wait_for()
    await rename_to(page, session(page, "A third question"), "Mine")
    await wait_answer(page)
    for _ in range(50):  # the title is generated after the answer: wait until the provider was asked for it
        if len(scripted_provider.requests) == 5:
            break
        await page.wait_for_timeout(100)
    assert len(scripted_provider.requests) == 5 and is_title_request(scripted_provider.requests[4])
    await page.wait_for_timeout(500)
    assert (await titles(page))[0] == "Mine"
    await page.reload()
    await page.locator(SESSION).first.wait_for()
    assert await titles(page) == ["Mine", "How do I reverse a list in Python?", "Paris weekend"]

    # "New conversation" twice, with a switch between: one empty conversation, not a pile.
    await page.locator("[data-test=new-session]").click()
    await session(page, "New conversation").wait_for()
    await session(page, "Paris weekend").click()
    await page.locator("[data-test=new-session]").click()
    await page.locator(f"{SESSION}[data-active=true]", has_text="New conversation").wait_for()
    assert (await titles(page)).count("New conversation") == 1
    await page.reload()
    await page.locator(SESSION).first.wait_for()
    assert (await titles(page)).count("New conversation") == 1
