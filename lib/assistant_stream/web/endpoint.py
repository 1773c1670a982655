"""The one route style: a handler gets a Call (caller, user, parameters, the chat and admin services) and returns
JSON."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..chat.admin import AdminService
from ..chat.service import ChatService
from ..core.caller import SCOPE_KEY, Caller, CallerKind, caller_of
from ..core.errors import InvalidToken, NotAuthenticated, NotFound
from ..core.limits import ADMIN_CHECK_TIMEOUT
from .params import P, read
from .schemas import openapi
from .services import Services

# Who may call a route:
#   user    a Nextcloud user through AppAPI (or the local user)
#   stream  the same, or a browser with a stream token for exactly this session and message
#   admin   a Nextcloud administrator (never the local user); others get 404, as AppAPI answers
#   appapi  AppAPI itself (lifecycle calls)
#   local   the single local user of `make run`, on loopback only
#   public  anyone (the heartbeat)
Access = Literal["user", "stream", "admin", "appapi", "local", "public"]


@dataclass(frozen=True, slots=True)
class Call:
    request: Request
    caller: Caller
    user: str  # "" where the access needs no user (appapi, public)
    params: dict[str, Any]
    services: Services

    @property
    def chat(self) -> ChatService:
        return self.services.chat

    @property
    def admin(self) -> AdminService:
        return self.services.admin

    async def is_admin(self) -> bool:
        """Whether this caller is told the administrator's detail of errors (web/wire.py renders it)."""
        return await viewer_is_admin(self.caller, self.user, self.services)

    async def admin_if(self, needed: bool) -> bool:
        """``is_admin()`` when what is sent holds an administrator's detail, else False without asking."""
        return needed and await self.is_admin()


async def viewer_is_admin(caller: Caller, user: str, services: Services) -> bool:
    """Who is told an error's detail: a Nextcloud administrator (not known in time means no: a hanging Nextcloud
    must not hold every error response for its whole timeout), or the local user, who runs and fixes their own
    app (still no admin for the admin routes)."""
    if caller.kind == CallerKind.LOCAL:
        return True
    if not user:
        return False
    try:
        async with asyncio.timeout(ADMIN_CHECK_TIMEOUT):
            return await services.chat.is_admin(user)
    except TimeoutError:
        return False


async def request_is_admin(request: Request) -> bool:
    """``viewer_is_admin`` for an error raised anywhere in a request (the exception handlers), from the AppAPI
    headers or local mode only (a stream token's user is known only to its route)."""
    caller = request.scope.get(SCOPE_KEY)
    services = getattr(request.app.state, "services", None)
    if not isinstance(caller, Caller) or caller.kind not in (CallerKind.APPAPI, CallerKind.LOCAL) or services is None:
        return False
    return await viewer_is_admin(caller, caller.user or "", services)


Handler = Callable[[Call], Awaitable[Any]]


def route(router: APIRouter, verbs: str | Sequence[str], path: str, params: Sequence[P] = (), *,
          access: Access = "user", cache: str | None = None, extra_status: Sequence[int] = (),
          ok: dict[str, Any] | None = None, ok_media: str = "application/json",
          schemas: dict[int, dict[str, Any]] | None = None, in_schema: bool = True) -> Callable[[Handler], Handler]:
    """Register ``fn`` on ``router`` for each verb. Its return value becomes JSON unless it is a Response.

    ``cache``: a Cache-Control value for this route's answers (the middleware says no-cache otherwise);
    ``ok``/``schemas``: the documented bodies (OpenAPI only).
    """
    verb_list = [verbs] if isinstance(verbs, str) else list(verbs)

    def wrap(fn: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            call = await _call(request, access, params)
            result = await fn(call)
            response = result if isinstance(result, Response) else JSONResponse(result)
            if cache:
                response.headers["Cache-Control"] = cache
            if access == "stream":
                response.headers.update(_cors(request, call))
            return response

        endpoint.__name__ = fn.__name__
        endpoint.__doc__ = fn.__doc__
        for verb in verb_list:
            # One route per verb: each gets its own operation id and its own parameter documentation
            # (required in the query for GET, optional there for verbs that may send a JSON body).
            operation_id = f"{fn.__name__}_{verb.lower()}" if len(verb_list) > 1 else None
            router.add_api_route(path, endpoint, methods=[verb], operation_id=operation_id,
                                 include_in_schema=in_schema, response_class=JSONResponse,
                                 openapi_extra=openapi(verb, params, extra_status=extra_status, ok=ok,
                                                       ok_media=ok_media, schemas=schemas) if in_schema else None)
        return fn

    return wrap


async def _call(request: Request, access: Access, params: Sequence[P]) -> Call:
    """Check the caller (before the parameters: a stranger learns nothing from a 400), then read them."""
    services: Services = request.app.state.services
    caller = caller_of(request.scope)
    if access == "stream":
        # A token is checked against the parameters, so these are read first.
        values = await read(request, params)
        return Call(request, caller, await _stream_user(caller, values, services), values, services)
    user = await _authorize(caller, access, services)
    return Call(request, caller, user, await read(request, params), services)


async def _authorize(caller: Caller, access: Access, services: Services) -> str:
    if access == "public":
        return ""
    if access == "appapi":
        if caller.kind != CallerKind.APPAPI:
            raise NotAuthenticated()
        return caller.user or ""
    if access == "local":
        if caller.kind != CallerKind.LOCAL:
            # Off unless LOCAL_MODE is set and the browser is on this machine; never in the container.
            raise NotFound()
        return caller.require_user()
    user = caller.require_user()
    if access == "admin" and (caller.kind == CallerKind.LOCAL or not await services.chat.is_admin(user)):
        raise NotFound()  # AppAPI itself answers 404 for a route the user may not use; do the same
    return user


async def _stream_user(caller: Caller, p: dict[str, Any], services: Services) -> str:
    """The user, from AppAPI headers or from a stream token bound to exactly this session and message."""
    if caller.kind != CallerKind.TOKEN:
        return caller.require_user()
    grant = services.tokens.verify(p.get("token") or "")
    if grant.session_id != p["sessionId"] or grant.message_id != p.get("messageId") or p.get("title"):
        raise InvalidToken("Invalid stream token for this message")
    return grant.user_id


def _cors(request: Request, call: Call) -> dict[str, str]:
    """CORS only for the Nextcloud origin, and only for token requests (the admin-exposed URL)."""
    origin = request.headers.get("origin")
    if call.caller.kind != CallerKind.TOKEN or not origin:
        return {}
    nc = urlsplit(call.services.env.nextcloud_url)
    if origin.rstrip("/") == f"{nc.scheme}://{nc.netloc}":
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {}
