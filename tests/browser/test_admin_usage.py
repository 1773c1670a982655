"""Issue 17 in the browser: the admin view plots usage by user and model, its CSV download holds the same numbers,
a budget saved in the view is what the user sees remain, and over it the user gets the refusal in words."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page

from tests.support.browser import open_embedded_chat, send, wait_answer
from tests.support.faults import route_by_prompt
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.proxy_doubles import ProxiedAppFactory, ProxyDoubles
from tests.support.scripted_provider import ScriptedProvider, openai_stream

pytestmark = pytest.mark.browser


async def test_usage_plot_csv_and_budget(context: BrowserContext, page: Page, proxied_app: ProxiedAppFactory,
                                         proxies: ProxyDoubles, nextcloud: NextcloudDouble,
                                         scripted_provider: ScriptedProvider, artifacts: Path) -> None:
    # The page Nextcloud (the double) embeds, as an administrator; the budgets are saved in its app config.
    nextcloud.add_user("root", ["admin"])
    app = await proxied_app(STREAMING_API_URL=scripted_provider.chat_url, STREAMING_MODEL="test-model",
                            config_ttl=0.0)
    # Usage reported for everything (titles too) but the answer to the second question: that one is estimated.
    scripted_provider.always(openai_stream(["Hello", " there"]))
    route_by_prompt(scripted_provider, {"second question": openai_stream(["An answer", " without usage"],
                                                                          usage=False)})
    await open_embedded_chat(context, page, app, nextcloud, proxies, user="root")
    await send(page, "first question")
    await wait_answer(page)
    await send(page, "second question")
    await page.wait_for_function(
        "document.querySelectorAll('[data-test=message][data-role=assistant][data-status=done]').length >= 2")
    api = app.client("root")
    report = (await api.get("/admin/usage", params={"by": "user", "days": 30})).json()
    [series] = report["series"]
    total = series["prompt_tokens"] + series["completion_tokens"]

    await page.locator("[data-test=admin-view]").click()
    bars = page.locator("[data-test=usage-bar]")
    await bars.first.wait_for()
    assert await bars.count() == 1  # one user, one day
    assert int(await bars.first.get_attribute("data-tokens") or 0) == total
    assert await bars.first.get_attribute("data-day") == report["until"]
    assert float(await bars.first.get_attribute("height") or 0) > 100  # the tallest bar fills the plot
    row = page.locator("[data-test=usage-row]")
    assert await row.count() == 1 and "1 estimated" in await row.inner_text()
    await page.screenshot(path=str(artifacts / "admin-usage.png"), full_page=True)

    async with page.expect_download() as download_info:
        await page.locator("[data-test=usage-csv]").click()
    download = await download_info.value
    assert download.suggested_filename == "assistant-stream-usage-by-user.csv"
    rows = list(csv.DictReader(io.StringIO(Path(await download.path()).read_text(encoding="utf-8"))))
    assert [(r["day"], int(r["total_tokens"]), int(r["answers"]), r["estimated"]) for r in rows] == [
        (report["until"], total, series["answers"], "1")]

    await page.locator("[data-test=usage-by]").select_option("model")
    await page.locator("[data-test=usage-bar][data-series=test-model]").wait_for()

    # A budget set in the view: the user sees what remains, and is refused over it.
    await page.locator("[data-test=admin-tab-budgets]").click()
    await page.locator("[data-test=budget-add]").click()
    await page.locator("[data-test=budget-kind]").select_option("default")
    await page.locator("[data-test=budget-tokens]").fill(str(total))
    await page.locator("[data-test=budgets-save]").click()
    await page.locator("[data-test=budgets-result]").wait_for()
    await page.screenshot(path=str(artifacts / "admin-budgets.png"), full_page=True)
    await page.reload()
    note = page.locator("[data-test=budget-note]")
    await note.wait_for()
    assert "Your token budget is used up" in await note.inner_text()
    asked = len(scripted_provider.requests)
    await send(page, "third question")
    banner = page.locator("[data-code=budget_exceeded]")
    await banner.first.wait_for()
    assert "Your token budget is used up." in await banner.first.inner_text()
    assert len(scripted_provider.requests) == asked
