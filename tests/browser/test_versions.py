"""Issue 14 in the browser: versions (edit, regenerate, arrows), model choice, presets, Continue, export, and the
admin view's connections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Locator, Page

from tests.support.appserver import RunningApp
from tests.support.browser import (
    ANSWER,
    HUMAN,
    INPUT,
    answer_requests,
    content_of,
    is_title_request,
    open_chat,
    open_embedded_chat,
    send,
    wait_answer,
)
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.proxy_doubles import ProxiedAppFactory, ProxyDoubles
from tests.support.scripted_provider import ScriptedProvider, ScriptedResponse, openai_stream

pytestmark = pytest.mark.browser

EDITOR = "[data-test=edit-input]"


async def last(page: Page, selector: str) -> Locator:
    loc = page.locator(selector).last
    await loc.wait_for()
    return loc


async def versions_of(message: Locator) -> str:
    return (await message.locator("[data-test=version-count]").inner_text()).strip()


async def shown(page: Page) -> list[str]:
    return [t.strip() for t in await page.locator(
        "[data-test=message]:not(.as-message--streaming) [data-test=message-content]").all_inner_texts()]


async def test_edit_regenerate_and_arrows(page: Page, local_app: RunningApp, scripted_provider: ScriptedProvider,
                                          artifacts: Path) -> None:
    scripted_provider.script(openai_stream(["A one"]), openai_stream(["A title"]), openai_stream(["A two"]),
                             openai_stream(["B one"]))
    await open_chat(page, local_app.url)
    await send(page, "Q one")
    assert await content_of(await wait_answer(page)) == "A one"
    await page.locator("[data-test=session-title]", has_text="A title").wait_for()

    # Regenerate: a second version next to the first, with arrows.
    await (await last(page, ANSWER)).locator("[data-test=regenerate]").click()
    await page.locator(f"{ANSWER} [data-test=version-count]", has_text="2/2").wait_for()
    assert await shown(page) == ["Q one", "A two"]
    await (await last(page, ANSWER)).locator("[data-test=version-previous]").click()
    await page.locator(f"{ANSWER} [data-test=version-count]", has_text="1/2").wait_for()
    assert await shown(page) == ["Q one", "A one"]

    # Edit the question: a new branch, answered; the question has two versions now.
    question = await last(page, HUMAN)
    await question.hover()
    await question.locator("[data-test=edit-message]").click()
    await page.locator(EDITOR).fill("Q two")
    await page.locator("[data-test=edit-save]").click()
    await page.locator(f"{ANSWER} [data-test=message-content]", has_text="B one").wait_for()
    assert await shown(page) == ["Q two", "B one"]
    assert await versions_of(await last(page, HUMAN)) == "2/2"
    assert [r.json["messages"][-1]["content"] for r in answer_requests(scripted_provider)][-1] == "Q two"
    assert [m["content"] for m in answer_requests(scripted_provider)[-1].json["messages"][1:]] == ["Q two"]
    await page.screenshot(path=str(artifacts / "versions-edited.png"))

    # Back to the first question: its branch comes back as it was last shown (the first answer).
    await (await last(page, HUMAN)).locator("[data-test=version-previous]").click()
    await page.locator(f"{HUMAN} [data-test=version-count]", has_text="1/2").wait_for()
    await page.wait_for_function("() => document.querySelectorAll('[data-role=assistant]').length === 1")
    assert await shown(page) == ["Q one", "A one"]
    # The branch shown is stored: a reload shows the same one.
    await page.reload()
    await page.locator(f"{HUMAN} [data-test=version-count]", has_text="1/2").wait_for()
    assert await shown(page) == ["Q one", "A one"]
    assert await versions_of(await last(page, ANSWER)) == "1/2"
    await page.screenshot(path=str(artifacts / "versions-arrows.png"))


@pytest.fixture
async def two_connections(app_factory, scripted_provider: ScriptedProvider) -> RunningApp:  # type: ignore[no-untyped-def]
    other = [{"id": "other", "name": "Other provider", "url": scripted_provider.base_url, "models": ["other-model"]}]
    return await app_factory(LOCAL_MODE="1", NEXTCLOUD_URL="", STREAMING_API_URL=scripted_provider.chat_url,
                             STREAMING_MODEL="test-model", STREAMING_MODELS="second-model",
                             CONNECTIONS=json.dumps(other))


async def test_model_choice_presets_and_continue(page: Page, two_connections: RunningApp,
                                                 scripted_provider: ScriptedProvider, artifacts: Path) -> None:
    scripted_provider.script(openai_stream(["Cut ", "off"], finish="length"), openai_stream(["Title"]),
                             openai_stream([" and done."]), openai_stream(["Brief."]))
    await open_chat(page, two_connections.url)
    picker = page.locator("[data-test=model-picker]")
    groups = await picker.locator("optgroup").evaluate_all("els => els.map(g => g.label)")
    assert groups == ["Default", "Other provider"]
    await picker.select_option(label="other-model")
    await page.locator("[data-test=session-item][data-active=true]").wait_for()  # choosing opened a conversation
    await send(page, "Write a lot")
    answer = await wait_answer(page)
    assert json.loads(scripted_provider.requests[0].body)["model"] == "other-model"

    # Cut off by the length limit: Continue appends to the same answer.
    await answer.locator("[data-test=continue]").click()
    await page.locator(f"{ANSWER} [data-test=message-content]", has_text="Cut off and done.").wait_for()
    assert await page.locator(ANSWER).count() == 1
    continued = answer_requests(scripted_provider)[-1].json
    assert continued["model"] == "other-model" and continued["messages"][-1] == {"role": "assistant",
                                                                                 "content": "Cut off"}

    # Settings: a system prompt and a temperature for this conversation, then saved as the user's preset.
    await page.locator("[data-test=conversation-settings]").click()
    await page.locator("[data-test=system-prompt]").fill("Answer in one word.")
    await page.locator("[data-test=temperature]").fill("0.3")
    await page.locator("[data-test=preset-name]").fill("One word")
    await page.locator("[data-test=save-preset]").click()
    await page.locator("[data-test=delete-preset]").wait_for()
    await page.screenshot(path=str(artifacts / "versions-settings.png"))
    await page.locator("[data-test=settings-apply]").click()
    await page.locator("[data-test=settings-dialog]").wait_for(state="detached")
    await send(page, "And now?")
    await page.locator(f"{ANSWER} [data-test=message-content]", has_text="Brief.").wait_for()
    body = answer_requests(scripted_provider)[-1].json
    assert body["messages"][0] == {"role": "system", "content": "Answer in one word."}
    assert body["temperature"] == 0.3 and body["model"] == "other-model"
    presets = (await two_connections.client("local").get("/chat/presets")).json()
    assert [p["name"] for p in presets["own"]] == ["One word"]

    # Export: the Markdown download holds the conversation as shown.
    await page.locator("[data-test=export-menu] button").first.click()
    async with page.expect_download() as info:
        await page.locator("[data-test=export-markdown]").click()
    download = await info.value
    text = Path(await download.path()).read_text(encoding="utf-8")
    assert download.suggested_filename.endswith(".md") and "Cut off and done." in text and "And now?" in text
    await page.screenshot(path=str(artifacts / "versions-model-picker.png"))


async def test_admin_view_connections(context: BrowserContext, page: Page, proxied_app: ProxiedAppFactory,
                                      proxies: ProxyDoubles, nextcloud: NextcloudDouble,
                                      scripted_provider: ScriptedProvider, artifacts: Path) -> None:
    # A Nextcloud administrator, in the page Nextcloud embeds (admin routes are never the local user's).
    nextcloud.add_user("root", ["admin"])
    app = await proxied_app(STREAMING_API_URL=scripted_provider.chat_url, STREAMING_MODEL="test-model", config_ttl=0)
    scripted_provider.on("GET", "/v1/models", ScriptedResponse(
        body=[json.dumps({"object": "list", "data": [{"id": "zeta"}, {"id": "alpha"}]})],
        headers={"Content-Type": "application/json"}, framing="length"))
    # The double's embedded page lacks Nextcloud's fixed-height layout, so its content area cannot scroll to the
    # form's end (the real page can): a window tall enough for the whole form.
    await page.set_viewport_size({"width": 1280, "height": 1800})
    await open_embedded_chat(context, page, app, nextcloud, proxies, user="root")
    await page.locator("[data-test=admin-view]").click()
    await page.locator("[data-test=admin-tab-connections]").click()  # beside usage, activity, budgets, audit
    await page.locator("[data-test=connections-tab]").wait_for()
    await page.locator("[data-test=add-connection]").click()
    card = page.locator("[data-test=connection]").last
    await card.locator("[data-test=connection-id]").fill("lab")
    await card.locator("[data-test=connection-name]").fill("Lab server")
    await card.locator("[data-test=connection-url]").fill(scripted_provider.base_url)
    await card.locator("[data-test=connection-key]").fill("sk-lab-secret-123456")
    await card.locator("[data-test=fetch-models]").click()
    await card.locator("[data-test=fetched-models] label", has_text="alpha").click()
    await page.screenshot(path=str(artifacts / "admin-connections.png"))
    await page.locator("[data-test=save-connections]").click()
    await page.locator("[data-test=connections-result]", has_text="Saved").wait_for()
    assert scripted_provider.requests[-1].headers["authorization"] == "Bearer sk-lab-secret-123456"

    # The key is never shown back; users see the new model, grouped under the connection's name.
    saved = page.locator("[data-test=connection][data-connection=lab]")
    assert await saved.locator("[data-test=connection-key]").input_value() == ""
    assert "sk-lab" not in await page.content()
    scripted_provider.always(openai_stream(["OK"]))
    await saved.locator("[data-test=test-connection]").click()
    result = saved.locator("[data-test=test-result]")
    await result.wait_for()
    assert "model 'alpha' exists" in await result.inner_text() and "streaming works" in await result.inner_text()
    assert scripted_provider.requests[-1].json["model"] == "alpha"
    await page.locator("[data-test=admin-close]").click()
    await page.locator(INPUT).wait_for()
    groups = await page.locator("[data-test=model-picker] optgroup").evaluate_all("els => els.map(g => g.label)")
    assert groups == ["Default", "Lab server"]
    models = (await app.client("root").get("/chat/models")).json()
    assert models["connections"][1] == {"id": "lab", "name": "Lab server", "models": ["alpha"]}


async def test_three_branches_survive_a_restart_and_streaming_resumes_on_the_active_one(
        page: Page, app_factory, scripted_provider: ScriptedProvider, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    queue = scripted_provider._next

    def titles_aside(request):  # type: ignore[no-untyped-def]
        return openai_stream(["Title"]) if is_title_request(request) else queue(request)

    scripted_provider._next = titles_aside  # type: ignore[method-assign]
    scripted_provider.script(openai_stream(["A one"]), openai_stream(["A two"]), openai_stream(["A three"]),
                             openai_stream([f"w{i} " for i in range(400)], delay=0.03), openai_stream([" resumed."]))
    env = {"LOCAL_MODE": "1", "NEXTCLOUD_URL": "", "STREAMING_API_URL": scripted_provider.chat_url,
           "STREAMING_MODEL": "test-model", "shutdown_grace": 0.2}
    first = await app_factory(**env)
    await open_chat(page, first.url)
    await send(page, "Q one")
    await wait_answer(page)
    for count in ("2/2", "3/3"):
        await (await last(page, ANSWER)).locator("[data-test=regenerate]").click()
        await page.locator(f"{ANSWER} [data-test=version-count]", has_text=count).wait_for()
    await (await last(page, ANSWER)).locator("[data-test=version-previous]").click()
    await page.locator(f"{ANSWER} [data-test=version-count]", has_text="2/3").wait_for()
    await send(page, "Q two")
    await page.locator("[data-test=streaming-message] [data-test=message-content]", has_text="w20").wait_for()
    await first.stop()  # the server goes away in the middle of the answer

    second = await app_factory(**env)  # the same data, a new process
    await open_chat(page, second.url)
    interrupted = await wait_answer(page, "interrupted")
    assert await shown(page) == ["Q one", "A two", "Q two", (await content_of(interrupted)).strip()]
    assert await versions_of(page.locator(ANSWER).first) == "2/3"
    await page.screenshot(path=str(artifacts / "versions-after-restart.png"))
    partial = (await content_of(interrupted)).strip()
    await interrupted.locator("[data-test=continue]").click()
    await page.locator(f"{ANSWER}[data-status=done] [data-test=message-content]", has_text="resumed.").wait_for()
    assert (await shown(page))[-1] == partial + " resumed."
    sent = [m["content"] for m in answer_requests(scripted_provider)[-1].json["messages"][1:]]
    assert sent[:3] == ["Q one", "A two", "Q two"] and sent[3].startswith("w0 w1")
