"""Issue #5: conversations in the browser: create, title after the first answer, rename, delete with confirmation."""

from __future__ import annotations

import pytest
from playwright.async_api import Locator, Page

from tests.support.appserver import RunningApp
from tests.support.browser import SESSION, content_of, is_title_request, open_chat, send, wait_answer
from tests.support.scripted_provider import ScriptedProvider, openai_stream

pytestmark = pytest.mark.browser


def session(page: Page, title: str) -> Locator:
    return page.locator(SESSION).filter(has=page.locator("[data-test=session-title]", has_text=title))


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
