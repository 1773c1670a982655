"""What the browser is told (web/client_config.py): the delivery path that reaches it live, and why."""

from __future__ import annotations

from assistant_stream.core.env import AppEnv
from assistant_stream.core.settings import build_settings
from assistant_stream.web.client_config import delivery


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
