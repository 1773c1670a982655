"""Issue #5: Markdown renders, model-written HTML stays inert text; reasoning, truncation and speed are shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page

from tests.support.appserver import RunningApp
from tests.support.browser import (
    STREAMING,
    content_of,
    open_chat,
    send,
    stream_with,
    wait_answer,
)
from tests.support.scripted_provider import ScriptedProvider, chat_chunk, openai_stream, sse

pytestmark = pytest.mark.browser

IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=1</script>"
MARKDOWN = [
    "Here is a **comparison**:\n\n",
    "| City | Museum |\n", "|---|---|\n", "| Paris | Louvre |\n", "| Madrid | Prado |\n\n",
    "```python\n", "print('hello')\n", "```\n\n",
    f"Careful: {IMG} and ", f"{SCRIPT} are just text.\n\n",
    "![tracker](http://127.0.0.1:9/pixel.png) [docs](https://example.com/docs)",
]


async def test_markdown_renders_and_html_stays_inert(page: Page, local_app: RunningApp,
                                                     scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(MARKDOWN, delay=0.05))
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    await open_chat(page, local_app.url)
    await send(page, f"Compare museums {IMG}")

    answer = await wait_answer(page)
    content = answer.locator("[data-test=message-content]")
    assert await content.locator("table th").all_inner_texts() == ["City", "Museum"]
    assert await content.locator("table td").all_inner_texts() == ["Paris", "Louvre", "Madrid", "Prado"]
    assert await content.locator("pre code").inner_text() == "print('hello')\n"
    assert await content.locator("strong").inner_text() == "comparison"
    link = content.locator("a", has_text="docs")
    assert await link.get_attribute("href") == "https://example.com/docs"
    assert await link.get_attribute("target") == "_blank"
    assert "noopener" in (await link.get_attribute("rel") or "")

    # Model-written HTML is shown as text, never as elements; Markdown images are not loaded.
    text = await content.inner_text()
    assert IMG in text and SCRIPT in text
    assert await page.locator("main img, main script").count() == 0
    await page.wait_for_timeout(300)  # room for an onerror handler to have fired
    assert await page.evaluate("() => window.__xss") is None
    assert not [u for u in requested if "pixel.png" in u or u.endswith("/x")]
    # The user's own message is plain text too.
    human = page.locator("[data-test=message][data-role=human] [data-test=message-content]")
    assert await human.inner_text() == f"Compare museums {IMG}"


async def test_reasoning_truncation_and_speed(page: Page, local_app: RunningApp,
                                              scripted_provider: ScriptedProvider, artifacts: Path) -> None:
    reasoning = ["The user ", "wants a ", "short list ", "of museums."]
    answer = ["Louvre, ", "Orsay, ", "Orangerie, ", "Rodin, ", "Picasso"]
    pieces = [chat_chunk(reasoning_content=r) for r in reasoning]
    pieces += [chat_chunk(a) for a in answer]
    pieces.append(chat_chunk(finish_reason="length"))
    usage = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1700000000, "model": "test-model",
             "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}}
    scripted_provider.always(stream_with(pieces, delay=0.6, tail=[sse(usage), sse("[DONE]")]))
    await open_chat(page, local_app.url)
    await send(page, "Name five museums")

    # While the model reasons: "Thinking… N s", counting, folded, apart from the answer; no "waiting" line.
    live = page.locator(f"{STREAMING} [data-test=reasoning]")
    await live.wait_for()
    assert await live.evaluate("d => d.tagName === 'DETAILS' && !d.open")
    summary = live.locator("[data-test=reasoning-summary]")
    await page.wait_for_function(
        "el => /^Thinking… [1-9]\\d* s$/.test(el.textContent.trim())", arg=await summary.element_handle())
    assert await page.locator(f"{STREAMING} [data-test=waiting]").count() == 0
    await summary.click()  # the reader opens it: it must stay open
    assert await live.evaluate("d => d.open")

    done = await wait_answer(page)
    await page.screenshot(path=str(artifacts / "reasoning-truncated.png"))
    details = done.locator("[data-test=reasoning]")
    assert await details.evaluate("d => d.tagName === 'DETAILS' && d.open")
    said = (await details.locator("summary").inner_text()).strip()
    assert said.startswith("Thought for ") and said.endswith(" s") and int(said.split()[2]) >= 1, said
    assert await details.locator(".as-reasoning__text").inner_text() == "".join(reasoning)
    assert await content_of(done) == "".join(answer)
    assert "wants" not in await content_of(done)
    assert await done.locator("[data-test=model]").inner_text() == "test-model"
    assert "Live" not in await done.inner_text()

    assert await done.locator("[data-test=badge-truncated]").inner_text() == "Truncated"
    tps = await done.locator("[data-test=tokens-per-second]").inner_text()
    assert "tokens/s" in tps and float(tps.split()[0].replace(",", "")) > 0
    assert "20" in await done.locator("[data-test=usage]").inner_text()

    # After a reload: folded again (a new visit), the same "Thought for N s", the model still named.
    await page.reload()
    again = await wait_answer(page)
    assert (await again.locator("[data-test=reasoning] summary").inner_text()).strip() == said
    assert await again.locator("[data-test=model]").inner_text() == "test-model"
