"""Real-time delivery: /chat/stream (Server-Sent Events), /chat/poll (long-poll), stream tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from starlette.responses import Response, StreamingResponse

from ..core.error_render import admin_detail
from ..core.errors import AppError, MissingParameter, NoPublicUrl
from ..core.limits import MAX_POLL_TIMEOUT, MAX_TOKEN
from . import schemas as sc
from . import wire
from .endpoint import Call, route
from .params import P, message_id, session_id

router = APIRouter()

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}

STREAM_PARAMS = [session_id(), message_id(required=False),
                 P("title", "bool", required=False, default=False),
                 P("token", "str", required=False, max_len=MAX_TOKEN),
                 P("lastEventId", required=False, minimum=0)]
POLL_PARAMS = [session_id(), message_id(required=False), P("taskId", required=False),
               P("title", "bool", required=False, default=False),
               P("token", "str", required=False, max_len=MAX_TOKEN),
               P("cursor", required=False, default=0, minimum=0),
               P("rcursor", required=False, default=0, minimum=0),
               P("timeout", "float", required=False, default=25.0, minimum=0, maximum=MAX_POLL_TIMEOUT)]
TOKEN_PARAMS = [session_id(), message_id()]


class EventStreamResponse(StreamingResponse):
    """text/event-stream that no proxy buffers or caches."""

    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[str]) -> None:
        super().__init__(content, headers=SSE_HEADERS)


def _last_event_id(call: Call) -> int:
    header = call.request.headers.get("last-event-id", "")
    # isascii: str.isdigit() accepts "²" (a latin-1 header byte), which int() refuses.
    return call.params["lastEventId"] or (int(header) if header.isascii() and header.isdigit() and len(header) < 12
                                          else 0)


async def _sse(call: Call, key: str, after: int) -> AsyncIterator[str]:
    try:
        async for batch in call.chat.follow(key, after):
            if not batch:
                yield wire.KEEPALIVE
                continue
            # The reader's role matters only for the error that ends a failed answer (its detail is for
            # administrators); `and` short-circuits: no coroutine per batch on the relay's hot path.
            admin = wire.batch_ends_in_error(batch) and await call.is_admin()
            yield wire.encode_events(batch, admin)
    except AppError as exc:
        # The shared event log failed (Redis down) while following another process's answer: say so, and end.
        yield wire.error_frame(exc, await call.admin_if(admin_detail(exc) is not None))


@route(router, "GET", "/chat/stream", STREAM_PARAMS, access="stream", extra_status=(429, 502),
       ok=sc.SSE_EVENT_SCHEMA, ok_media="text/event-stream")
async def stream(call: Call) -> Response:
    p = call.params
    if not p["title"] and p["messageId"] is None:
        raise MissingParameter("Missing parameter messageId")
    after = _last_event_id(call)
    delivery = await call.chat.stream(call.user, p["sessionId"], message_id=p["messageId"], title=p["title"])
    if not delivery.live and not await call.chat.has_events(delivery.key):
        replayed = wire.replay(delivery.view, after, await call.admin_if(wire.ends_in_error(delivery.view)))
        return Response(replayed, media_type="text/event-stream", headers=SSE_HEADERS)
    return EventStreamResponse(_sse(call, delivery.key, after))


@route(router, "GET", "/chat/poll", POLL_PARAMS, access="stream", extra_status=(429, 502), ok=sc.POLL_SCHEMA)
async def poll(call: Call) -> Any:
    p = call.params
    view = await call.chat.poll(call.user, p["sessionId"], message_id=p["messageId"], task_id=p["taskId"],
                                title=p["title"], cursor=p["cursor"], rcursor=p["rcursor"], timeout=p["timeout"])
    return wire.poll_body(view, p["cursor"], p["rcursor"], await call.admin_if(wire.ends_in_error(view)))


@route(router, "POST", "/chat/stream_token", TOKEN_PARAMS, cache="no-store", ok={
    "type": "object", "required": ["token", "expiresAt", "url"],
    "properties": {"token": {"type": "string"}, "expiresAt": {"type": "integer"}, "url": {"type": "string"}}})
async def stream_token(call: Call) -> Any:
    p = call.params
    await call.chat.human_message(call.user, p["sessionId"], p["messageId"])
    settings = await call.chat.settings()
    if not settings.streaming_public_url:
        raise NoPublicUrl()
    token, expires = call.services.tokens.mint(call.user, p["sessionId"], p["messageId"])
    query = urlencode({"sessionId": p["sessionId"], "messageId": p["messageId"], "token": token})
    return {"token": token, "expiresAt": expires, "url": f"{settings.streaming_public_url}/chat/stream?{query}"}
