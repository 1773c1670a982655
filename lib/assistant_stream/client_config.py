"""What the browser needs to know: API base, which delivery path reaches it in real time, and why."""

from __future__ import annotations

import contextlib
from typing import Any

from . import __version__
from .core.env import AppEnv
from .core.errors import AppError
from .core.settings import Settings
from .services import Services


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


def engine_name(settings: Settings, env: AppEnv) -> str | None:
    if settings.streaming_configured:
        return "stream"
    if settings.taskprocessing_fallback and env.nextcloud_configured:
        return "taskprocessing"
    return None


async def client_config(s: Services, *, user: str | None = None, local: bool = False) -> dict[str, Any]:
    settings = await s.config.get()
    is_admin = local  # the single local user owns the instance
    if user and s.nextcloud is not None and not is_admin:
        # Only decides whether admin tools are shown; the admin routes check again themselves.
        with contextlib.suppress(AppError, OSError):
            is_admin = await s.nextcloud.users.is_admin(user)
    return {
        "appId": s.env.app_id,
        "version": __version__,
        "local": local,
        "isAdmin": is_admin,
        "apiBase": "" if local else None,
        "delivery": delivery(s.env, settings, local=local),
        "engine": engine_name(settings, s.env),
        "model": settings.streaming_model if settings.streaming_configured else None,
    }
