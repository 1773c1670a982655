"""What the browser is told (web/client_config.py): the delivery path that reaches it live, and why; the page's
initial state, republished when the settings change."""

from __future__ import annotations

from assistant_stream.core.config_store import ConfigStore
from assistant_stream.core.env import AppEnv
from assistant_stream.core.settings import build_settings
from assistant_stream.nextcloud.server import NextcloudServer
from assistant_stream.nextcloud.ui import INITIAL_STATE_KEY, MENU_NAME, UI_TYPE
from assistant_stream.web.client_config import delivery, page_config, republish_page_config
from tests.support.nextcloud_double import NextcloudDouble


def test_the_best_delivery_path_and_its_reason() -> None:
    plain = AppEnv.from_environ({"NEXTCLOUD_URL": "http://nc"})
    harp = AppEnv.from_environ({"NEXTCLOUD_URL": "http://nc", "HP_SHARED_KEY": "k", "APP_ID": "assistant_stream"})
    none, public = build_settings({}, {}), build_settings({"STREAMING_PUBLIC_URL": "https://x.example/s/"}, {})
    assert delivery(plain, none, local=True)["mode"] == "direct"
    assert delivery(harp, public) == {"mode": "harp", "streamBase": "/exapps/assistant_stream",
                                      "reason": "HaRP proxies /exapps/ without buffering: events stream."}
    assert delivery(plain, public)["streamBase"] == "https://x.example/s"
    poll = delivery(plain, none)
    assert poll["mode"] == "poll" and poll["streamBase"] is None and "long-polling" in poll["reason"]


def test_page_config_without_a_user() -> None:
    env = AppEnv.from_environ({"NEXTCLOUD_URL": "http://nc"})
    unconfigured = page_config(env, build_settings({}, {}))
    assert (unconfigured["engine"], unconfigured["model"], unconfigured["isAdmin"]) == ("taskprocessing", None, False)
    configured = page_config(env, build_settings({}, {"streaming_api_url": "https://api.example/v1",
                                                      "streaming_model": "m1", "streaming_api_key": "sk-x"}))
    assert (configured["engine"], configured["model"]) == ("stream", "m1")
    assert "sk-x" not in str(configured)


async def test_the_page_state_follows_the_settings(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    """Issue 11 defect 7: the initial state published on enable kept saying "no provider" after the admin set one."""
    env = nextcloud.env()
    assert await nc.ui.on_enabled(page_config(env, build_settings({}, {}))) == ""
    store = ConfigStore(nc.appconfig, ttl=0, environ={})
    store.on_change(republish_page_config(env, nc.ui))
    await store.get()
    nextcloud.set_appconfig("streaming_api_url", "https://api.example/v1")
    nextcloud.set_appconfig("streaming_model", "m1")
    await store.get()
    await store.aclose()
    state = nextcloud.initial_states[(UI_TYPE, MENU_NAME, INITIAL_STATE_KEY)]
    assert (state["engine"], state["model"]) == ("stream", "m1")
    published = len(nextcloud.calls_to("initial-state", "POST"))
    nextcloud.set_appconfig("system_prompt", "Be brief.")  # nothing the page shows: not published again
    await store.get()
    await store.aclose()
    assert len(nextcloud.calls_to("initial-state", "POST")) == published
