"""Pure-ASGI middleware that checks AppAPI's headers in constant time and puts the user in the scope."""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
import logging
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from ..core.caller import SCOPE_KEY, Caller, CallerKind
from ..core.error_render import render_http
from ..core.errors import AppError, InvalidParameter, NotAuthenticated
from ..core.limits import MAX_USER_ID
from .routes import PUBLIC_PATHS, TOKEN_PATHS, Access, access_for

log = logging.getLogger(__name__)

LOCAL_USER = "local"


def parse_authorization(value: str) -> tuple[str, str] | None:
    """Split ``base64("<userid>:<secret>")``; None when malformed."""
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, sep, secret = decoded.partition(":")
    if not sep:
        return None
    return user, secret


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AppAPIAuthMiddleware:
    """Replaces nc_py_api's AppAPIAuthMiddleware, which prints the real APP_SECRET on a wrong one.

    On success ``scope["caller"]`` is a Caller: how the caller proved itself (AppAPI's headers; a stream
    token, checked later by the route and only on TOKEN_PATHS; or single-user mode on loopback, only without a
    Nextcloud and never for an admin route) and the Nextcloud user ("" for AppAPI's own calls).
    """

    def __init__(self, app: ASGIApp, *, app_id: str, app_secret: str, local_mode: bool = False) -> None:
        self.app = app
        self._app_id = app_id.encode()
        self._secret = app_secret.encode()
        self._local_mode = local_mode
        if not app_secret and not local_mode:
            log.warning("APP_SECRET is empty: every authenticated request will be refused")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in PUBLIC_PATHS:
            scope[SCOPE_KEY] = Caller(CallerKind.ANONYMOUS, None)
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        auth = headers.get("authorization-app-api")
        if auth is not None:
            user = self._check(headers, auth)
            if user is not None and len(user) > MAX_USER_ID:
                # The column holds MAX_USER_ID characters and SQLite would not enforce it.
                await _error(send, InvalidParameter(f"The user id is longer than {MAX_USER_ID} characters"))
                return
            if user is not None:
                scope[SCOPE_KEY] = Caller(CallerKind.APPAPI, user)
                await self.app(scope, receive, send)
                return
            log.warning("AppAPI authentication failed for %s %s", scope.get("method", ""), path)
        elif path in TOKEN_PATHS and has_token(scope.get("query_string", b"")):
            scope[SCOPE_KEY] = Caller(CallerKind.TOKEN, None)
            await self.app(scope, receive, send)
            return
        elif (self._local_mode and _is_loopback((scope.get("client") or ("",))[0])
              and access_for(path) != Access.ADMIN):
            # Never the admin routes: being on the host is not being the admin (issue 11).
            scope[SCOPE_KEY] = Caller(CallerKind.LOCAL, LOCAL_USER)
            await self.app(scope, receive, send)
            return
        await _error(send, NotAuthenticated())

    def _check(self, headers: dict[str, str], auth: str) -> str | None:
        parsed = parse_authorization(auth)
        if parsed is None:
            return None
        user, secret = parsed
        # Compare everything, then decide: the time taken does not tell which part was wrong.
        ok_secret = hmac.compare_digest(secret.encode(), self._secret) and bool(self._secret)
        ok_app = hmac.compare_digest(headers.get("ex-app-id", "").encode(), self._app_id)
        # AppAPI (and HaRP, which adds the same headers) always sends both versions; docs/api.md requires
        # them. Their values are not compared: an app being upgraded must keep answering.
        ok_versions = bool(headers.get("ex-app-version")) and bool(headers.get("aa-version"))
        return user if ok_secret and ok_app and ok_versions else None


def has_token(query_string: bytes) -> bool:
    """Whether the query carries a non-empty ``token``, by the decoded name (``tok%65n`` is ``token``),
    exactly as the route will read it."""
    return any(name == "token" and value
               for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))


async def _error(send: Send, exc: AppError) -> None:
    error = render_http(exc)
    body = json.dumps(error.body).encode()
    await send({"type": "http.response.start", "status": error.status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
