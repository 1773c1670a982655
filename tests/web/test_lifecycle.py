"""AppAPI's lifecycle calls (/heartbeat, /init, /enabled) against the real app and the Nextcloud double."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.support.appserver import AppFactory
from tests.support.nextcloud_double import NextcloudDouble


async def _until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_heartbeat_init_enable_disable(app_factory: AppFactory, nextcloud: NextcloudDouble,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # As in a container, where AppAPI exports these: nc_py_api's /enabled handler (anc_app) builds its
    # client from os.environ, not from the environ the app was created with.
    for name, value in (("NEXTCLOUD_URL", nextcloud.url), ("APP_ID", nextcloud.app_id),
                        ("APP_SECRET", nextcloud.app_secret), ("APP_VERSION", nextcloud.app_version)):
        monkeypatch.setenv(name, value)
    app = await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret)
    # AppAPI calls these as the app itself: user "" in the auth header.
    async with httpx.AsyncClient(base_url=app.url, headers=nextcloud.auth_headers(""), timeout=15,
                                 trust_env=False) as appapi, \
            httpx.AsyncClient(base_url=app.url, timeout=15, trust_env=False) as anonymous:
        beat = await anonymous.get("/heartbeat")
        assert beat.status_code == 200 and beat.json() == {"status": "ok"}

        init = await appapi.post("/init")
        assert init.status_code == 200
        await _until(lambda: nextcloud.init_status["init"] == 100)

        enabled = await appapi.put("/enabled", params={"enabled": 1})
        assert enabled.status_code == 200 and enabled.json() == {"error": ""}
        assert nextcloud.top_menu["chat"]["display_name"] == "Chat"
        assert [k[2] for k in nextcloud.scripts] == ["js/assistant_stream-main"]
        assert [k[2] for k in nextcloud.styles] == ["js/assistant_stream-main"]
        state = nextcloud.initial_states[("top_menu", "chat", "config")]
        assert state["appId"] == "assistant_stream"
        assert "assistant_stream_admin" in nextcloud.settings_forms
        assert nextcloud.appconfig_sensitive("streaming_api_key_new")  # the form's write-only key field

        disabled = await appapi.put("/enabled", params={"enabled": 0})
        assert disabled.status_code == 200 and disabled.json() == {"error": ""}
        assert (nextcloud.top_menu, nextcloud.scripts, nextcloud.styles) == ({}, {}, {})
        assert (nextcloud.initial_states, nextcloud.settings_forms) == ({}, {})

        # Without AppAPI's headers nothing but /heartbeat answers.
        assert (await anonymous.put("/enabled", params={"enabled": 1})).status_code == 401
        assert nextcloud.top_menu == {}
