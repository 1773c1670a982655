"""What the browser needs to know: API base, which delivery path reaches it in real time, and why."""

from __future__ import annotations

import logging
from typing import Any

from .. import __version__
from ..chat.engines import engine_name
from ..chat.models import default_choice
from ..chat.service import ChatService
from ..core.config_store import Listener
from ..core.env import AppEnv
from ..core.errors import AppError
from ..core.settings import Settings
from ..nextcloud.ui import UiRegistration

log = logging.getLogger(__name__)


def delivery(env: AppEnv, settings: Settings, *, local: bool = False) -> dict[str, Any]:
    """The best path by which a browser receives events as they happen, and the reason for it."""
    if local:
        return {"mode": "direct", "streamBase": "",
                "reason": "Local mode: the browser talks to the ExApp directly, events stream."}
    if env.under_harp:
        return {"mode": "harp", "streamBase": f"/exapps/{env.app_id}",
                "reason": "HaRP proxies /exapps/ without buffering: events stream."}
    if settings.streaming_public_url:
        return {"mode": "public", "streamBase": settings.streaming_public_url,
                "reason": "streaming_public_url is set: the browser streams from it with a short-lived token."}
    return {"mode": "poll", "streamBase": None,
            "reason": ("Only the stock AppAPI proxy is available, and it delivers a response only when it has "
                       "ended: text arrives by long-polling, about one proxy round trip behind. Deploy with "
                       "HaRP or set streaming_public_url for live streaming (docs/deployment.md).")}


def page_config(env: AppEnv, settings: Settings, *, is_admin: bool = False, local: bool = False) -> dict[str, Any]:
    """The ClientConfig for these settings (the page's initial state when no user is known)."""
    return {
        "appId": env.app_id,
        "version": __version__,
        "local": local,
        "isAdmin": is_admin,
        "apiBase": "" if local else None,
        "delivery": delivery(env, settings, local=local),
        "engine": engine_name(settings, env),
        "model": default[1] if (default := default_choice(settings)) else None,
    }


async def client_config(chat: ChatService, *, user: str | None = None, local: bool = False) -> dict[str, Any]:
    settings = await chat.settings()
    # Only decides whether admin tools are shown; the admin routes check again themselves. The local user is no
    # admin: admin routes need Nextcloud's word (issue 11).
    is_admin = not local and bool(user) and await chat.is_admin(user or "")
    return page_config(chat.env, settings, is_admin=is_admin, local=local)


def republish_page_config(env: AppEnv, ui: UiRegistration) -> Listener:
    """A ConfigStore listener: the page's initial state (engine, model, delivery) follows the settings.

    AppAPI serves the initial state that was last published; published only when the app is enabled, it kept
    telling the page what the settings were at that moment, typically "no provider yet" (issue 11, defect 7).
    """

    async def on_change(old: Settings, new: Settings) -> None:
        if page_config(env, old) == page_config(env, new):
            return
        try:
            await ui.update_initial_state(page_config(env, new))
        except AppError as exc:
            log.warning("Could not update the page's initial state: %s", exc.message)
        else:
            log.info("Updated the page's initial state to the new settings")

    return on_change
