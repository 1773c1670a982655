"""Registration, enable and disable on the real Nextcloud: the navigation entry, the embedded page, the form."""

from __future__ import annotations

from tests.support.nextcloud_real.client import navigation_entries
from tests.support.nextcloud_real.plugin import RealStack


async def test_registered_app_is_in_the_navigation(real_nc: RealStack) -> None:
    entries = await navigation_entries(real_nc.as_user("alice"))
    chat = [e for e in entries if e.get("id") == "app_api_assistant_stream_chat"]
    assert len(chat) == 1
    assert chat[0]["name"] == "Chat"
