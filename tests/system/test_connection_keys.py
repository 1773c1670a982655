"""The keys of the admin's connections never leave either: set through the admin routes, used for answers, test
and "fetch models" against providers that echo them, and searched for in every response, event and log line."""

from __future__ import annotations

import json
import logging
import urllib.parse

import httpx
import pytest

from tests.support.appserver import AppFactory
from tests.support.chat import new_chat, read_stream
from tests.support.faults import route_by_prompt
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.scripted_provider import ScriptedProvider, error_response, openai_stream

LAB_KEY = "sk-lab-LEAKCANARY-0b8d6f4e2c0a9e7d5b3f1a8c6e4d2b0f"


def forms(secret: str) -> list[str]:
    return [secret, urllib.parse.quote(secret, safe=""), json.dumps(secret)[1:-1], secret[7:40]]


async def test_connection_keys_never_leave_the_app(app_factory: AppFactory, nextcloud: NextcloudDouble,
                                                   scripted_provider: ScriptedProvider,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    nextcloud.add_user("root", ["admin"])
    nextcloud.add_user("alice")
    echo = error_response(401, {"error": {"message": f"Incorrect API key provided: {LAB_KEY}."}})
    route_by_prompt(scripted_provider, {"echo": echo, "Say OK": echo, "fine": openai_stream(["a fine answer"])})
    scripted_provider.on("GET", "/v1/models", error_response(403, f"<html>no models for {LAB_KEY}</html>",
                                                              content_type="text/html"))
    app = await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret, config_ttl=0)
    root, alice = app.client("root"), app.client("alice")
    seen: list[tuple[str, str]] = []

    def keep(r: httpx.Response, body: str | None = None) -> httpx.Response:
        seen.append((f"{r.request.method} {r.request.url.path} {r.status_code}",
                     "\n".join(f"{k}: {v}" for k, v in r.headers.items()) + (body or r.text)))
        return r

    lab = {"id": "lab", "name": "Lab", "url": scripted_provider.base_url, "models": ["llama"], "apiKey": LAB_KEY}
    assert keep(await root.put("/admin/connections", json={"connections": [lab]})).status_code == 200
    keep(await root.get("/admin/connections"))
    keep(await root.get("/admin/status"))
    assert keep(await root.post("/admin/fetch_models", json={"connectionId": "lab"})).status_code == 502
    assert keep(await root.post("/admin/test_connection", json={"connectionId": "lab"})).json()["ok"] is False
    for text in ("fine question", "echo question"):
        sid, mid = await new_chat(alice, text)
        events = await read_stream(alice, {"sessionId": sid, "messageId": mid})
        seen.append(("stream", json.dumps([e for _i, e in events])))
        keep(await alice.get("/chat/messages", params={"sessionId": sid}))
        keep(await alice.get("/chat/export", params={"sessionId": sid, "format": "json"}))
    keep(await alice.get("/chat/models"))
    keep(await alice.get("/chat/config"))
    seen.append(("log", caplog.text))

    used = [r for r in scripted_provider.requests if r.headers.get("authorization") == f"Bearer {LAB_KEY}"]
    assert len(used) >= 4  # the key went where it belongs: models, the test, both answers
    assert nextcloud.appconfig_sensitive("connection_lab_api_key")
    leaks = [f"{form[:10]}... in {where}" for where, text in seen for form in forms(LAB_KEY) if form in text]
    assert not leaks, leaks
