"""What the browser needs to know: API base, which delivery path reaches it in real time, and why."""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..chat.engines import engine_name
from ..chat.service import ChatService
from ..core.env import AppEnv
from ..core.settings import Settings


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


async def client_config(chat: ChatService, *, user: str | None = None, local: bool = False) -> dict[str, Any]:
    settings = await chat.settings()
    # Only decides whether admin tools are shown; the admin routes check again themselves. The local user is no
    # admin: admin routes need Nextcloud's word (issue 11).
    is_admin = not local and bool(user) and await chat.is_admin(user or "")
    return {
        "appId": chat.env.app_id,
        "version": __version__,
        "local": local,
        "isAdmin": is_admin,
        "apiBase": "" if local else None,
        "delivery": delivery(chat.env, settings, local=local),
        "engine": engine_name(settings, chat.env),
        "model": settings.streaming_model if settings.streaming_configured else None,
    }
