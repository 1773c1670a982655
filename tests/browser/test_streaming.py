"""Issue #5: the answer appears progressively in a real browser, survives stop and reload, falls back to polling."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, Route

from tests.support.appserver import RunningApp
from tests.support.browser import (
    ANSWER,
    HUMAN,
    STREAMING,
    answer_requests,
    assert_growing,
    content_of,
    growing_prefixes,
    open_chat,
    send,
    start_sampler,
    stop_sampler,
    wait_answer,
    wait_streamed,
    words,
)
from tests.support.scripted_provider import ScriptedProvider, openai_stream
from tests.support.sse import sse_events

pytestmark = pytest.mark.browser

QUESTION = "What should I see in Paris in two days?"
ANSWER_TEXT = ("Two days in Paris is enough for the highlights. On the first day, start early at the Louvre, "
               "walk through the Tuileries to Place de la Concorde and up the Champs-Élysées to the Arc de "
               "Triomphe. In the evening, take a boat along the Seine and watch the Eiffel Tower sparkle on the "
               "hour. On the second day, explore Montmartre and the Sacré-Cœur in the morning, then cross to the "
               "Latin Quarter, Notre-Dame and the Marais for dinner.")


def answer_chunks(n: int) -> list[str]:
    """ANSWER_TEXT in ``n`` word-aligned pieces."""
    w = words(ANSWER_TEXT)
    size = -(-len(w) // n)
    return ["".join(w[i:i + size]) for i in range(0, len(w), size)]


async def test_answer_grows_while_streaming(page: Page, local_app: RunningApp, scripted_provider: ScriptedProvider,
                                            artifacts: Path) -> None:
    chunks = answer_chunks(20)
    assert "".join(chunks) == ANSWER_TEXT
    scripted_provider.script(openai_stream(chunks, delay=0.1), openai_stream(["Paris in two days"]))
    await open_chat(page, local_app.url)
    await start_sampler(page, 150)
    await send(page, QUESTION)

    # Mid-stream: some text, not all of it, with the live indicator.
    await wait_streamed(page, len(ANSWER_TEXT) // 3)
    assert await page.locator(STREAMING).get_attribute("data-stream-status") == "streaming"
    # (the README shows tests/browser/test_accessibility.py's screenshots, docs/img/desktop-*.png and phone.png)
    await page.screenshot(path=str(artifacts / "chat-streaming.png"))

    answer = await wait_answer(page)
    samples = await stop_sampler(page)
    await page.screenshot(path=str(artifacts / "chat-done.png"))
    final = await content_of(answer)
    assert final == ANSWER_TEXT
    assert_growing(growing_prefixes(samples), final, at_least=4)
    assert await page.locator(STREAMING).count() == 0
    assert await page.locator(HUMAN).count() == 1 and await page.locator(ANSWER).count() == 1
    assert await answer.get_attribute("data-transport") == "sse"


async def test_stop_keeps_partial_text_after_reload(page: Page, local_app: RunningApp,
                                                    scripted_provider: ScriptedProvider) -> None:
    chunks = answer_chunks(40)
    scripted_provider.always(openai_stream(chunks, delay=0.1))
    await open_chat(page, local_app.url)
    await send(page, QUESTION)
    await wait_streamed(page, 60)
    await page.locator("[data-test=stop]").click()

    stopped = await wait_answer(page, "cancelled")
    partial = await content_of(stopped)
    assert 60 < len(partial) < len(ANSWER_TEXT)
    assert ANSWER_TEXT.startswith(partial)
    assert await stopped.locator("[data-test=badge-stopped]").inner_text() == "Stopped"
    assert await scripted_provider.wait_closed_by_client(0), "the provider's stream was not closed on stop"
    assert await page.locator("[data-test=chat-input]").is_enabled()

    await page.reload()
    again = await wait_answer(page, "cancelled")
    assert await content_of(again) == partial
    assert await again.locator("[data-test=badge-stopped]").is_visible()
    assert await page.locator(STREAMING).count() == 0
    assert len(scripted_provider.exchanges) == 1  # no title for a stopped first answer, no second attempt


async def test_reload_mid_generation_resumes_once(page: Page, local_app: RunningApp,
                                                  scripted_provider: ScriptedProvider) -> None:
    chunks = words(ANSWER_TEXT)  # 78 words in 5 s: time for a reload, even on a busy machine
    scripted_provider.script(openai_stream(chunks, delay=0.065))
    await open_chat(page, local_app.url)
    await send(page, QUESTION)
    await wait_streamed(page, 40)
    await page.reload()

    # The reloaded page finds the running answer, re-attaches and keeps streaming it.
    await page.locator(f"{STREAMING}[data-stream-status=streaming]").wait_for()
    await start_sampler(page, 100)
    answer = await wait_answer(page)
    samples = await stop_sampler(page)
    final = await content_of(answer)
    assert final == ANSWER_TEXT
    assert_growing(growing_prefixes(samples), final, at_least=2)
    assert await page.locator(ANSWER).count() == 1
    assert (await page.locator("main").inner_text()).count("Two days in Paris") == 1
    assert len(answer_requests(scripted_provider)) == 1, "the reload started a second generation"


@pytest.mark.parametrize("block", ["abort", "http500"])
async def test_blocked_stream_falls_back_to_polling(page: Page, local_app: RunningApp,
                                                    scripted_provider: ScriptedProvider, block: str) -> None:
    blocked: list[str] = []

    async def refuse(route: Route) -> None:
        blocked.append(route.request.url)
        if block == "abort":
            await route.abort()
        else:
            await route.fulfill(status=500, content_type="text/plain", body="proxy error")

    await page.route("**/chat/stream*", refuse)
    chunks = answer_chunks(20)
    scripted_provider.script(openai_stream(chunks, delay=0.1), openai_stream(["Paris in two days"]))
    await open_chat(page, local_app.url)
    await start_sampler(page, 100)
    await send(page, QUESTION)

    live = page.locator(f"{STREAMING} [data-test=transport]")
    await page.locator(f"{STREAMING}[data-stream-status=streaming] [data-test=transport][data-transport=poll]"
                       ).wait_for()
    assert await live.inner_text() == "Polling"
    answer = await wait_answer(page)
    samples = await stop_sampler(page)
    final = await content_of(answer)
    assert final == ANSWER_TEXT
    assert_growing(growing_prefixes(samples), final, at_least=3)
    assert await answer.get_attribute("data-transport") == "poll"
    assert blocked, "the page never tried the stream route"
    assert await page.locator(ANSWER).count() == 1
    assert len(answer_requests(scripted_provider)) == 1


async def test_stream_cut_midway_continues_by_polling_without_duplicates(
        page: Page, local_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    """SSE delivers the first part, then breaks for good while the answer goes on: long-poll takes over, and no
    text is shown twice or lost at any moment."""
    streams: list[str] = []

    async def cut(route: Route) -> None:
        streams.append(route.request.url)
        if len(streams) > 1:
            await route.abort()  # every reconnection fails
            return
        # Read the real stream up to its fourth chunk, hand exactly that to the page, then end the response.
        frames: list[str] = []
        async with httpx.AsyncClient(trust_env=False, timeout=10) as client, \
                client.stream("GET", route.request.url) as upstream:
            async for _id, payload in sse_events(upstream):
                frames.append(f"id: {_id}\ndata: {json.dumps(payload)}\n\n")
                if sum('"chunk"' in f for f in frames) == 4:
                    break
        await route.fulfill(status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
                            body="".join(frames))

    await page.route("**/chat/stream*", cut)
    chunks = answer_chunks(20)
    scripted_provider.script(openai_stream(chunks, delay=0.1), openai_stream(["Paris in two days"]))
    await open_chat(page, local_app.url)
    await start_sampler(page, 30)
    await send(page, QUESTION)

    answer = await wait_answer(page)
    samples = await stop_sampler(page)
    final = await content_of(answer)
    assert final == ANSWER_TEXT
    seen = growing_prefixes(samples)
    assert_growing(seen, final, at_least=3)
    assert any(len(p) <= len("".join(chunks[:4])) for p in seen), "the stream's part was never shown"
    assert await answer.get_attribute("data-transport") == "poll"
    assert len(streams) >= 2, "the page did not try to resume the stream before polling"
    assert (await page.locator("main").inner_text()).count("Two days in Paris") == 1
    assert len(answer_requests(scripted_provider)) == 1
