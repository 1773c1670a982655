"""The /chat/* JSON routes, shaped like Nextcloud Assistant's chat API so its clients work here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import JSONResponse

from ..core.caller import CallerKind
from ..core.error_render import admin_detail, render_sse
from ..core.limits import MAX_ATTACHMENTS, MAX_CONTENT, MAX_ID, MAX_PAGE, MAX_ROLE, MAX_SEARCH, MAX_TIMESTAMP, MAX_TITLE
from . import schemas as sc
from . import wire
from .client_config import client_config
from .endpoint import Call, route
from .params import P, message_id, session_id

router = APIRouter()

TIMESTAMP = P("timestamp", required=False, minimum=0, maximum=MAX_TIMESTAMP)


# --- sessions --------------------------------------------------------------------------------------


@route(router, "PUT", "/chat/new_session", [P("title", "str", required=False, max_len=MAX_TITLE), TIMESTAMP],
       ok={"type": "object", "required": ["session"], "properties": {"session": sc.SESSION_SCHEMA}})
async def new_session(call: Call) -> Any:
    return {"session": await call.chat.new_session(call.user, call.params["title"], call.params["timestamp"])}


# PUT (what the UI sends) and POST: AppAPI's stock proxy routes only GET, POST, PUT and DELETE and answers a PATCH
# itself with 405. PATCH stays for Nextcloud Assistant's API shape and clients that reach the app directly or via HaRP.
@route(router, ["PUT", "POST", "PATCH"], "/chat/update_session", [session_id(), P("title", "str", max_len=MAX_TITLE)],
       ok=sc.EMPTY_SCHEMA)
async def update_session(call: Call) -> Any:
    await call.chat.rename_session(call.user, call.params["sessionId"], call.params["title"])
    return {}


@route(router, "DELETE", "/chat/delete_session", [session_id()], ok=sc.EMPTY_SCHEMA)
async def delete_session(call: Call) -> Any:
    await call.chat.delete_session(call.user, call.params["sessionId"])
    return {}


@route(router, "GET", "/chat/sessions", [P("q", "str", required=False, max_len=MAX_SEARCH)],
       ok={"type": "array", "items": sc.SESSION_SCHEMA})
async def sessions(call: Call) -> Any:
    """The most recently active first; with ``q``, those whose title or messages contain its words."""
    return await call.chat.sessions(call.user, call.params["q"])


@route(router, "GET", "/chat/check_session", [session_id()], ok={
    "type": "object", "required": ["messageTaskId", "titleTaskId", "sessionTitle"],
    "properties": {"messageTaskId": {"type": ["integer", "null"]}, "titleTaskId": {"type": ["integer", "null"]},
                   "sessionTitle": {"type": ["string", "null"]}}})
async def check_session(call: Call) -> Any:
    sid = call.params["sessionId"]
    state = await call.chat.session_state(call.user, sid)
    return {"messageTaskId": state.answer_id, "titleTaskId": sid if state.title_running else None,
            "sessionTitle": state.title}


# --- messages --------------------------------------------------------------------------------------


@route(router, "PUT", "/chat/new_message", [session_id(), P("role", "str", max_len=MAX_ROLE),
                                            P("content", "str", max_len=MAX_CONTENT, required=False, default=""),
                                            TIMESTAMP,
                                            P("firstHumanMessage", "bool", required=False, default=False),
                                            P("attachments", "ids", required=False, max_len=MAX_ATTACHMENTS,
                                              description="ids of files attached with /chat/attach_file or "
                                                          "/chat/upload_file")],
       ok=sc.MESSAGE_SCHEMA)
async def new_message(call: Call) -> Any:
    p = call.params
    return await call.chat.add_message(call.user, p["sessionId"], p["role"], p["content"], p["timestamp"],
                                       first=p["firstHumanMessage"], attachments=p["attachments"])


@route(router, "DELETE", "/chat/delete_message", [session_id(), message_id()], ok=sc.EMPTY_SCHEMA)
async def delete_message(call: Call) -> Any:
    await call.chat.delete_message(call.user, call.params["sessionId"], call.params["messageId"])
    return {}


@route(router, "GET", "/chat/messages", [session_id(), P("limit", required=False, default=20, maximum=MAX_PAGE),
                                         # An offset can never exceed the number of rows: the id range.
                                         P("cursor", required=False, default=0, minimum=0, maximum=MAX_ID)],
       ok={"type": "array", "items": sc.MESSAGE_SCHEMA})
async def messages(call: Call) -> Any:
    p = call.params
    rows = await call.chat.messages(call.user, p["sessionId"], p["limit"], p["cursor"])
    return wire.records(rows, await call.admin_if(wire.tells_error(rows)))


@route(router, "GET", "/chat/message", [session_id(), message_id()], ok=sc.MESSAGE_SCHEMA)
async def message(call: Call) -> Any:
    row = await call.chat.message(call.user, call.params["sessionId"], call.params["messageId"])
    return wire.record(row, await call.admin_if(wire.tells_error([row])))


# --- generations -----------------------------------------------------------------------------------


@route(router, ["GET", "POST"], "/chat/generate", [session_id()], extra_status=(429, 502),
       ok=sc.GENERATION_SCHEMA)
async def generate(call: Call) -> Any:
    return wire.generation_info(await call.chat.generate(call.user, call.params["sessionId"]))


@route(router, ["GET", "POST"], "/chat/regenerate", [session_id(), message_id()], extra_status=(429, 502),
       ok=sc.GENERATION_SCHEMA)
async def regenerate(call: Call) -> Any:
    p = call.params
    return wire.generation_info(await call.chat.regenerate(call.user, p["sessionId"], p["messageId"]))


@route(router, "GET", "/chat/check_generation", [P("taskId"), session_id()], extra_status=(417,),
       ok=sc.MESSAGE_SCHEMA, schemas={417: sc.RUNNING_SCHEMA, 400: sc.FAILED_SCHEMA})
async def check_generation(call: Call) -> Any:
    view = await call.chat.check_answer(call.user, call.params["sessionId"], call.params["taskId"])
    status, body = wire.check_generation(view, await call.admin_if(wire.ends_in_error(view)))
    return body if status == 200 else JSONResponse(body, status_code=status)


@route(router, ["GET", "POST"], "/chat/generate_title", [session_id()], extra_status=(429, 502),
       ok={"type": "object", "required": ["taskId"], "properties": {"taskId": {"type": "integer"}}})
async def generate_title(call: Call) -> Any:
    await call.chat.generate_title(call.user, call.params["sessionId"])
    return {"taskId": call.params["sessionId"]}


@route(router, "GET", "/chat/check_title_generation", [P("taskId"), session_id()], extra_status=(417,),
       ok={"type": "object", "required": ["sessionTitle"],
           "properties": {"sessionTitle": {"type": ["string", "null"]}}},
       schemas={417: sc.RUNNING_SCHEMA})
async def check_title_generation(call: Call) -> Any:
    state = await call.chat.check_title(call.user, call.params["sessionId"])
    gen = state.generation
    if gen is not None and not gen.done:
        return JSONResponse({"task_status": 2, "task_output": gen.text}, status_code=417)
    if gen is not None and gen.error is not None:
        admin = await call.admin_if(admin_detail(gen.error) is not None)
        return JSONResponse(render_sse(gen.error, admin=admin), status_code=400)
    return {"sessionTitle": state.title}


@route(router, "POST", "/chat/stop", [session_id(), message_id()],
       ok={"type": "object", "required": ["message"], "properties": {"message": sc.MESSAGE_SCHEMA}})
async def stop(call: Call) -> Any:
    row = await call.chat.stop(call.user, call.params["sessionId"], call.params["messageId"])
    return {"message": wire.record(row, await call.admin_if(wire.tells_error([row])))}


@route(router, "GET", "/chat/config", ok={
    "type": "object", "required": ["appId", "version", "local", "isAdmin", "apiBase", "delivery", "engine", "model"],
    "properties": {"appId": {"type": "string"}, "local": {"type": "boolean"}, "isAdmin": {"type": "boolean"},
                   "delivery": {"type": "object", "required": ["mode", "streamBase", "reason"],
                                "properties": {"mode": {"enum": ["harp", "public", "direct", "poll"]}}},
                   "engine": {"enum": ["stream", "taskprocessing", None]}}})
async def config(call: Call) -> Any:
    return await client_config(call.chat, user=call.user, local=call.caller.kind == CallerKind.LOCAL)
