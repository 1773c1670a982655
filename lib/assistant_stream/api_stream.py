"""Real-time delivery: /chat/stream (Server-Sent Events), /chat/poll (long-poll), stream tokens."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from . import api_params as ap
from .api_params import P
from .core.errors import InvalidToken, MessageNotFound, MissingParameter, NoPublicUrl, NotFound, render_sse
from .eventlog import Event
from .generations import Generation, answer_key, clean_title, title_key
from .services import Services, current_user, services

log = logging.getLogger(__name__)
router = APIRouter()

HEARTBEAT = 15.0  # seconds: below every common proxy's idle cut (nginx 60 s, Cloudflare ~100 s)
# Text per write for a reader that fell behind. uvicorn buffers a whole write before it applies
# back-pressure, so without a cap a slow reader would hold a copy of the entire rest of the answer.
MAX_BATCH_CHARS = 64 * 1024
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}

STREAM_PARAMS = [ap.session_id(), ap.message_id(required=False),
                 P("title", "bool", required=False, default=False),
                 P("token", "str", required=False, max_len=2048),
                 P("lastEventId", required=False, minimum=0)]
POLL_PARAMS = [ap.session_id(), ap.message_id(required=False), P("taskId", required=False),
               P("title", "bool", required=False, default=False),
               P("token", "str", required=False, max_len=2048),
               P("cursor", required=False, default=0, minimum=0),
               P("rcursor", required=False, default=0, minimum=0),
               P("timeout", "float", required=False, default=25.0, minimum=0, maximum=30)]


async def _caller(request: Request, s: Services, p: dict[str, Any]) -> str:
    """The user, from AppAPI headers or from a stream token bound to exactly this session and message."""
    if request.scope.get("auth") != "token":
        return current_user(request)
    grant = s.tokens.verify(p["token"] or "")
    if grant.session_id != p["sessionId"] or grant.message_id != p.get("messageId") or p.get("title"):
        raise InvalidToken("Invalid stream token for this message")
    return grant.user_id


def _cors(request: Request, s: Services) -> dict[str, str]:
    """CORS only for the Nextcloud origin, and only for token requests (the admin-exposed URL)."""
    origin = request.headers.get("origin")
    if request.scope.get("auth") != "token" or not origin:
        return {}
    nc = urlsplit(s.env.nextcloud_url)
    if origin.rstrip("/") == f"{nc.scheme}://{nc.netloc}":
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {}


async def _resolve(s: Services, user: str, p: dict[str, Any], *, start: bool
                   ) -> tuple[str, Generation | None, dict[str, Any] | None]:
    """(event log key, live generation or None, stored message or None) for the requested answer."""
    sid = p["sessionId"]
    if p.get("title"):
        await s.storage.get_session(user, sid)
        gen = s.generations.title_for(sid)
        if gen is None and start:
            gen = await s.generations.title(user, sid)
        if gen is None:
            raise NotFound("No title is being generated")
        return gen.key, gen, None
    if p.get("messageId") is not None:
        result = await s.generations.answer(user, sid, p["messageId"]) if start else None
        if result is None:
            raise MissingParameter("messageId or taskId is required")
    elif p.get("taskId") is not None:
        message = await s.storage.get_message(user, sid, p["taskId"])
        if message["role"] != "assistant":
            raise MessageNotFound("taskId must be an assistant message")
        result = s.generations.for_message(message["id"]) or message
    else:
        raise MissingParameter("messageId or taskId is required")
    if isinstance(result, Generation):
        return result.key, result, None
    return answer_key(result["id"]), None, result


# --- Server-Sent Events --------------------------------------------------------------------------


# The same text as json.dumps(x, separators=(",", ":")), without building a new encoder per call
# (json.dumps does that whenever an argument differs from its defaults): this runs once per event.
_compact_json = json.JSONEncoder(separators=(",", ":")).encode
_json_str = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


def _frame(event_id: int, payload: dict[str, Any]) -> str:
    return f"id: {event_id}\ndata: {_compact_json(payload)}\n\n"


def _text_frame(event_id: int, kind: str, text: str) -> str:
    """The frame of a chunk/reasoning event, written directly: the hot path while relaying."""
    return f'id: {event_id}\ndata: {{"{kind}":{_json_str(text)}}}\n\n'


def encode_events(events: list[Event]) -> str:
    """SSE text for a batch; consecutive chunks merge into one event carrying the last id.

    Merging is what keeps a relay that fell behind from falling further behind: one write per batch.
    """
    if len(events) == 1 and events[0][1] in ("chunk", "reasoning"):
        # The usual case while keeping up: one text event, framed without any generic JSON encoding.
        event_id, kind, data = events[0]
        return _text_frame(event_id, kind, data)
    out: list[str] = []
    pending: list[str] = []
    pending_kind = ""
    last_id = 0
    for event_id, kind, data in events:
        if kind in ("chunk", "reasoning") and (not pending or pending_kind == kind):
            pending.append(data)
            pending_kind, last_id = kind, event_id
            continue
        if pending:
            out.append(_text_frame(last_id, pending_kind, "".join(pending)))
            pending = []
        if kind in ("chunk", "reasoning"):
            pending, pending_kind, last_id = [data], kind, event_id
        else:
            out.append(_frame(event_id, data))
    if pending:
        out.append(_text_frame(last_id, pending_kind, "".join(pending)))
    return "".join(out)


def _bounded(events: list[Event]) -> list[Event]:
    """The leading events holding up to MAX_BATCH_CHARS of text (always at least one event)."""
    size = 0
    for i, (_id, _kind, data) in enumerate(events):
        if isinstance(data, str):
            size += len(data)
            if size > MAX_BATCH_CHARS and i > 0:
                return events[:i]
    return events


async def _follow(s: Services, key: str, after: int) -> AsyncIterator[str]:
    eventlog = s.eventlog
    try:
        while True:
            events, closed = eventlog.read(key, after)
            if len(events) > 1:
                batch = _bounded(events)
                if len(batch) < len(events):
                    events, closed = batch, False  # the rest is sent once this batch has drained
            if events:
                after = events[-1][0]
                yield encode_events(events)
                if events[-1][1] in ("done", "error"):
                    return
            if closed:
                return
            if not await eventlog.wait(key, after, HEARTBEAT):
                yield ": keepalive\n\n"
    finally:
        # Nothing to release: the generation runs on without readers. Logged for troubleshooting only.
        log.debug("stream reader for %s ended after event %d", key, after)


def _replay_stored(message: dict[str, Any], after: int) -> str:
    """Events for an answer whose log has expired: the whole text, or only `done` for a resuming reader."""
    status = message["status"]
    started = {"started": True, "messageId": message["id"], "replyTo": message["reply_to"],
               "model": message["model"], "engine": "stream"}
    if status == "error":
        final: tuple[str, dict[str, Any]] = ("error", {"error": message["error"] or "The answer failed",
                                                       "code": "generation_failed", "message": message})
    else:
        final = ("done", {"done": True, "message": message, "status": status,
                          "finishReason": message["finish_reason"], "usage": None,
                          "tokensPerSecond": message["tokens_per_second"]})
    if after > 0:
        # The reader saw part of it already; `message.content` in `done` is the complete answer.
        return _frame(after + 1, final[1])
    events: list[Event] = [(1, "started", started)]
    if message["reasoning"]:
        events.append((2, "reasoning", message["reasoning"]))
    if message["content"]:
        events.append((len(events) + 1, "chunk", message["content"]))
    events.append((len(events) + 1, final[0], final[1]))
    return encode_events(events)


@router.get("/chat/stream", openapi_extra=ap.openapi("GET", STREAM_PARAMS, extra_status=(429, 502),
                                                    ok=ap.SSE_EVENT_SCHEMA, ok_media="text/event-stream"),
            response_class=Response)
async def stream(request: Request) -> Response:
    s = services(request)
    p = await ap.read(request, STREAM_PARAMS)
    user = await _caller(request, s, p)
    if not p["title"] and p["messageId"] is None:
        raise MissingParameter("Missing parameter messageId")
    header = request.headers.get("last-event-id", "")
    # isascii: str.isdigit() accepts "²" (a latin-1 header byte), which int() refuses.
    after = p["lastEventId"] or (int(header) if header.isascii() and header.isdigit() and len(header) < 12 else 0)
    key, _gen, stored = await _resolve(s, user, p, start=True)
    headers = {**SSE_HEADERS, **_cors(request, s)}
    if stored is not None and not s.eventlog.has(key):
        return Response(_replay_stored(stored, after), media_type="text/event-stream", headers=headers)
    return StreamingResponse(_follow(s, key, after), media_type="text/event-stream", headers=headers)


# --- long-poll -----------------------------------------------------------------------------------


def _poll_body(gen: Generation | None, message: dict[str, Any] | None, cursor: int, rcursor: int
               ) -> dict[str, Any]:
    if gen is not None:
        text, reasoning, status = gen.text, gen.reasoning, gen.status
        body: dict[str, Any] = {"messageId": gen.message_id, "replyTo": gen.reply_to}
        final = gen.final_message
        done = gen.finished
        if done:
            body.update(finishReason=gen.finish_reason, usage=gen.usage_dict(),
                        tokensPerSecond=gen.tokens_per_second())
            if gen.error is not None:
                body.update(render_sse(gen.error))
            if gen.kind == "title":
                body["title"] = clean_title(text)
    else:
        assert message is not None
        text, reasoning, status, final = message["content"], message["reasoning"], message["status"], message
        done = status != "generating"
        body = {"messageId": message["id"], "replyTo": message["reply_to"],
                "finishReason": message["finish_reason"], "tokensPerSecond": message["tokens_per_second"]}
        if status == "error":
            body.update(error=message["error"] or "The answer failed", code="generation_failed")
    body.update(status=status if done else "generating", done=done, text=text[cursor:], cursor=max(cursor, len(text)),
                reasoning=reasoning[rcursor:], rcursor=max(rcursor, len(reasoning)))
    if done:
        body["message"] = final
    return body


@router.get("/chat/poll", openapi_extra=ap.openapi("GET", POLL_PARAMS, extra_status=(429, 502), ok=ap.POLL_SCHEMA),
            response_class=JSONResponse)
async def poll(request: Request) -> Response:
    s = services(request)
    p = await ap.read(request, POLL_PARAMS)
    user = await _caller(request, s, p)
    key, gen, stored = await _resolve(s, user, p, start=p["messageId"] is not None or p["title"])
    cursor, rcursor = p["cursor"], p["rcursor"]
    if gen is not None and not gen.finished and gen.text_len <= cursor and gen.reasoning_len <= rcursor:
        await s.eventlog.wait(key, s.eventlog.last_id(key), p["timeout"])
    return JSONResponse(_poll_body(gen, stored, cursor, rcursor),
                        headers={"Cache-Control": "no-cache", **_cors(request, s)})


# --- stream tokens -------------------------------------------------------------------------------

TOKEN_PARAMS = [ap.session_id(), ap.message_id()]


@router.post("/chat/stream_token", openapi_extra=ap.openapi("POST", TOKEN_PARAMS, ok={
    "type": "object", "required": ["token", "expiresAt", "url"],
    "properties": {"token": {"type": "string"}, "expiresAt": {"type": "integer"}, "url": {"type": "string"}}}),
    response_class=JSONResponse)
async def stream_token(request: Request) -> Response:
    s = services(request)
    user = current_user(request)
    p = await ap.read(request, TOKEN_PARAMS)
    message = await s.storage.get_message(user, p["sessionId"], p["messageId"])
    if message["role"] != "human":
        raise MessageNotFound("messageId must be the user's message")
    settings = await s.config.get()
    if not settings.streaming_public_url:
        raise NoPublicUrl()
    token, expires = s.tokens.mint(user, p["sessionId"], p["messageId"])
    query = urlencode({"sessionId": p["sessionId"], "messageId": p["messageId"], "token": token})
    return JSONResponse({"token": token, "expiresAt": expires,
                         "url": f"{settings.streaming_public_url}/chat/stream?{query}"},
                        headers={"Cache-Control": "no-store"})


__all__ = ["encode_events", "router", "title_key"]
