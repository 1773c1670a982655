"""Issue #13: code blocks are highlighted with a language label and a Copy button, math is typeset by KaTeX,
headings differ in size, tables scroll sideways on a phone. KaTeX and the less common highlight.js languages
are extras loaded on demand, from the folder the main script came from: the local page and AppAPI's proxy
(under Nextcloud's Content-Security-Policy) alike.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page

from tests.support.appserver import RunningApp
from tests.support.browser import open_chat, open_embedded_chat, send, wait_answer
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.proxy_doubles import ProxiedAppFactory, ProxyDoubles
from tests.support.scripted_provider import ScriptedProvider, openai_stream

pytestmark = pytest.mark.browser

PYTHON = "def greet(name):\n    return f\"Hello {name}\"  # friendly\n"
HASKELL = "module Main where\nmain = putStrLn \"hi\"\n"
ANSWER = [
    "# Summary\n\n", "## Details\n\n",
    "It costs $5 and $6 in total, and ", "Einstein wrote $E=mc^2$.\n\n",
    "$$\n\\int_0^1 x^2\\,dx = \\frac{1}{3}\n$$\n\n",
    "```python\n", PYTHON, "```\n\n",
    "```haskell\n", HASKELL, "```\n",
]
EXTRAS = ("assistant_stream-katex.js", "assistant_stream-katex.css", "assistant_stream-hl-index.js",
          "assistant_stream-hl-haskell.js")


async def test_code_math_and_headings(context: BrowserContext, page: Page, local_app: RunningApp,
                                      scripted_provider: ScriptedProvider, artifacts: Path) -> None:
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=local_app.url.rstrip("/"))
    scripted_provider.always(openai_stream(ANSWER, delay=0.02))
    responses: dict[str, int] = {}
    page.on("response", lambda r: responses.__setitem__(r.url.split("?")[0].rsplit("/", 1)[-1], r.status))
    await open_chat(page, local_app.url)
    assert not [name for name in responses if "katex" in name or "-hl-" in name], "extras loaded before needed"
    await send(page, "Explain")
    answer = await wait_answer(page)
    content = answer.locator("[data-test=message-content]")

    # Code: a common language is highlighted at once, with its label and a Copy button that copies the code.
    python = content.locator("[data-test=code-block][data-lang=python]")
    assert await python.locator("[data-test=code-lang]").inner_text() == "python"
    assert await python.locator(".hljs-keyword").first.inner_text() == "def"
    assert await python.locator(".hljs-comment").inner_text() == "# friendly"
    await python.locator("[data-test=copy-code]").click()
    await python.locator("[data-test=copy-code][data-copied=true]").wait_for()
    assert await page.evaluate("() => navigator.clipboard.readText()") == PYTHON

    # A language outside the main bundle arrives as an extra and is highlighted then.
    haskell = content.locator("[data-test=code-block][data-lang=haskell]")
    await haskell.locator(".hljs-keyword", has_text="module").wait_for()
    assert await haskell.locator("code").inner_text() == HASKELL

    # Math: KaTeX, inline and as a block; money stays text.
    inline = content.locator("span[data-test=math]")
    await inline.locator(".katex").wait_for()
    assert await inline.locator("annotation").text_content() == "E=mc^2"
    block = content.locator("div[data-test=math]")
    assert await block.locator(".katex-display").count() == 1
    assert await content.locator("[data-test=math-pending]").count() == 0
    assert "It costs $5 and $6 in total" in await content.inner_text()
    await page.wait_for_function("() => document.fonts.check('16px KaTeX_Main')")

    # Every extra came from js/ next to the main script, and worked.
    for name in EXTRAS:
        assert responses.get(name) == 200, f"{name}: {responses.get(name)}"
    assert any(n.startswith("assistant_stream-katex-KaTeX_") and n.endswith(".woff2") and s == 200
               for n, s in responses.items())

    # Headings: each level smaller than the one above.
    sizes = await content.evaluate("""el => ['h1', 'h2'].map(h =>
        parseFloat(getComputedStyle(el.querySelector(h)).fontSize))""")
    assert sizes[0] > sizes[1] * 1.1 and sizes[1] > 15 * 1.2, sizes
    await page.screenshot(path=str(artifacts / "code-math.png"), full_page=True)


async def test_extras_load_through_the_appapi_proxy_under_nextcloud_csp(
        context: BrowserContext, page: Page, proxied_app: ProxiedAppFactory, proxies: ProxyDoubles,
        nextcloud: NextcloudDouble, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.script(openai_stream(ANSWER), openai_stream(["Maths"]))
    app = await proxied_app(STREAMING_API_URL=scripted_provider.chat_url, STREAMING_MODEL="test-model")
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    await open_embedded_chat(context, page, app, nextcloud, proxies)
    box = page.locator("[data-test=chat-input]")
    await box.fill("Explain")
    await box.press("Enter")
    answer = await wait_answer(page, timeout=20_000)
    await answer.locator("span[data-test=math] .katex").wait_for()
    await answer.locator("[data-lang=haskell] .hljs-keyword", has_text="module").wait_for()
    await page.wait_for_function("() => document.fonts.check('16px KaTeX_Main')")
    loaded = {f.path for f in proxies.forwarded_to("js/assistant_stream-", "appapi")}
    assert {f"/js/{name}" for name in EXTRAS} <= loaded, loaded
    assert violations == []


async def test_phone_tables_scroll_sideways_without_breaking_words(
        phone_page: Page, local_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    page = phone_page
    header = "| Country | Capital | Population | Official languages | Internationalisation |\n|---|---|---|---|---|\n"
    rows = "".join(f"| Deutschland{i} | Berlin | 83,000,000 | German | Internationalisation |\n" for i in range(3))
    scripted_provider.always(openai_stream([header, rows]))
    await open_chat(page, local_app.url)
    await send(page, "A table")
    answer = await wait_answer(page)
    wrapper = answer.locator(".as-md-table")
    assert await wrapper.evaluate("el => el.scrollWidth > el.clientWidth + 20"), "the table does not scroll"
    # No word in a cell is broken over two lines.
    broken = await wrapper.evaluate("""el => [...el.querySelectorAll('td, th')].filter(cell => {
        const range = document.createRange();
        range.selectNodeContents(cell);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        return !cell.textContent.includes(' ') && lines.size > 1;
    }).map(c => c.textContent)""")
    assert broken == []
    assert await page.evaluate("() => document.documentElement.scrollWidth <= 390")
