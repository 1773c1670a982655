"""The doubles (tests/support/nextcloud_double.py, tests/support/proxy_doubles.py) and the real Nextcloud agree
where both can be observed: each check runs the same requests against both and compares what came back.

The doubles stay for what the real Nextcloud cannot show here (faults, HaRP, a slow proxy); these checks keep them
honest about the rest.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.appserver import RunningApp, appapi_headers
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.nextcloud_real.client import EMBEDDED, FORM_VALUE_SENSITIVE, FORMS, NAVIGATION, OCS_HEADERS, PROXY
from tests.support.nextcloud_real.plugin import RealStack
from tests.support.proxy_doubles import ProxiedAppFactory, ProxyDoubles

NAV_KEYS = ("id", "type", "app", "href", "icon", "name")


@dataclass
class Side:
    """One Nextcloud, real or double, as a browser of ``alice`` and of the admin sees it."""

    name: str
    alice: httpx.AsyncClient
    admin: httpx.AsyncClient
    appapi: httpx.AsyncClient  # the ExApp's own calls into Nextcloud (AppAPI headers)
    app: RunningApp | None = None


@pytest.fixture
async def sides(real_nc: RealStack, proxied_app: ProxiedAppFactory, proxies: ProxyDoubles,
                nextcloud: NextcloudDouble) -> AsyncIterator[dict[str, Side]]:
    app = await proxied_app()
    enable = await app.client("").put("/enabled", params={"enabled": 1})
    assert enable.json() == {"error": ""}
    await real_nc.settled()
    clients = [
        httpx.AsyncClient(base_url=proxies.base_url, cookies=proxies.login("alice"), timeout=30, trust_env=False),
        httpx.AsyncClient(base_url=proxies.base_url, cookies=proxies.login("admin"), timeout=30, trust_env=False),
        httpx.AsyncClient(base_url=nextcloud.url, headers=nextcloud.auth_headers(""), timeout=30, trust_env=False),
        httpx.AsyncClient(base_url=real_nc.url, timeout=30, trust_env=False,
                          headers={**appapi_headers("", real_nc.app.secret), "AA-VERSION": real_nc.nc.version}),
    ]
    try:
        yield {
            "double": Side("double", clients[0], clients[1], clients[2], app),
            "real": Side("real", real_nc.as_user("alice"), real_nc.as_admin, clients[3]),
        }
    finally:
        for c in clients:
            await c.aclose()


async def both(sides: dict[str, Side], check: Any) -> dict[str, Any]:
    return {name: await check(side) for name, side in sides.items()}


async def test_patch_is_refused_by_the_proxy(sides: dict[str, Side]) -> None:
    async def check(side: Side) -> tuple[int, str, bytes]:
        r = await side.alice.patch(f"{PROXY}/chat/update_session", json={"sessionId": 1, "title": "x"})
        return r.status_code, r.headers.get("content-type", "").split(";")[0], r.content

    seen = await both(sides, check)
    assert seen["double"] == seen["real"] == (405, "text/html", b"")


async def test_a_route_the_user_may_not_use_is_404(sides: dict[str, Side]) -> None:
    async def check(side: Side) -> tuple[int, str, int]:
        r = await side.alice.get(f"{PROXY}/admin/status")
        admin = await side.admin.get(f"{PROXY}/admin/status")
        return r.status_code, r.headers.get("content-type", "").split(";")[0], admin.status_code

    seen = await both(sides, check)
    assert seen["double"] == seen["real"] == (404, "text/html", 200)


async def test_cache_control_the_proxy_adds(sides: dict[str, Side]) -> None:
    async def check(side: Side) -> tuple[str | None, str | None]:
        script = await side.alice.get(f"{PROXY}/js/assistant_stream-main.js")  # the app sets none
        data = await side.alice.get(f"{PROXY}/chat/sessions")  # the app sets no-cache
        return script.headers.get("cache-control"), data.headers.get("cache-control")

    seen = await both(sides, check)
    assert seen["double"] == seen["real"] == ("private, max-age=3600, must-revalidate", "no-cache")


async def test_navigation_entry(sides: dict[str, Side]) -> None:
    async def check(side: Side) -> list[dict[str, Any]]:
        r = await side.alice.get(NAVIGATION, params={"format": "json"}, headers=OCS_HEADERS)
        entries = r.json()["ocs"]["data"]
        return [{k: e.get(k) for k in NAV_KEYS} for e in entries if e.get("id") == "app_api_assistant_stream_chat"]

    seen = await both(sides, check)
    assert seen["double"] == seen["real"]
    assert seen["real"] == [{"id": "app_api_assistant_stream_chat", "type": "link", "app": "app_api",
                             "href": EMBEDDED, "icon": f"{PROXY}/img/app.svg", "name": "Chat"}]


async def test_initial_state_is_a_json_string_on_the_page(sides: dict[str, Side]) -> None:
    async def check(side: Side) -> tuple[str, str]:
        r = await side.alice.get(EMBEDDED, headers={"Accept": "text/html"})
        match = re.search(r'id="initial-state-app_api-config" value="([^"]*)"', r.text)
        assert match, side.name
        raw = json.loads(base64.b64decode(match.group(1)))
        return type(raw).__name__, json.loads(raw)["appId"] if isinstance(raw, str) else raw.get("appId")

    seen = await both(sides, check)
    assert seen["double"] == seen["real"] == ("str", "assistant_stream")


async def test_forms_api_echoes_a_password_field_until_the_app_takes_it(sides: dict[str, Side],
                                                                       real_nc: RealStack) -> None:
    """The platform fact behind defect 2 (a password field's stored value comes back decrypted), and the app's
    answer to it (it empties that field at its next settings read), on both."""
    async def password_value(side: Side) -> str:
        r = await side.admin.get(FORMS, params={"format": "json"}, headers=OCS_HEADERS)
        [form] = [f for f in r.json()["ocs"]["data"] if f.get("app") == "assistant_stream"]
        [field] = [f for f in form["fields"] if f["type"] == "password"]
        return str(field["value"])

    async def check(side: Side) -> tuple[str, str, str]:
        # The real app keeps its key: save the one it has (the double's app gets a throwaway one).
        key = real_nc.api_key if side.name == "real" else "sk-double-" + secrets.token_hex(8)
        before = await password_value(side)
        r = await side.admin.post(FORM_VALUE_SENSITIVE, params={"format": "json"}, headers=OCS_HEADERS,
                                  json={"app": "assistant_stream", "formId": "assistant_stream_admin",
                                        "fieldId": "streaming_api_key_new", "value": key})
        assert r.status_code == 200, (side.name, r.text[:200])
        echoed = await password_value(side)
        # Any request that reads the settings lets the app take the key over (settings are re-read when due).
        for _ in range(40):
            await side.alice.get(f"{PROXY}/chat/config")
            after = await password_value(side)
            if after == "":
                break
            await asyncio.sleep(0.5)
        return before, "the key" if echoed == key else echoed, after

    seen = await both(sides, check)
    assert seen["double"] == seen["real"] == ("", "the key", "")


async def test_appconfig_ex_sensitive_quirks(sides: dict[str, Side]) -> None:
    """What the app's ConfigStore relies on: a sensitive value reads back decrypted; an unflagged write to a
    sensitive entry stores clear text under the flag, which then reads back empty."""
    path = "/ocs/v1.php/apps/app_api/api/v1/ex-app/config"
    key = "agree_probe_" + secrets.token_hex(4)

    async def read(side: Side) -> str | None:
        r = await side.appapi.post(f"{path}/get-values", params={"format": "json"}, json={"configKeys": [key]})
        assert r.status_code == 200, (side.name, r.text[:200])
        found = r.json()["ocs"]["data"]
        return found[0]["configvalue"] if found else None

    async def check(side: Side) -> tuple[str | None, str | None, str | None]:
        missing = await read(side)
        r = await side.appapi.post(path, params={"format": "json"},
                                   json={"configKey": key, "configValue": "v1", "sensitive": True})
        assert r.status_code == 200, (side.name, r.text[:200])
        flagged = await read(side)
        await side.appapi.post(path, params={"format": "json"}, json={"configKey": key, "configValue": "v2"})
        unflagged = await read(side)
        await side.appapi.request("DELETE", path, params={"format": "json"}, json={"configKeys": [key]})
        return missing, flagged, unflagged

    seen = await both(sides, check)
    assert seen["double"] == seen["real"] == (None, "v1", "")
