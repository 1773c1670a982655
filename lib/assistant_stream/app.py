"""create_app(): wires settings, storage, provider, generations and routes into one ASGI app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.staticfiles import StaticFiles

from . import __version__, api_admin, api_chat, api_stream, local
from .auth import AppAPIAuthMiddleware
from .client_config import client_config
from .core.env import AppEnv
from .core.errors import AppError, NotAuthenticated, render_http
from .core.settings import ConfigStore
from .core.tokens import StreamTokens
from .engines import EngineSelector
from .eventlog import MemoryEventLog
from .generations import GenerationManager
from .providers.transport import ProviderClient
from .services import Services
from .store.storage import Storage

log = logging.getLogger(__name__)


def assets_root() -> Path:
    """Folder holding js/ and ex_app/: the working directory (as nc_py_api assumes) or the source tree."""
    for candidate in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (candidate / "ex_app").is_dir() or (candidate / "js").is_dir():
            return candidate
    return Path.cwd()


def create_app(env: AppEnv | None = None, *, environ: Mapping[str, str] | None = None,
               nextcloud: Any | None = None, config_ttl: float = 10.0, save_interval: float = 1.0,
               shutdown_grace: float = 5.0) -> FastAPI:
    """The ASGI app. ``environ`` (default: os.environ) supplies both AppEnv and the env-var settings."""
    env = env or AppEnv.from_environ(dict(environ) if environ is not None else None)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await _build_services(env, environ, nextcloud, config_ttl, save_interval, shutdown_grace)
        app.state.services = services
        try:
            yield
        finally:
            await services.generations.shutdown()
            await services.provider.aclose()
            await services.storage.close()
            if services.nextcloud is not None:
                await services.nextcloud.aclose()

    app = FastAPI(title="Assistant Stream", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    _exception_handlers(app)
    app.include_router(api_chat.router)
    app.include_router(api_stream.router)
    app.include_router(api_admin.router)
    app.include_router(local.router)
    _lifecycle(app, env)
    root = assets_root()
    for mount, folder in (("/js", root / "js"), ("/img", root / "ex_app" / "img"), ("/l10n", root / "ex_app" / "l10n")):
        app.mount(mount, StaticFiles(directory=folder, check_dir=False), name=mount.strip("/"))
    app.add_middleware(AppAPIAuthMiddleware, app_id=env.app_id, app_secret=env.app_secret,
                       local_mode=env.local_mode)
    return app


async def _build_services(env: AppEnv, environ: Mapping[str, str] | None, nextcloud: Any | None,
                          config_ttl: float, save_interval: float, shutdown_grace: float) -> Services:
    if nextcloud is None and (env.nextcloud_configured or not env.local_mode):
        from .nextcloud.server import NextcloudServer

        nextcloud = NextcloudServer(env)
    taskprocessing = None
    if nextcloud is not None:
        from .providers.taskprocessing import TaskProcessingEngine

        taskprocessing = TaskProcessingEngine(nextcloud.taskprocessing)
    env.persistent_storage.mkdir(parents=True, exist_ok=True)
    storage = Storage.from_env(str(env.persistent_storage), env.database_url)
    await storage.migrate()
    interrupted = await storage.mark_interrupted()
    if interrupted:
        log.warning("%d answers were cut off by a restart; their saved text is kept as 'interrupted'",
                    interrupted)
    config = ConfigStore(nextcloud.appconfig if nextcloud else None, ttl=config_ttl, environ=environ)
    provider = ProviderClient()
    eventlog = MemoryEventLog()
    generations = GenerationManager(storage=storage, config=config, eventlog=eventlog,
                                    engine_for=EngineSelector(env, provider, taskprocessing),
                                    save_interval=save_interval, shutdown_grace=shutdown_grace)
    generations.start_background()
    return Services(env=env, config=config, storage=storage, eventlog=eventlog, generations=generations,
                    tokens=StreamTokens(env.app_secret), nextcloud=nextcloud, provider=provider)


def _lifecycle(app: FastAPI, env: AppEnv) -> None:
    """AppAPI's /heartbeat, /init and /enabled.

    Written here rather than taken from nc_py_api's set_handlers: its /enabled builds a client from
    os.environ and runs nc_py_api's own secret check, which prints the real APP_SECRET on a mismatch.
    """

    @app.get("/heartbeat", include_in_schema=False)
    async def heartbeat() -> JSONResponse:
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-cache"})

    @app.put("/enabled", include_in_schema=False)
    async def enabled(request: Request) -> JSONResponse:
        if request.scope.get("auth") != "appapi":
            raise NotAuthenticated()
        flag = request.query_params.get("enabled", "").lower() in ("1", "true")
        s: Services = request.app.state.services
        error = ""
        if s.nextcloud is not None:
            error = await (s.nextcloud.ui.on_enabled(await client_config(s)) if flag else s.nextcloud.ui.on_disabled())
        return JSONResponse({"error": error})

    @app.post("/init", include_in_schema=False)
    async def init(request: Request) -> JSONResponse:
        if request.scope.get("auth") != "appapi":
            raise NotAuthenticated()
        s: Services = request.app.state.services
        if s.nextcloud is not None:
            # The database was migrated before the app started answering, so we are ready at once.
            request.app.state.init_task = asyncio.create_task(_report_ready(s))
        return JSONResponse({})


async def _report_ready(s: Services) -> None:
    try:
        await s.nextcloud.ui.report_init_progress(100)
    except AppError as exc:
        log.error("Could not report init progress to Nextcloud: %s", exc.message)


def _exception_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(_request: Request, exc: AppError) -> JSONResponse:
        rendered = render_http(exc)
        return JSONResponse(rendered.body, status_code=rendered.status,
                            headers={"Cache-Control": "no-cache", **rendered.headers})

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x not in ("query", "body"))
        return JSONResponse({"error": f"Invalid parameter {where}".strip(), "code": "invalid_parameter"},
                            status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, str(exc.detail))
        return JSONResponse({"error": message, "code": f"http_{exc.status_code}"}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # Logged with its trace for the admin; the client gets no internals.
        log.error("Unexpected error", exc_info=exc)
        return JSONResponse({"error": "Internal error", "code": "internal_error"}, status_code=500)
