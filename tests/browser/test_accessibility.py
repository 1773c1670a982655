"""Issue #13: an axe-core scan of every state of the chat finds no serious or critical violation: empty, reasoning,
streaming, an answer with code and math (light and dark), the delete dialog, an error, and a phone with the drawer
open and closed. A polite live region reads out finished answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page

from tests.support.appserver import AppFactory, RunningApp
from tests.support.axe import assert_accessible
from tests.support.browser import ANSWER, STREAMING, open_chat, send, stream_with, wait_answer, wait_streamed, words
from tests.support.scripted_provider import ScriptedProvider, chat_chunk, error_response, openai_stream

pytestmark = pytest.mark.browser

THOUGHT = ["The user wants ", "the area of a circle ", "and a Python function."]
CIRCLE = ["The area of a circle of radius $r$ is $A = \\pi r^2$. ", "In Python:\n\n",
          "```python\nimport math\n\ndef circle_area(r: float) -> float:\n", "    return math.pi * r ** 2\n```\n"]
RICH = ["## The sum of the first n numbers\n\n", "Gauss noticed that pairs add up to $n+1$:\n\n",
        "$$\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}$$\n\n",
        "| n | sum |\n|---|---|\n| 10 | 55 |\n| 100 | 5050 |\n\n",
        "```python\nprint(sum(range(101)))  # 5050\n```\n"]


async def test_every_state_passes_axe(page: Page, app_factory: AppFactory,
                                      scripted_provider: ScriptedProvider, artifacts: Path) -> None:
    """Also takes the README's desktop screenshots (tests/artifacts/readme-*.png, copied to docs/img/)."""
    app = await app_factory(LOCAL_MODE="1", NEXTCLOUD_URL="", STREAMING_API_URL=scripted_provider.chat_url,
                            STREAMING_MODEL="gpt-4o-mini")
    thinking = [chat_chunk(reasoning_content=r) for r in THOUGHT]
    talking = [chat_chunk(c) for c in CIRCLE for c in words(c)]
    scripted_provider.script(
        stream_with(thinking + talking, delay=0.15),
        openai_stream(["Circle area in Python"]),
        openai_stream(RICH, delay=0.01),
        error_response(401, {"error": {"message": "Incorrect API key provided"}}),
    )
    await open_chat(page, app.url)
    await assert_accessible(page, "empty")

    await send(page, "How do I compute the area of a circle in Python?")
    await page.locator(f"{STREAMING} [data-test=reasoning]").wait_for()
    await assert_accessible(page, "reasoning")
    await wait_streamed(page, 30)
    await assert_accessible(page, "streaming")
    await wait_answer(page)

    await send(page, "And the sum of 1 to n?")
    await page.locator(ANSWER).nth(1).wait_for()
    answer = await wait_answer(page)
    await answer.locator("[data-test=math] .katex").first.wait_for()
    await assert_accessible(page, "answer with code and math")
    announced = await page.locator("[data-test=announcer]").text_content()
    assert announced.startswith("Answer: The sum of the first n numbers Gauss noticed")
    assert "print(sum(range(101)))" in announced and "\\frac" not in announced
    assert await page.locator("[data-test=announcer]").get_attribute("aria-live") == "polite"
    await page.locator("[data-test=chat-input]").fill("Can you explain the proof?")
    await page.set_viewport_size({"width": 1280, "height": 1000})
    await page.screenshot(path=str(artifacts / "readme-desktop-light.png"))
    await page.emulate_media(color_scheme="dark")
    await page.wait_for_timeout(500)  # let the buttons' colour transitions end
    await assert_accessible(page, "answer with code and math, dark")
    await page.screenshot(path=str(artifacts / "readme-desktop-dark.png"))
    await page.emulate_media(color_scheme="light")
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.locator("[data-test=chat-input]").fill("")

    await answer.locator("[data-test=delete-message]").click()
    await page.locator("[data-test=confirm-delete-message]").wait_for()
    await assert_accessible(page, "delete dialog")
    await page.locator("[data-test=cancel-delete-message]").click()

    await send(page, "And now?")
    failed = await wait_answer(page, "error")
    await failed.locator("[data-test=error]").wait_for()
    await assert_accessible(page, "error")


async def test_phone_passes_axe(phone_page: Page, local_app: RunningApp,
                                scripted_provider: ScriptedProvider, artifacts: Path) -> None:
    """Also takes the README's phone screenshot (tests/artifacts/readme-phone.png)."""
    scripted_provider.script(openai_stream(CIRCLE, delay=0.1), openai_stream(["Circle area"]))
    await open_chat(phone_page, local_app.url)
    await send(phone_page, "How do I compute the area of a circle in Python?")
    answer = await wait_answer(phone_page)
    await answer.locator("[data-test=math] .katex").first.wait_for()
    await assert_accessible(phone_page, "phone, conversation")
    await phone_page.screenshot(path=str(artifacts / "readme-phone.png"))
    await phone_page.locator(".app-navigation-toggle").click()
    await phone_page.locator("[data-test=session-item]").first.wait_for()
    await assert_accessible(phone_page, "phone, drawer open")
