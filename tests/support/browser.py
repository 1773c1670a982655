"""Selectors and small page actions shared by the browser tests (data-test hooks of src/)."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import BrowserContext, Locator, Page

from assistant_stream.chat.titles import TITLE_PROMPT
from tests.support.appserver import RunningApp
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.proxy_doubles import SESSION_COOKIE, ProxyDoubles
from tests.support.scripted_provider import Piece, RecordedRequest, ScriptedProvider, ScriptedResponse, chat_chunk, sse

VIEWPORT = {"width": 1280, "height": 800}  # every browser test's window
INPUT = "[data-test=chat-input]"
SEND = "[data-test=send]"
STREAMING = "[data-test=streaming-message]"
STREAMING_TEXT = "[data-test=streaming-message] [data-test=message-content]"
# The stored messages of the history; the streaming answer carries data-test=message too, with a class of its own.
HISTORY = "[data-test=message]:not(.as-message--streaming)"
ANSWER = HISTORY + "[data-role=assistant]"
HUMAN = HISTORY + "[data-role=human]"
SESSION = "[data-test=session-item]"


async def open_chat(page: Page, url: str) -> None:
    await page.goto(url.rstrip("/") + "/")
    await page.locator(INPUT).wait_for(state="visible")


async def open_embedded_chat(context: BrowserContext, page: Page, app: RunningApp, nextcloud: NextcloudDouble,
                             proxies: ProxyDoubles, user: str = "alice") -> None:
    """Enable the app (AppAPI registers its page and initial state), log ``user`` in, open the Chat page
    that Nextcloud (the double) embeds, as the AppAPI proxy serves it."""
    async with httpx.AsyncClient(base_url=app.url, headers=nextcloud.auth_headers(""), timeout=15,
                                 trust_env=False) as appapi:
        enabled = await appapi.put("/enabled", params={"enabled": 1})
        assert enabled.json() == {"error": ""}
    cookies = proxies.login(user)
    await context.add_cookies([{"name": SESSION_COOKIE, "value": cookies[SESSION_COOKIE], "url": proxies.base_url}])
    await page.goto(proxies.base_url + proxies.embedded_path("chat"))
    await page.locator(INPUT).wait_for()


async def send(page: Page, text: str) -> None:
    box = page.locator(INPUT)
    await box.fill(text)
    await box.press("Enter")


def final_answer(page: Page, status: str = "done") -> Locator:
    return page.locator(f"{ANSWER}[data-status={status}]")


async def wait_answer(page: Page, status: str = "done", timeout: float = 15_000) -> Locator:
    """The last stored assistant message once it has ``status`` (done/cancelled/error/interrupted)."""
    loc = final_answer(page, status).last
    await loc.wait_for(state="visible", timeout=timeout)
    return loc


async def content_of(message: Locator) -> str:
    return await message.locator("[data-test=message-content]").inner_text()


# In-page sampler: records the streaming answer's visible text and status every `interval` ms.
SAMPLER = """(interval) => {
    window.__samples = [];
    const started = performance.now();
    window.__sampler = setInterval(() => {
        const body = document.querySelector('[data-test=streaming-message]');
        const content = body && body.querySelector('[data-test=message-content]');
        window.__samples.push({
            t: performance.now() - started,
            status: body ? body.getAttribute('data-stream-status') : null,
            text: content ? content.innerText : '',
        });
    }, interval);
}"""


async def start_sampler(page: Page, interval_ms: int = 150) -> None:
    await page.evaluate(SAMPLER, interval_ms)


async def stop_sampler(page: Page) -> list[dict[str, Any]]:
    return await page.evaluate("() => { clearInterval(window.__sampler); return window.__samples }")


def growing_prefixes(samples: list[dict[str, Any]]) -> list[str]:
    """Distinct non-empty texts seen while the answer was still being generated, in order."""
    seen: list[str] = []
    for s in samples:
        text = s["text"].strip()
        if s["status"] in ("connecting", "waiting", "streaming") and text and (not seen or text != seen[-1]):
            seen.append(text)
    return seen


def assert_growing(prefixes: list[str], final: str, at_least: int) -> None:
    """``prefixes`` are prefixes of ``final`` of increasing length, ``at_least`` of them short of the end."""
    for p in prefixes:
        assert final.startswith(p), f"{p!r} is not a prefix of the final text {final!r}"
    lengths = [len(p) for p in prefixes]
    assert lengths == sorted(set(lengths)), f"the text did not grow monotonically: {lengths}"
    partial = [p for p in prefixes if len(p) < len(final.strip())]
    assert len(partial) >= at_least, f"only {len(partial)} distinct partial texts before completion: {prefixes}"


async def wait_streamed(page: Page, chars: int) -> None:
    """Until the answer being generated shows more than ``chars`` characters."""
    await page.wait_for_function(
        "([sel, n]) => { const el = document.querySelector(sel); return !!el && el.innerText.length > n }",
        arg=[STREAMING_TEXT, chars])


def stream_with(pieces: list[dict[str, Any]], *, delay: float = 0.0, tail: list[Piece] | None = None,
                ) -> ScriptedResponse:
    """An OpenAI-style stream of the given chunk objects (a role chunk first), then ``tail`` or [DONE]."""
    body: list[Piece] = [sse(chat_chunk("", role="assistant"))]
    body += [sse(p) for p in pieces]
    body += tail if tail is not None else [sse("[DONE]")]
    return ScriptedResponse(body=body, delay=delay)


def words(text: str) -> list[str]:
    """Split text into word chunks that keep their following space (as a model's tokens would)."""
    parts = text.split(" ")
    return [w + " " for w in parts[:-1]] + [parts[-1]]


def is_title_request(request: RecordedRequest) -> bool:
    messages = (request.json or {}).get("messages") or []
    return bool(messages) and messages[0].get("content") == TITLE_PROMPT


def answer_requests(provider: ScriptedProvider) -> list[RecordedRequest]:
    """The provider requests that generated answers (not session titles)."""
    return [r for r in provider.requests if not is_title_request(r)]
