"""The wire contract in one place: SSE events (started, chunk, reasoning, done, error), poll bodies, answers, errors.

Every payload is built here from an AnswerView, whether the answer is live or stored, so that a replay
from the database is byte for byte what the live stream sent. Message JSON is the stored record itself
(docs/api.md "Records").

Rendered per reader: ``admin`` (a Nextcloud administrator) is also told a failure's ``detail`` (the provider's
URL and words, an exception's name) and a stored message's ``error_detail``; everyone else never receives them.
The event log holds views, never rendered text, so the readers of one answer can differ.
"""

from __future__ import annotations

import json
from typing import Any

from ..chat.answer import AnswerView
from ..chat.eventlog import Event, Kind, Payload
from ..core.error_render import admin_detail, public_message, render_sse
from ..core.errors import AppError, GenerationFailed, from_code
from ..core.events import Usage
from ..store.values import Record

# The same text as json.dumps(x, separators=(",", ":")), without building a new encoder per call
# (json.dumps does that whenever an argument differs from its defaults): this runs once per event.
_compact_json = json.JSONEncoder(separators=(",", ":")).encode
_json_str = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
_TEXT_KINDS = ("chunk", "reasoning")

KEEPALIVE = ": keepalive\n\n"


# --- event payloads --------------------------------------------------------------------------------


def usage_json(usage: Usage | None) -> dict[str, int | None] | None:
    if usage is None:
        return None
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens}


def record(row: Record | None, admin: bool) -> Record | None:
    """A message as this reader may see it. A failed answer's stored words are the administrator's detail:
    ``error`` becomes what everyone is told, and only an administrator also gets ``error_detail``."""
    if row is None or row.get("error") is None:
        return row
    exc = from_code(row.get("error_code"), row["error"])
    detail = admin_detail(exc)
    if detail is None:
        return row
    shown = {**row, "error": public_message(exc)}
    if admin:
        shown["error_detail"] = detail
    return shown


def records(rows: list[Record], admin: bool) -> list[Record]:
    return [record(row, admin) or row for row in rows]


def tells_error(rows: list[Record | None]) -> bool:
    """Whether any of ``rows`` holds an error (only then does the reader's role matter)."""
    return any(row is not None and row.get("error") is not None for row in rows)


def ends_in_error(view: AnswerView) -> bool:
    """Whether what is told of ``view`` when it ends holds an error (only then does the reader's role matter)."""
    return view.done and (view.status == "error" or tells_error([view.message]))


def started(view: AnswerView) -> dict[str, Any]:
    return {"started": True, "messageId": view.message_id, "replyTo": view.reply_to, "model": view.model,
            "engine": view.engine, "connection": view.connection}


def final(view: AnswerView, admin: bool = False) -> tuple[Kind, dict[str, Any]]:
    """The last event of an answer: ``error`` with the message as stored, or ``done``."""
    message = record(view.message, admin)
    if view.status == "error":
        return "error", {**render_sse(view.error or GenerationFailed(), admin=admin), "message": message}
    payload: dict[str, Any] = {"done": True, "message": message, "status": view.status,
                               "finishReason": view.finish_reason, "usage": usage_json(view.usage),
                               "tokensPerSecond": view.tokens_per_second}
    if view.kind == "title":
        payload["title"] = view.title
    return "done", payload


def payload(kind: Kind, data: Payload, admin: bool = False) -> dict[str, Any]:
    """The JSON of a non-text event as it is in the event log."""
    assert isinstance(data, AnswerView)
    return started(data) if kind == "started" else final(data, admin)[1]


# --- Server-Sent Events ------------------------------------------------------------------------------


def frame(event_id: int, data: dict[str, Any]) -> str:
    return f"id: {event_id}\ndata: {_compact_json(data)}\n\n"


def text_frame(event_id: int, kind: str, text: str) -> str:
    """The frame of a chunk/reasoning event, written directly: the hot path while relaying."""
    return f'id: {event_id}\ndata: {{"{kind}":{_json_str(text)}}}\n\n'


def error_frame(exc: AppError, admin: bool = False) -> str:
    """An ``error`` event outside the answer's log (no id: a reader that reconnects resumes where it was)."""
    return f"data: {_compact_json(render_sse(exc, admin=admin))}\n\n"


def batch_ends_in_error(events: list[Event]) -> bool:
    """Whether a batch ends the answer with an error (the end is always the log's last event)."""
    return bool(events) and events[-1][1] in ("done", "error") and ends_in_error(events[-1][2])  # type: ignore[arg-type]


def encode_events(events: list[Event], admin: bool = False) -> str:
    """SSE text for a batch; consecutive chunks merge into one event carrying the last id.

    Merging is what keeps a relay that fell behind from falling further behind: one write per batch.
    """
    if len(events) == 1 and events[0][1] in _TEXT_KINDS:
        # The usual case while keeping up: one text event, framed without any generic JSON encoding.
        event_id, kind, data = events[0]
        return text_frame(event_id, kind, data)  # type: ignore[arg-type]
    out: list[str] = []
    pending: list[str] = []
    pending_kind = ""
    last_id = 0
    for event_id, kind, data in events:
        if kind in _TEXT_KINDS and (not pending or pending_kind == kind):
            pending.append(data)  # type: ignore[arg-type]
            pending_kind, last_id = kind, event_id
            continue
        if pending:
            out.append(text_frame(last_id, pending_kind, "".join(pending)))
            pending = []
        if kind in _TEXT_KINDS:
            pending, pending_kind, last_id = [data], kind, event_id  # type: ignore[list-item]
        else:
            out.append(frame(event_id, payload(kind, data, admin)))
    if pending:
        out.append(text_frame(last_id, pending_kind, "".join(pending)))
    return "".join(out)


def replay(view: AnswerView, after: int, admin: bool = False) -> str:
    """The events of an answer whose log has expired, as the live stream sent them: the whole text in one
    event per kind (as a reader that fell behind gets it), or only the last event for a resuming reader."""
    kind, last = final(view, admin)
    if after > 0:
        # The reader saw part of it already; `message.content` in the last event is the complete answer.
        return frame(after + 1, last)
    # Ids as the event log gives them (a text event advances the id by its length): the same ids a reader
    # that fell behind got from the live log, so the replay is byte for byte what it would have read.
    events: list[Event] = [(1, "started", view)]
    position = 1
    if view.reasoning:
        position += len(view.reasoning)
        events.append((position, "reasoning", view.reasoning))
    if view.text:
        position += len(view.text)
        events.append((position, "chunk", view.text))
    events.append((position + 1, kind, view))
    return encode_events(events, admin)


# --- JSON bodies -----------------------------------------------------------------------------------


def poll_body(view: AnswerView, cursor: int, rcursor: int, admin: bool = False) -> dict[str, Any]:
    """One long-poll answer: the text after the cursors, and when done how the answer ended."""
    body: dict[str, Any] = {"messageId": view.message_id, "replyTo": view.reply_to}
    if view.done:
        body.update(finishReason=view.finish_reason, usage=usage_json(view.usage),
                    tokensPerSecond=view.tokens_per_second)
        if view.status == "error":
            body.update(render_sse(view.error or GenerationFailed(), admin=admin))
        if view.kind == "title":
            body["title"] = view.title
    body.update(status=view.status, done=view.done, text=view.text[cursor:], cursor=max(cursor, len(view.text)),
                reasoning=view.reasoning[rcursor:], rcursor=max(rcursor, len(view.reasoning)))
    if view.done:
        body["message"] = record(view.message, admin)
    return body


def generation_info(view: AnswerView) -> dict[str, Any]:
    """What /chat/generate and /chat/regenerate answer (Assistant's taskId is our message id)."""
    return {"taskId": view.message_id, "messageId": view.message_id, "replyTo": view.reply_to,
            "engine": view.engine}


def check_generation(view: AnswerView, admin: bool = False) -> tuple[int, Any]:
    """(status, body) of /chat/check_generation: 417 while running, 400 with the error, else the message."""
    if not view.done:
        return 417, {"task_status": 2 if view.first_token else 1, "task_output": view.text, "message": view.message}
    if view.status == "error":
        error = render_sse(view.error or GenerationFailed(), admin=admin)
        return 400, {**error, "message": record(view.message, admin)}
    return 200, record(view.message, admin)
