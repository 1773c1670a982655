"""Model choice and presets: the models users may pick, a conversation's options, presets (shared and own)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..core.limits import MAX_CONNECTION_NAME, MAX_MAX_TOKENS, MAX_MODEL_NAME, MAX_SYSTEM_PROMPT
from ..core.presets import MAX_TEMPERATURE
from . import schemas as sc
from .endpoint import Call, route
from .params import ABSENT, P, session_id

router = APIRouter()

# Parameter -> column. Each is nullable: null sets the admin's default back, leaving it out leaves it as it is.
OPTION_PARAMS = {
    "connection": P("connection", "str", required=False, max_len=MAX_MODEL_NAME, nullable=True),
    "model": P("model", "str", required=False, max_len=MAX_MODEL_NAME, nullable=True),
    "system_prompt": P("systemPrompt", "str", required=False, max_len=MAX_SYSTEM_PROMPT, nullable=True),
    "temperature": P("temperature", "float", required=False, minimum=0, maximum=MAX_TEMPERATURE, nullable=True),
    "max_tokens": P("maxTokens", required=False, minimum=1, maximum=MAX_MAX_TOKENS, nullable=True),
}


def _sent(call: Call) -> dict[str, Any]:
    return {column: call.params[p.name] for column, p in OPTION_PARAMS.items() if call.params[p.name] is not ABSENT}


@route(router, "GET", "/chat/models", ok=sc.MODELS_SCHEMA)
async def models(call: Call) -> Any:
    """The models users may choose, grouped by connection, and the default one."""
    return await call.chat.options.models()


SESSION_OPTIONS = {"type": "object", "required": ["session", "options"],
                   "properties": {"session": sc.SESSION_SCHEMA, "options": sc.OPTIONS_SCHEMA}}


@route(router, "GET", "/chat/session_options", [session_id()], ok=SESSION_OPTIONS)
async def session_options(call: Call) -> Any:
    """The conversation (with its "Ask my documents" switch) and its model and prompt options."""
    return await call.chat.options.of_session(call.user, call.params["sessionId"])


@route(router, ["PUT", "POST"], "/chat/session_options",
       [session_id(), P("contextChat", "bool", required=False), *OPTION_PARAMS.values()], ok=SESSION_OPTIONS)
async def set_session_options(call: Call) -> Any:
    """Change what is sent: "Ask my documents" (``contextChat``), the model (one the admin does not allow is a 400)
    and the prompt options."""
    p = call.params
    changes = _sent(call)
    if changes:  # checked first: a refused model leaves the switch as it was
        await call.chat.options.set_for_session(call.user, p["sessionId"], changes)
    if p["contextChat"] is not None:
        await call.chat.set_documents_mode(call.user, p["sessionId"], p["contextChat"])
    return await call.chat.options.of_session(call.user, p["sessionId"])


@route(router, "GET", "/chat/presets", ok={
    "type": "object", "required": ["shared", "own"],
    "properties": {"shared": {"type": "array", "items": sc.PRESET_SCHEMA},
                   "own": {"type": "array", "items": sc.PRESET_SCHEMA}}})
async def presets(call: Call) -> Any:
    return await call.chat.options.presets(call.user)


@route(router, ["PUT", "POST"], "/chat/preset",
       [P("id", required=False), P("name", "str", max_len=MAX_CONNECTION_NAME), *OPTION_PARAMS.values()],
       ok=sc.PRESET_SCHEMA)
async def save_preset(call: Call) -> Any:
    """Save one of the user's own presets (a new one without ``id``)."""
    options = {k: (None if v is ABSENT else v) for k, v in _sent(call).items()}
    return await call.chat.options.save_preset(call.user, call.params["id"], call.params["name"], options)


@route(router, "DELETE", "/chat/preset", [P("id")], ok=sc.EMPTY_SCHEMA)
async def delete_preset(call: Call) -> Any:
    await call.chat.options.delete_preset(call.user, call.params["id"])
    return {}
