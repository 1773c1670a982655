"""Admin routes: what is configured (never the key), which delivery path users get, connection test."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..chat.engines import engine_name
from .client_config import delivery
from .endpoint import Call, route

router = APIRouter()


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


@route(router, "POST", "/admin/test_connection", access="admin", ok={
    "type": "object", "required": ["ok", "summary", "checks"],
    "properties": {"ok": {"type": "boolean"}, "summary": {"type": "string"}, "checks": {"type": "object"}}})
async def test_connection(call: Call) -> Any:
    report = await call.chat.diagnose()
    return {"ok": report.ok, "summary": report.summary, "checks": report.checks}
