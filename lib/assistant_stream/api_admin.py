"""Admin routes: what is configured (never the key), which delivery path users get, connection test."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse

from . import api_params as ap
from .client_config import delivery, engine_name
from .core.errors import AppError, NotFound
from .providers.diagnostics import diagnose_settings
from .services import Services, current_user, services

router = APIRouter()


async def require_admin(request: Request) -> Services:
    s = services(request)
    user = current_user(request)
    if request.scope.get("auth") == "local":
        return s
    try:
        admin = s.nextcloud is not None and await s.nextcloud.users.is_admin(user)
    except AppError:
        admin = False
    if not admin:
        # AppAPI itself answers 404 for a route the user may not use; do the same.
        raise NotFound()
    return s


@router.get("/admin/status", openapi_extra=ap.openapi("GET", [], ok={
    "type": "object", "required": ["settings", "delivery", "engine", "nextcloud"],
    "properties": {"settings": {"type": "object"}, "delivery": {"type": "object"},
                   "nextcloud": {"type": "object", "properties": {"reachable": {"type": "boolean"}}}}}),
    response_class=JSONResponse)
async def status(request: Request) -> Any:
    s = await require_admin(request)
    settings = await s.config.get()
    return JSONResponse({
        "settings": settings.public(),
        "delivery": delivery(s.env, settings, local=request.scope.get("auth") == "local"),
        "engine": engine_name(settings, s.env),
        "nextcloud": {"reachable": not settings.stale},
        "activeGenerations": s.generations.active,
    }, headers={"Cache-Control": "no-cache"})


@router.post("/admin/test_connection", openapi_extra=ap.openapi("POST", [], ok={
    "type": "object", "required": ["ok", "summary", "checks"],
    "properties": {"ok": {"type": "boolean"}, "summary": {"type": "string"}, "checks": {"type": "object"}}}),
    response_class=JSONResponse)
async def test_connection(request: Request) -> Any:
    s = await require_admin(request)
    report = await diagnose_settings(s.provider, await s.config.get())
    return JSONResponse({"ok": report.ok, "summary": report.summary, "checks": report.checks},
                        headers={"Cache-Control": "no-cache"})
