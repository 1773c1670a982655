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
from .errors import AppError
from .generations import Generation
from .services import current_user, services

router = APIRouter()

Handler = Callable[[Request, str, dict[str, Any]], Awaitable[Response | Any]]

MAX_TITLE = 500
MAX_CONTENT = 100_000


def route(verbs: str | Sequence[str], path: str, params: Sequence[P], *, extra_status: Sequence[int] = ()
          ) -> Callable[[Handler], Handler]:
    """Register a handler that gets (request, user, params); its return value becomes JSON."""
    verb_list = [verbs] if isinstance(verbs, str) else list(verbs)

    def wrap(fn: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            user = current_user(request)
            values = await ap.read(request, params)
            result = await fn(request, user, values)
            return result if isinstance(result, Response) else json(result)

        endpoint.__name__ = fn.__name__
        endpoint.__doc__ = fn.__doc__
        router.add_api_route(path, endpoint, methods=verb_list, openapi_extra=ap.openapi(
            verb_list[0], params, extra_status=extra_status), response_class=JSONResponse)
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
                                    P("timestamp", required=False, minimum=0)])
async def new_session(request: Request, user: str, p: dict[str, Any]) -> Any:
    session = await services(request).storage.create_session(user, p["title"], p["timestamp"])
    return {"session": session}


@route("PATCH", "/chat/update_session", [ap.session_id(), P("title", "str", max_len=MAX_TITLE)])
async def update_session(request: Request, user: str, p: dict[str, Any]) -> Any:
    await services(request).storage.update_session_title(user, p["sessionId"], p["title"])
    return {}


@route("DELETE", "/chat/delete_session", [ap.session_id()])
async def delete_session(request: Request, user: str, p: dict[str, Any]) -> Any:
    s = services(request)
    await s.storage.get_session(user, p["sessionId"])
    await s.generations.stop_session(user, p["sessionId"])
    await s.storage.delete_session(user, p["sessionId"])
    return {}


@route("GET", "/chat/sessions", [])
async def sessions(request: Request, user: str, p: dict[str, Any]) -> Any:
    return await services(request).storage.list_sessions(user)


@route("GET", "/chat/check_session", [ap.session_id()])
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
                                    P("timestamp", required=False, minimum=0),
                                    P("firstHumanMessage", "bool", required=False, default=False)])
async def new_message(request: Request, user: str, p: dict[str, Any]) -> Any:
    storage = services(request).storage
    content = p["content"].strip()
    if not content:
        raise AppError("Message content is empty", code="empty_message", status=400)
    if p["role"] not in ("human", "assistant"):
        raise AppError("role must be human or assistant", code="invalid_parameter", status=400)
    message = await storage.add_message(user, p["sessionId"], p["role"], content, p["timestamp"])
    if p["firstHumanMessage"]:
        # Nextcloud Assistant's behaviour: the first question is the title until one is generated.
        title = content if len(content) <= 140 else content[:140] + "..."
        await storage.update_session_title(user, p["sessionId"], title)
    return message


@route("DELETE", "/chat/delete_message", [ap.session_id(), ap.message_id()])
async def delete_message(request: Request, user: str, p: dict[str, Any]) -> Any:
    s = services(request)
    message = await s.storage.get_message(user, p["sessionId"], p["messageId"])
    if message["status"] == "generating":
        await s.generations.stop(user, p["sessionId"], p["messageId"])
    await s.storage.delete_message(user, p["sessionId"], p["messageId"])
    return {}


@route("GET", "/chat/messages", [ap.session_id(), P("limit", required=False, default=20, maximum=200),
                                 P("cursor", required=False, default=0, minimum=0)])
async def messages(request: Request, user: str, p: dict[str, Any]) -> Any:
    return await services(request).storage.list_messages(user, p["sessionId"], p["limit"], p["cursor"])


@route("GET", "/chat/message", [ap.session_id(), ap.message_id()])
async def message(request: Request, user: str, p: dict[str, Any]) -> Any:
    return await services(request).storage.get_message(user, p["sessionId"], p["messageId"])


# --- generations -----------------------------------------------------------------------------------


@route(["GET", "POST"], "/chat/generate", [ap.session_id()], extra_status=(429,))
async def generate(request: Request, user: str, p: dict[str, Any]) -> Any:
    return generation_info(await services(request).generations.answer(user, p["sessionId"], None))


@route(["GET", "POST"], "/chat/regenerate", [ap.session_id(), ap.message_id()], extra_status=(429,))
async def regenerate(request: Request, user: str, p: dict[str, Any]) -> Any:
    return generation_info(await services(request).generations.regenerate(user, p["sessionId"], p["messageId"]))


@route("GET", "/chat/check_generation", [P("taskId"), ap.session_id()], extra_status=(417,))
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


@route(["GET", "POST"], "/chat/generate_title", [ap.session_id()], extra_status=(429,))
async def generate_title(request: Request, user: str, p: dict[str, Any]) -> Any:
    await services(request).generations.title(user, p["sessionId"])
    return {"taskId": p["sessionId"]}


@route("GET", "/chat/check_title_generation", [P("taskId"), ap.session_id()], extra_status=(417,))
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


@route("POST", "/chat/stop", [ap.session_id(), ap.message_id()])
async def stop(request: Request, user: str, p: dict[str, Any]) -> Any:
    return {"message": await services(request).generations.stop(user, p["sessionId"], p["messageId"])}


@route("GET", "/chat/config", [])
async def config(request: Request, user: str, p: dict[str, Any]) -> Any:
    return await client_config(services(request), user=user, local=request.scope.get("auth") == "local")
