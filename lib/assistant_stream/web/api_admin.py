"""Admin routes: what is configured (never the key), which delivery path users get, connection test."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..chat.connections import Recorder
from ..chat.engines import engine_name
from ..core.limits import MAX_URL
from .client_config import delivery
from .endpoint import Call, route
from .params import P

router = APIRouter()


def audited(call: Call, action: str) -> Recorder:
    """The audit log's record of a change this admin makes (secrets only as set or removed)."""
    async def record(key: str, old: str | None, new: str | None) -> None:
        await call.admin.audit.record(call.user, action, key, old, new)

    return record


@route(router, "GET", "/admin/status", access="admin", ok={
    "type": "object", "required": ["settings", "delivery", "engine", "nextcloud"],
    "properties": {"settings": {"type": "object"}, "delivery": {"type": "object"},
                   "nextcloud": {"type": "object", "properties": {"reachable": {"type": "boolean"}}}}})
async def status(call: Call) -> Any:
    settings = await call.chat.settings()
    documents = await call.chat.documents(call.user)
    return {
        "settings": settings.public(),
        "delivery": delivery(call.chat.env, settings),  # admin routes are never local (web/auth.py)
        "engine": engine_name(settings, call.chat.env),
        "nextcloud": {"reachable": not settings.stale},
        "activeGenerations": call.chat.active_generations,
        "contextChat": {"available": documents.available, "reason": documents.reason},
    }


@route(router, "POST", "/admin/test_connection", [P("connectionId", "str", required=False, max_len=64)],
       access="admin", ok={
    "type": "object", "required": ["ok", "summary", "checks"],
    "properties": {"ok": {"type": "boolean"}, "summary": {"type": "string"}, "checks": {"type": "object"}}})
async def test_connection(call: Call) -> Any:
    report = await call.chat.diagnose(call.params["connectionId"])
    return {"ok": report.ok, "summary": report.summary, "checks": report.checks}


# --- connections and shared presets (the admin view's tabs) -------------------------------------------

_CONNECTIONS = {"type": "object", "required": ["connections", "fixed"],
                "properties": {"connections": {"type": "array"}, "fixed": {"type": "array"}}}


@route(router, "GET", "/admin/connections", access="admin", ok=_CONNECTIONS)
async def connections(call: Call) -> Any:
    """Every connection (the seed's settings as "default"); keys only as ``keySet``."""
    return await call.chat.connections.connections()


@route(router, "PUT", "/admin/connections", [P("connections", "json")], access="admin", ok=_CONNECTIONS)
async def save_connections(call: Call) -> Any:
    """Replace the connections; ``apiKey`` absent keeps a key, "" removes it. Keys are stored sensitive."""
    return await call.chat.connections.save(call.params["connections"], audited(call, "connections changed"))


@route(router, "POST", "/admin/fetch_models",
       [P("connectionId", "str", required=False, max_len=64), P("url", "str", required=False, max_len=MAX_URL),
        P("apiKey", "str", required=False, max_len=4096)], access="admin", extra_status=(502, 504),
       ok={"type": "object", "required": ["models"], "properties": {"models": {"type": "array"}}})
async def fetch_models(call: Call) -> Any:
    """The models the provider's /models lists (for the allow-list)."""
    p = call.params
    return {"models": await call.chat.connections.fetch_models(p["connectionId"], p["url"], p["apiKey"])}


@route(router, "GET", "/admin/presets", access="admin", ok={"type": "object", "required": ["presets"]})
async def shared_presets(call: Call) -> Any:
    return {"presets": await call.chat.connections.presets()}


@route(router, "PUT", "/admin/presets", [P("presets", "json")], access="admin",
       ok={"type": "object", "required": ["presets"]})
async def save_shared_presets(call: Call) -> Any:
    saved = await call.chat.connections.save_presets(call.params["presets"], audited(call, "presets changed"))
    return {"presets": saved}
