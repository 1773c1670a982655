"""OpenAPI for every route: parameters, response bodies (docs/api.md "Records") and every status a route answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .params import P

_DETAIL = {"type": "string", "description": "what failed where: for Nextcloud administrators only"}
ERROR_SCHEMA = {"type": "object", "properties": {"error": {"type": "string"}, "code": {"type": "string"},
                                                 "detail": _DETAIL},
                "required": ["error"]}


# --- response schemas (docs/api.md "Records"); the fuzz test checks every response against them ---

def _nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


SESSION_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["id", "user_id", "title", "timestamp"],
    "properties": {"id": {"type": "integer"}, "user_id": {"type": "string"}, "title": _nullable("string"),
                   "timestamp": {"type": "integer"}, "context_chat": {"type": "boolean"},
                   "title_manual": {"type": "boolean"}, "last_activity": {"type": "integer"},
                   "generating": {"type": "boolean"}, "empty": {"type": "boolean"},
                   "connection": _nullable("string"), "model": _nullable("string")}}
MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "session_id", "role", "content", "timestamp", "reasoning", "status", "reply_to"],
    "properties": {
        "id": {"type": "integer"}, "session_id": {"type": "integer"},
        "role": {"enum": ["human", "assistant", "system"]}, "content": {"type": "string"},
        "timestamp": {"type": "integer"}, "reasoning": {"type": "string"},
        "status": {"enum": ["generating", "done", "error", "cancelled", "interrupted"]},
        "error": _nullable("string"), "finish_reason": _nullable("string"), "reply_to": _nullable("integer"),
        "model": _nullable("string"), "prompt_tokens": _nullable("integer"),
        "completion_tokens": _nullable("integer"), "total_tokens": _nullable("integer"),
        "tokens_per_second": _nullable("number"), "sources": {"type": "string"},
        "attachments": {"type": "string"}, "engine": {"enum": ["stream", "taskprocessing", "context_chat", None]},
        "error_code": _nullable("string"), "thinking_ms": _nullable("integer"), "retry_after": _nullable("integer"),
        "error_detail": {"type": "string", "description": "a failed answer's diagnosis: for administrators only"},
        "parent_id": _nullable("integer"), "connection": _nullable("string"),
        "sibling_ids": {"type": "array", "items": {"type": "integer"}}}}
ATTACHMENT_SCHEMA: dict[str, Any] = {  # an attached file (a "chip"; its text is never sent back)
    "type": "object", "required": ["id", "name", "kind", "mime", "size", "source", "chars", "truncated"],
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "kind": {"enum": ["text", "image"]},
                   "mime": {"type": "string"}, "size": {"type": "integer"}, "source": {"enum": ["files", "upload"]},
                   "fileId": _nullable("integer"), "path": _nullable("string"), "chars": {"type": "integer"},
                   "truncated": {"type": "boolean"}}}
OPTIONS_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["connection", "model", "system_prompt", "temperature", "max_tokens"],
    "properties": {"connection": _nullable("string"), "model": _nullable("string"),
                   "system_prompt": _nullable("string"), "temperature": _nullable("number"),
                   "max_tokens": _nullable("integer")}}
PRESET_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["id", "name", "shared", *OPTIONS_SCHEMA["required"]],
    "properties": {"id": {"type": ["integer", "string"]}, "name": {"type": "string"}, "shared": {"type": "boolean"},
                   **OPTIONS_SCHEMA["properties"]}}
_STRINGS = {"type": "array", "items": {"type": "string"}}
MODELS_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["connections", "default"],
    "properties": {
        "connections": {"type": "array", "items": {
            "type": "object", "required": ["id", "name", "models"],
            "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "models": _STRINGS}}},
        "default": {"anyOf": [{"type": "null"}, {"type": "object", "required": ["connection", "model"]}]}}}
GENERATION_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["taskId", "messageId", "replyTo", "engine"],
    "properties": {"taskId": {"type": "integer"}, "messageId": {"type": "integer"},
                   "replyTo": {"type": "integer"}, "engine": {"enum": ["stream", "taskprocessing", "context_chat"]}}}
EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "maxProperties": 0}
RUNNING_SCHEMA: dict[str, Any] = {  # 417 of check_generation / check_title_generation
    "type": "object", "required": ["task_status", "task_output"],
    "properties": {"task_status": {"enum": [1, 2]}, "task_output": {"type": "string"},
                   "message": MESSAGE_SCHEMA}}
FAILED_SCHEMA: dict[str, Any] = {  # 400 of check_generation: the error plus the stored message
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "string"}, "code": {"type": "string"}, "detail": _DETAIL,
                   "message": MESSAGE_SCHEMA}}
POLL_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["status", "done", "text", "cursor", "reasoning", "rcursor", "messageId"],
    "properties": {"status": {"enum": ["generating", "done", "error", "cancelled", "interrupted"]},
                   "done": {"type": "boolean"}, "text": {"type": "string"}, "cursor": {"type": "integer"},
                   "reasoning": {"type": "string"}, "rcursor": {"type": "integer"},
                   "messageId": _nullable("integer"), "replyTo": _nullable("integer"),
                   "message": {"anyOf": [MESSAGE_SCHEMA, {"type": "null"}]}, "error": {"type": "string"},
                   "code": {"type": "string"}, "retryAfter": {"type": "integer"}, "detail": _DETAIL,
                   "title": {"type": "string"}}}
# One Server-Sent Event of /chat/stream (the schema of a text/event-stream body describes each event);
# `data` is JSON: started, a chunk or reasoning delta, or the final done / error.
SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["data", "id"],
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$"}, "event": {"const": "message"},
        "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": {
            "type": "object", "anyOf": [
                {"required": ["started", "messageId", "replyTo", "engine"],
                 "properties": {"started": {"const": True},
                                "engine": {"enum": ["stream", "taskprocessing", "context_chat"]}}},
                {"required": ["chunk"], "maxProperties": 1, "properties": {"chunk": {"type": "string"}}},
                {"required": ["reasoning"], "maxProperties": 1, "properties": {"reasoning": {"type": "string"}}},
                {"required": ["done", "message"], "properties": {
                    "done": {"const": True}, "message": {"anyOf": [MESSAGE_SCHEMA, {"type": "null"}]}}},
                {"required": ["error", "code"], "properties": {
                    "error": {"type": "string"}, "code": {"type": "string"}, "retryAfter": {"type": "integer"},
                    "detail": _DETAIL, "message": {"anyOf": [MESSAGE_SCHEMA, {"type": "null"}]}}},
            ]}}}}
STATUS_TEXT = {400: "Bad request", 401: "Not authenticated", 404: "Not found (or not this user's)",
               413: "Too large", 415: "Unsupported file type", 417: "Still running",
               422: "The file cannot be used (damaged, encrypted, a bomb, no text)", 429: "Limit reached (Retry-After)",
               502: "Nextcloud or the AI provider failed", 503: "Database unavailable (Retry-After)"}


def openapi(verb: str, params: Sequence[P], *, extra_status: Sequence[int] = (), ok: dict[str, Any] | None = None,
            ok_media: str = "application/json", schemas: dict[int, dict[str, Any]] | None = None
            ) -> dict[str, Any]:
    """``openapi_extra`` for a route: query parameters, a JSON body for verbs that carry one, and every
    status the route can answer with (``ok``: the 200 body, ``schemas``: bodies other than ERROR_SCHEMA)."""
    statuses = {400, 401, 404, 503, *extra_status}  # 503: every route reads or writes the database
    if verb != "GET" or any(p.type == "str" for p in params):
        statuses.add(413)  # a body over MAX_BODY, or a text parameter over its max_len
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": {ok_media: {"schema": ok if ok is not None else {}}}}}
    for code in sorted(statuses):
        schema = (schemas or {}).get(code, ERROR_SCHEMA)
        responses[str(code)] = {"description": STATUS_TEXT.get(code, "See docs/api.md"),
                                "content": {"application/json": {"schema": schema}}}
    out: dict[str, Any] = {
        # Required only for GET: other verbs may send any parameter in the JSON body instead.
        "parameters": [{"name": p.name, "in": "query", "required": p.required and verb == "GET",
                        "schema": p.schema()} for p in params],
        "responses": responses,
    }
    if verb != "GET" and params:
        out["requestBody"] = {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "properties": {p.name: p.schema() for p in params}}}}}
    return out
