"""create_app(): the ASGI app: services on app.state, the routers, static files, error rendering, middleware."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.staticfiles import StaticFiles

from .. import __version__
from ..core.env import AppEnv
from ..core.error_render import admin_detail, render_http
from ..core.errors import AppError, InvalidInput, InvalidParameter, MethodNotAllowed, RouteNotFound
from ..core.limits import EVENTLOG_RETENTION
from ..nextcloud.server import NextcloudServer
from . import (
    api_admin,
    api_chat,
    api_export,
    api_files,
    api_options,
    api_stream,
    api_usage,
    api_versions,
    lifecycle,
    local,
)
from .auth import AppAPIAuthMiddleware
from .endpoint import request_is_admin
from .middleware import CacheControlMiddleware
from .services import build_services, close_services

log = logging.getLogger(__name__)


def assets_root() -> Path:
    """Folder holding js/ and ex_app/: the working directory (as nc_py_api assumes) or the source tree."""
    for candidate in (Path.cwd(), Path(__file__).resolve().parents[3]):
        if (candidate / "ex_app").is_dir() or (candidate / "js").is_dir():
            return candidate
    return Path.cwd()


def create_app(env: AppEnv | None = None, *, environ: Mapping[str, str] | None = None,
               nextcloud: NextcloudServer | None = None, config_ttl: float = 10.0, save_interval: float = 1.0,
               shutdown_grace: float = 5.0, eventlog_retention: float = EVENTLOG_RETENTION) -> FastAPI:
    """The ASGI app. ``environ`` (default: os.environ) supplies both AppEnv and the env-var settings; the
    keyword arguments are tunables tests shorten."""
    env = env or AppEnv.from_environ(dict(environ) if environ is not None else None)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = await build_services(env, environ, nextcloud, config_ttl=config_ttl,
                                                  save_interval=save_interval, shutdown_grace=shutdown_grace,
                                                  eventlog_retention=eventlog_retention)
        try:
            yield
        finally:
            await close_services(app.state.services)

    app = FastAPI(title="Assistant Stream", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    _exception_handlers(app)
    for module in (api_chat, api_versions, api_options, api_files, api_export, api_stream, api_admin, api_usage, local,
                   lifecycle):
        app.include_router(module.router)
    root = assets_root()
    static = {"/js": root / "js", "/img": root / "ex_app" / "img", "/l10n": root / "ex_app" / "l10n"}
    for mount, folder in static.items():
        app.mount(mount, StaticFiles(directory=folder, check_dir=False), name=mount.strip("/"))
    app.add_middleware(AppAPIAuthMiddleware, app_id=env.app_id, app_secret=env.app_secret,
                       local_mode=env.local_mode)
    # Added last: outermost, so it also sees the 401s of the auth middleware.
    app.add_middleware(CacheControlMiddleware, static=tuple(f"{mount}/" for mount in static))
    return app


def _json_error(exc: AppError, admin: bool = False) -> JSONResponse:
    error = render_http(exc, admin=admin)
    return JSONResponse(error.body, status_code=error.status, headers=error.headers)


def _exception_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> JSONResponse:
        # The detail (a provider's URL and words, an exception's name) only for an administrator.
        return _json_error(exc, admin_detail(exc) is not None and await request_is_admin(request))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x not in ("query", "body"))
        return _json_error(InvalidParameter(f"Invalid parameter {where}".strip()))

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        # Starlette's own: an unknown path or a verb a route does not take.
        known = {404: RouteNotFound(), 405: MethodNotAllowed()}
        response = _json_error(known.get(exc.status_code) or InvalidInput(str(exc.detail)))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # Logged with its trace for the admin; the client gets no internals. This handler answers from
        # outside the middleware stack, so it sets its own Cache-Control.
        log.error("Unexpected error", exc_info=exc)
        response = _json_error(AppError())
        response.headers["Cache-Control"] = "no-cache"
        return response
