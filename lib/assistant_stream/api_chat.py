"""The /chat/* JSON routes, shaped like Nextcloud Assistant's chat API so its clients work here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import api_params as ap
from .api_params import P
from .client_config import client_config
from .core.errors import EmptyMessage, InvalidParameter
from .core.limits import MAX_TIMESTAMP
from .generations import Generation
from .services import current_user, services

router = APIRouter()

Handler = Callable[[Request, str, dict[str, Any]], Awaitable[Response | Any]]

MAX_TITLE = 500
MAX_CONTENT = 100_000


def route(verbs: str | Sequence[str], path: str, params: Sequence[P], *, extra_status: Sequence[int] = (),
          ok: dict[str, Any] | None = None, schemas: dict[int, dict[str, Any]] | None = None
          ) -> Callable[[Handler], Handler]:
    """Register a handler that gets (request, user, params); its return value becomes JSON.

    ``ok`` is the schema of the 200 body and ``schemas`` of other documented bodies (OpenAPI only).
    """
    verb_list = [verbs] if isinstance(verbs, str) else list(verbs)

    def wrap(fn: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            user = current_user(request)
            values = await ap.read(request, params)
            result = await fn(request, user, values)
            return result if isinstance(result, Response) else json(result)

        endpoint.__name__ = fn.__name__
        endpoint.__doc__ = fn.__doc__
        for verb in verb_list:
            # One route per verb: each gets its own operation id and its own parameter documentation
            # (required in the query for GET, optional there for verbs that may send a JSON body).
            operation_id = f"{fn.__name__}_{verb.lower()}" if len(verb_list) > 1 else None
            router.add_api_route(path, endpoint, methods=[verb], operation_id=operation_id,
                                 openapi_extra=ap.openapi(verb, params, extra_status=extra_status, ok=ok,
                                                          schemas=schemas), response_class=JSONResponse)
        return fn

    return wrap


def json(content: Any, status: int = 200) -> JSONResponse:
    # JSON from the proxy would otherwise be cached by nobody, but say so explicitly everywhere.
    return JSONResponse(content, status_code=status, headers={"Cache-Control": "no-cache"})


def generation_info(gen: Generation | dict[str, Any]) -> dict[str, Any]:
    if isinstance(gen, dict):
        return {"taskId": gen["id"], "messageId": gen["id"], "replyTo": gen["reply_to"],
                "engine": "stream" if gen.get("model") != "nextcloud" else "taskprocessing"}
    return {"taskId": gen.message_id, "messageId": gen.message_id, "replyTo": gen.reply_to, "engine": gen.engine}


# --- sessions --------------------------------------------------------------------------------------


@route("PUT", "/chat/new_session", [P("title", "str", required=False, max_len=MAX_TITLE),
                                    P("timestamp", required=False, minimum=0, maximum=MAX_TIMESTAMP)],
       ok={"type": "object", "required": ["session"], "properties": {"session": ap.SESSION_SCHEMA}})
async def new_session(request: Request, user: str, p: dict[str, Any]) -> Any:
    session = await services(request).storage.create_session(user, p["title"], p["timestamp"])
    return {"session": session}


@route("PATCH", "/chat/update_session", [ap.session_id(), P("title", "str", max_len=MAX_TITLE)],
       ok=ap.EMPTY_SCHEMA)
async def update_session(request: Request, user: str, p: dict[str, Any]) -> Any:
    await services(request).storage.update_session_title(user, p["sessionId"], p["title"])
    return {}


@route("DELETE", "/chat/delete_session", [ap.session_id()], ok=ap.EMPTY_SCHEMA)
async def delete_session(request: Request, user: str, p: dict[str, Any]) -> Any:
    s = services(request)
    await s.storage.get_session(user, p["sessionId"])
    await s.generations.stop_session(user, p["sessionId"])
    await s.storage.delete_session(user, p["sessionId"])
    return {}


@route("GET", "/chat/sessions", [], ok={"type": "array", "items": ap.SESSION_SCHEMA})
async def sessions(request: Request, user: str, p: dict[str, Any]) -> Any:
    return await services(request).storage.list_sessions(user)


@route("GET", "/chat/check_session", [ap.session_id()], ok={
    "type": "object", "required": ["messageTaskId", "titleTaskId", "sessionTitle"],
    "properties": {"messageTaskId": {"type": ["integer", "null"]}, "titleTaskId": {"type": ["integer", "null"]},
                   "sessionTitle": {"type": ["string", "null"]}}})
async def check_session(request: Request, user: str, p: dict[str, Any]) -> Any:
    s = services(request)
    session = await s.storage.get_session(user, p["sessionId"])
    gen = s.generations.for_session(p["sessionId"])
    title = s.generations.title_for(p["sessionId"])
    return {"messageTaskId": gen.message_id if gen else None,
            "titleTaskId": p["sessionId"] if title and not title.finished else None,
            "sessionTitle": session["title"]}


# --- messages --------------------------------------------------------------------------------------


@route("PUT", "/chat/new_message", [ap.session_id(), P("role", "str", max_len=20),
                                    P("content", "str", max_len=MAX_CONTENT),
                                    P("timestamp", required=False, minimum=0, maximum=MAX_TIMESTAMP),
                                    P("firstHumanMessage", "bool", required=False, default=False)],
       ok=ap.MESSAGE_SCHEMA)
async def new_message(request: Request, user: str, p: dict[str, Any]) -> Any:
    storage = services(request).storage
    content = p["content"].strip()
    if not content:
        raise EmptyMessage()
    if p["role"] not in ("human", "assistant"):
        raise InvalidParameter("role must be human or assistant")
    title = None
    if p["firstHumanMessage"]:
        # Nextcloud Assistant's behaviour: the first question is the title until one is generated.
        title = content if len(content) <= 140 else content[:140] + "..."
    # One transaction: a failure must not leave the message stored without its title (the client,
    # told it failed, would send the message again).
    return await storage.add_message(user, p["sessionId"], p["role"], content, p["timestamp"],
                                     session_title=title)


@route("DELETE", "/chat/delete_message", [ap.session_id(), ap.message_id()], ok=ap.EMPTY_SCHEMA)
async def delete_message(request: Request, user: str, p: dict[str, Any]) -> Any:
    s = services(request)
    message = await s.storage.get_message(user, p["sessionId"], p["messageId"])
    if message["status"] == "generating":
        await s.generations.stop(user, p["sessionId"], p["messageId"])
    await s.storage.delete_message(user, p["sessionId"], p["messageId"])
    return {}


@route("GET", "/chat/messages", [ap.session_id(), P("limit", required=False, default=20, maximum=200),
                                 # An offset can never exceed the number of rows: the storage's id range.
                                 P("cursor", required=False, default=0, minimum=0, maximum=2**31 - 1)],
       ok={"type": "array", "items": ap.MESSAGE_SCHEMA})
async def messages(request: Request, user: str, p: dict[str, Any]) -> Any:
    return await services(request).storage.list_messages(user, p["sessionId"], p["limit"], p["cursor"])


@route("GET", "/chat/message", [ap.session_id(), ap.message_id()], ok=ap.MESSAGE_SCHEMA)
async def message(request: Request, user: str, p: dict[str, Any]) -> Any:
    return await services(request).storage.get_message(user, p["sessionId"], p["messageId"])


# --- generations -----------------------------------------------------------------------------------


@route(["GET", "POST"], "/chat/generate", [ap.session_id()], extra_status=(429, 502), ok=ap.GENERATION_SCHEMA)
async def generate(request: Request, user: str, p: dict[str, Any]) -> Any:
    return generation_info(await services(request).generations.answer(user, p["sessionId"], None))


@route(["GET", "POST"], "/chat/regenerate", [ap.session_id(), ap.message_id()], extra_status=(429, 502),
       ok=ap.GENERATION_SCHEMA)
async def regenerate(request: Request, user: str, p: dict[str, Any]) -> Any:
    return generation_info(await services(request).generations.regenerate(user, p["sessionId"], p["messageId"]))


@route("GET", "/chat/check_generation", [P("taskId"), ap.session_id()], extra_status=(417,),
       ok=ap.MESSAGE_SCHEMA, schemas={417: ap.RUNNING_SCHEMA, 400: ap.FAILED_SCHEMA})
async def check_generation(request: Request, user: str, p: dict[str, Any]) -> Any:
    s = services(request)
    message = await s.storage.get_message(user, p["sessionId"], p["taskId"])
    if message["status"] == "generating":
        gen = s.generations.for_message(message["id"])
        output = gen.text if gen else message["content"]
        running = 2 if gen is not None and gen.first_token_at is not None else 1
        return json({"task_status": running, "task_output": output, "message": message}, 417)
    if message["status"] == "error":
        return json({"error": message["error"] or "The answer failed", "code": "generation_failed",
                     "message": message}, 400)
    return message


@route(["GET", "POST"], "/chat/generate_title", [ap.session_id()], extra_status=(429, 502),
       ok={"type": "object", "required": ["taskId"], "properties": {"taskId": {"type": "integer"}}})
async def generate_title(request: Request, user: str, p: dict[str, Any]) -> Any:
    await services(request).generations.title(user, p["sessionId"])
    return {"taskId": p["sessionId"]}


@route("GET", "/chat/check_title_generation", [P("taskId"), ap.session_id()], extra_status=(417,),
       ok={"type": "object", "required": ["sessionTitle"],
           "properties": {"sessionTitle": {"type": ["string", "null"]}}},
       schemas={417: ap.RUNNING_SCHEMA})
async def check_title_generation(request: Request, user: str, p: dict[str, Any]) -> Any:
    s = services(request)
    await s.storage.get_session(user, p["sessionId"])  # 404 before anything else is told
    gen = s.generations.title_for(p["sessionId"])
    if gen is not None and not gen.finished:
        return json({"task_status": 2, "task_output": gen.text}, 417)
    if gen is not None and gen.status == "error" and gen.error is not None:
        return json({"error": gen.error.message, "code": gen.error.code}, 400)
    # Read only now: a title read before the generation finished would be the old one.
    return {"sessionTitle": (await s.storage.get_session(user, p["sessionId"]))["title"]}


@route("POST", "/chat/stop", [ap.session_id(), ap.message_id()],
       ok={"type": "object", "required": ["message"], "properties": {"message": ap.MESSAGE_SCHEMA}})
async def stop(request: Request, user: str, p: dict[str, Any]) -> Any:
    return {"message": await services(request).generations.stop(user, p["sessionId"], p["messageId"])}


@route("GET", "/chat/config", [], ok={
    "type": "object", "required": ["appId", "version", "local", "isAdmin", "apiBase", "delivery", "engine", "model"],
    "properties": {"appId": {"type": "string"}, "local": {"type": "boolean"}, "isAdmin": {"type": "boolean"},
                   "delivery": {"type": "object", "required": ["mode", "streamBase", "reason"],
                                "properties": {"mode": {"enum": ["harp", "public", "direct", "poll"]}}},
                   "engine": {"enum": ["stream", "taskprocessing", None]}}})
async def config(request: Request, user: str, p: dict[str, Any]) -> Any:
    return await client_config(services(request), user=user, local=request.scope.get("auth") == "local")
