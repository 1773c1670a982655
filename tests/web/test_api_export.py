"""Export through the HTTP API: a download with a file name any browser keeps; saving to Files needs Nextcloud
(tests/nextcloud_real/test_versions_real.py saves into a real one)."""

from __future__ import annotations

import json
from urllib.parse import unquote

from tests.support.appserver import AppFactory, RunningApp
from tests.support.chat import new_chat, read_stream
from tests.support.scripted_provider import ScriptedProvider, openai_stream


async def test_download_markdown_and_json(chat_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    c = chat_app.client("alice")
    scripted_provider.script(openai_stream(["Ça va ", "très bien."]))
    sid, q = await new_chat(c, "Comment ça va ?")
    await read_stream(c, {"sessionId": sid, "messageId": q})
    r = await c.get("/chat/export", params={"sessionId": sid})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    assert r.headers["cache-control"] == "no-store"
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="Comment _a va ') and ".md\"; filename*=UTF-8''" in disposition
    assert unquote(disposition.split("UTF-8''")[1]).startswith("Comment ça va ")
    assert "Ça va très bien." in r.text and "### You" in r.text
    r = await c.get("/chat/export", params={"sessionId": sid, "format": "json"})
    doc = json.loads(r.content)
    assert r.headers["content-type"] == "application/json" and [m["role"] for m in doc["messages"]] == [
        "human", "assistant"]
    bad = await c.get("/chat/export", params={"sessionId": sid, "format": "pdf"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_parameter"
    assert (await chat_app.client("bob").get("/chat/export", params={"sessionId": sid})).status_code == 404


async def test_saving_to_files_needs_nextcloud(app_factory: AppFactory, scripted_provider: ScriptedProvider) -> None:
    local = await app_factory(LOCAL_MODE="1", NEXTCLOUD_URL="", STREAMING_API_URL=scripted_provider.chat_url)
    c = local.client("local")
    sid, _ = await new_chat(c)
    r = await c.post("/chat/export_to_files", json={"sessionId": sid, "format": "markdown"})
    assert r.status_code == 400 and r.json()["code"] == "not_configured"
    unreachable = await app_factory(STREAMING_API_URL=scripted_provider.chat_url)  # NEXTCLOUD_URL: nothing there
    c = unreachable.client("alice")
    sid, _ = await new_chat(c)
    r = await c.post("/chat/export_to_files", json={"sessionId": sid})
    assert r.status_code == 502 and r.json()["code"] == "nextcloud_error"
