"""The local page (web/local.py): `make run`'s single-user chat, its initial state in the page, no secret in it."""

from __future__ import annotations

import base64
import html
import json
import re

from tests.support.appserver import API_KEY, AppFactory


async def test_the_page_carries_the_config_the_frontend_loads(app_factory: AppFactory) -> None:
    app = await app_factory(LOCAL_MODE="1", NEXTCLOUD_URL="", STREAMING_API_URL="http://127.0.0.1:9/v1",
                            STREAMING_API_KEY=API_KEY)
    r = await app.anonymous().get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-cache" and API_KEY not in r.text
    encoded = re.search(r'id="initial-state-app_api-config" value="([^"]+)"', r.text)
    assert encoded is not None
    state = json.loads(base64.b64decode(html.unescape(encoded.group(1))))
    assert state["local"] is True and state["isAdmin"] is False and state["apiBase"] == ""
    assert state["delivery"]["mode"] == "direct" and state["engine"] == "stream"
    assert '<script type="module" src="js/assistant_stream-main.js">' in r.text
