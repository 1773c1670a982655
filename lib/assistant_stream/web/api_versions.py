"""Versions of messages: edit a question, switch between versions, continue a cut-off answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..core.limits import MAX_CONTENT
from . import schemas as sc
from . import wire
from .endpoint import Call, route
from .params import P, message_id, session_id

router = APIRouter()


@route(router, ["POST", "PUT"], "/chat/edit_message",
       [session_id(), message_id(), P("content", "str", max_len=MAX_CONTENT)], ok=sc.MESSAGE_SCHEMA)
async def edit_message(call: Call) -> Any:
    """A new version of a question (stream its answer with /chat/stream?messageId=<the new id>)."""
    p = call.params
    return await call.chat.versions.edit(call.user, p["sessionId"], p["messageId"], p["content"])


@route(router, "POST", "/chat/switch_branch", [session_id(), message_id()], ok={
    "type": "object", "required": ["messages", "more"],
    "properties": {"messages": {"type": "array", "items": sc.MESSAGE_SCHEMA}, "more": {"type": "boolean"}}})
async def switch_branch(call: Call) -> Any:
    """Show this version of a message: the branch from it on (``more``: longer than one page)."""
    tail, more = await call.chat.versions.switch(call.user, call.params["sessionId"], call.params["messageId"])
    return {"messages": wire.records(tail, await call.admin_if(wire.tells_error(tail))), "more": more}


@route(router, ["GET", "POST"], "/chat/continue", [session_id(), message_id()], extra_status=(429, 502),
       ok=sc.GENERATION_SCHEMA)
async def continue_answer(call: Call) -> Any:
    """Go on writing an answer that was cut off; the text is appended to it (stream it like a new answer)."""
    p = call.params
    return wire.generation_info(await call.chat.versions.continue_answer(call.user, p["sessionId"], p["messageId"]))
