"""Issue #6 in a real browser: the chat embedded in (a double of) Nextcloud, behind AppAPI's buffering proxy or HaRP.

The page is Nextcloud's embedded top-menu page (tests/proxy_doubles.py), logged in by cookie. Through the stock
proxy, which delivers a response only once it has ended, the answer must still grow on screen by long-poll; through
HaRP, which passes bytes on as they come, it must arrive by Server-Sent Events. Arrival times are recorded in the
browser with a MutationObserver and compared with the times the provider sent its chunks.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page

from tests.support.appserver import RunningApp
from tests.support.browser import STREAMING, content_of, open_embedded_chat, wait_answer
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.proxy_doubles import ProxiedAppFactory, ProxyDoubles
from tests.support.scripted_provider import ScriptedProvider, openai_stream

pytestmark = pytest.mark.browser

# Records every visible change of the streaming answer: (epoch ms, text, transport).
OBSERVER = """() => {
    window.__samples = [];
    let last = null;
    const record = () => {
        const body = document.querySelector('[data-test=streaming-message]');
        const content = body && body.querySelector('[data-test=message-content]');
        const text = content ? content.innerText.trim() : '';
        if (text && text !== last) {
            last = text;
            const transport = body.querySelector('[data-test=transport]');
            window.__samples.push({t: performance.timeOrigin + performance.now(), text,
                                   transport: transport && transport.getAttribute('data-transport')});
        }
    };
    window.__observer = new MutationObserver(record);
    window.__observer.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


async def embedded_chat(context: BrowserContext, page: Page, app: RunningApp, nextcloud: NextcloudDouble,
                        proxies: ProxyDoubles, user: str = "alice") -> None:
    """The Chat page embedded in the Nextcloud double (open_embedded_chat), recording the answer's changes."""
    await open_embedded_chat(context, page, app, nextcloud, proxies, user)
    await page.evaluate(OBSERVER)


def chunk_times(provider: ScriptedProvider, n: int, delay: float) -> list[float]:
    """Epoch seconds at which the provider sent its ``n`` text chunks (no earlier than this: sleeps only overrun)."""
    offset = time.time() - time.monotonic()
    started = provider.exchanges[0].started + offset
    # The role chunk goes out at once, then every piece `delay` after the previous one.
    return [started + delay * (i + 1) for i in range(n)]


def lag_per_chunk(samples: list[dict[str, Any]], chunks: list[str], sent: list[float]) -> list[float]:
    """For every chunk: seconds from the provider sending it to the browser first showing it."""
    lags = []
    for i, at in enumerate(sent):
        prefix = "".join(chunks[: i + 1]).strip()
        shown = next((s["t"] / 1000 for s in samples if len(s["text"]) >= len(prefix)), None)
        assert shown is not None, f"chunk {i} ({chunks[i]!r}) was never shown while streaming"
        lags.append(shown - at)
    return lags


async def test_buffering_proxy_still_shows_the_answer_growing(
        context: BrowserContext, page: Page, proxied_app: ProxiedAppFactory, proxies: ProxyDoubles,
        nextcloud: NextcloudDouble, scripted_provider: ScriptedProvider, artifacts: Path) -> None:
    chunks = [f"word{i} " for i in range(39)] + ["end."]
    delay = 0.25  # a 10 s answer
    scripted_provider.script(openai_stream(chunks, delay=delay), openai_stream(["Words"]))
    app = await proxied_app(STREAMING_API_URL=scripted_provider.chat_url, STREAMING_MODEL="test-model")
    proxies.delay = 0.095  # what one request through the real stock proxy costs (measured)
    await embedded_chat(context, page, app, nextcloud, proxies)
    box = page.locator("[data-test=chat-input]")
    await box.fill("Count for me")
    await box.press("Enter")

    await page.locator(f"{STREAMING}[data-stream-status=streaming]").wait_for()
    transport = page.locator(f"{STREAMING} [data-test=transport]")
    assert await transport.get_attribute("data-transport") == "poll"
    await page.screenshot(path=str(artifacts / "delivery-buffering-proxy.png"))
    answer = await wait_answer(page, timeout=30_000)
    samples = await page.evaluate("() => { window.__observer.disconnect(); return window.__samples }")
    final = await content_of(answer)
    assert final == "".join(chunks).strip()
    assert await answer.get_attribute("data-transport") == "poll"
    assert {s["transport"] for s in samples} == {"poll"}

    # Nothing came over an SSE connection: the page used the long-poll only, through the stock proxy.
    assert proxies.forwarded_to("/chat/stream") == []
    assert proxies.forwarded_to("/chat/poll", "appapi")
    sent = chunk_times(scripted_provider, len(chunks), delay)
    first_seen = samples[0]["t"] / 1000
    assert first_seen - sent[0] < 1.0, f"first text {first_seen - sent[0]:.2f} s after the provider's first token"
    assert len(samples) >= 5, f"the text grew in only {len(samples)} visible steps"
    for s in samples:
        assert final.startswith(s["text"])
    lags = lag_per_chunk(samples, chunks, sent)
    assert max(lags) < 1.5, f"a chunk took {max(lags):.2f} s to show (lags {lags})"
    # Spread over the answer, not bunched at the end.
    assert samples[-1]["t"] / 1000 - first_seen > delay * len(chunks) * 0.7


async def test_harp_streams_the_answer_by_sse(
        context: BrowserContext, page: Page, proxied_app: ProxiedAppFactory, proxies: ProxyDoubles,
        nextcloud: NextcloudDouble, scripted_provider: ScriptedProvider) -> None:
    chunks = [f"token{i} " for i in range(19)] + ["done."]
    delay = 0.1
    scripted_provider.script(openai_stream(chunks, delay=delay), openai_stream(["Tokens"]))
    app = await proxied_app(HP_SHARED_KEY="harp-shared-key", STREAMING_API_URL=scripted_provider.chat_url,
                            STREAMING_MODEL="test-model")
    proxies.delay = 0.095
    await embedded_chat(context, page, app, nextcloud, proxies)
    box = page.locator("[data-test=chat-input]")
    await box.fill("Count for me")
    await box.press("Enter")

    answer = await wait_answer(page)
    samples = await page.evaluate("() => { window.__observer.disconnect(); return window.__samples }")
    final = await content_of(answer)
    assert final == "".join(chunks).strip()
    assert await answer.get_attribute("data-transport") == "sse"
    assert {s["transport"] for s in samples} == {"sse"}
    assert proxies.forwarded_to("/chat/stream", "harp")
    # The answer never used the stock proxy (the title, generated after it, may be polled there).
    assert [f for f in proxies.forwarded_to("/chat/poll", "appapi") if "title=" not in f.query] == []
    assert proxies.forwarded_to("/chat/stream", "appapi") == []
    sent = chunk_times(scripted_provider, len(chunks), delay)
    assert len(samples) >= 8, f"the text grew in only {len(samples)} visible steps"
    assert samples[0]["t"] / 1000 - sent[0] < 1.0
    lags = lag_per_chunk(samples, chunks, sent)
    assert max(lags) < 1.0, f"a chunk took {max(lags):.2f} s to show (lags {lags})"
