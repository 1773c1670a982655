"""Pure-ASGI middleware: every response says how it may be cached (no-cache unless a route said otherwise)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_CACHE_CONTROL = b"cache-control"
_NO_CACHE = (_CACHE_CONTROL, b"no-cache")


class CacheControlMiddleware:
    """Adds ``Cache-Control: no-cache`` to every response that has none (errors of unknown routes and wrong
    verbs included), except the files under ``static``: AppAPI's proxy caches those for an hour, as Nextcloud
    does its own scripts, and would cache any other non-JSON answer without the header just the same."""

    def __init__(self, app: ASGIApp, *, static: tuple[str, ...] = ()) -> None:
        self.app = app
        self._static = static

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(self._static) if self._static else False

        async def send_with_cache_control(message: Message) -> None:
            if message["type"] == "http.response.start" and not (static and message["status"] < 400):
                headers = list(message.get("headers", ()))
                if not any(name.lower() == _CACHE_CONTROL for name, _ in headers):
                    message = {**message, "headers": [*headers, _NO_CACHE]}
            await send(message)

        await self.app(scope, receive, send_with_cache_control)
