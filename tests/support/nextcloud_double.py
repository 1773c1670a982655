"""A real HTTP Nextcloud double (AppAPI + core OCS) on loopback, and its pytest fixtures."""

# What it reproduces, and where from (see /work/shared/notes/nextcloud.md and the app_api / server sources):
#
# * AppAPI authentication on every route (``AppAPIService::validateExAppRequestToNC``): ``EX-APP-ID`` must
#   name the registered app, ``AUTHORIZATION-APP-API`` must be ``base64("<user>:<secret>")`` with the app's
#   secret, ``EX-APP-VERSION`` must be non-empty, the user (when not "") must exist, and a disabled app may
#   only call ``/ex-app/state``. Stricter than AppAPI: ``AA-VERSION`` must be present (nc_py_api always sends
#   it). Failures answer 401: AppAPI's own routes with ``{"message": "AppAPI authentication failed"}``
#   (its middleware), core routes with an OCS "not logged in" envelope. (Real core ``#[PublicPage]`` routes
#   would instead run anonymously; the double refuses, which is what a client has to treat as failure.)
# * OCS envelopes: v1 ``meta.statuscode`` 100 on success and HTTP 200 also for most failures (401 only for
#   997), v2 ``meta.statuscode`` equal to the HTTP status. ``?format=json`` is accepted and ignored.
# * ``appconfig_ex`` with the sensitive flag and AppAPI's encryption quirks (``ExAppConfigService``): a
#   sensitive value is stored encrypted and decrypted on read; a write without the flag to an existing
#   sensitive key stores clear text that then reads back as ""; the admin settings form (``SetValueListener``)
#   encrypts values of ``sensitive`` fields and writes them WITHOUT the flag, so a key it creates reads back
#   as ciphertext. ``admin_saves_form()`` reproduces that path.
# * UI registration (top menu, scripts, styles, initial states, declarative settings forms) as in
#   ``OCSUiController`` / ``OCSSettingsController``, init status as ``AppAPIService::setAppInitProgress``.
# * Users and groups (``/cloud/users/{uid}`` readable by the user itself or an admin, ``/cloud/user``).
# * TaskProcessing (``TaskProcessingApiController``, Nextcloud 30-32 JSON: string statuses, no error message
#   unless ``taskprocessing.expose_error_message``), with scripted results, Nextcloud 35-style partial output,
#   cancellation and the 20-per-120-s per-user schedule limit (429).
# * ``down()`` stops the server (connections refused, open ones closed) or, with ``mode="hang"``, keeps
#   connections open and never answers; ``up()`` restarts it on the same port.
#
# Routes are plain Starlette routes in ``NextcloudDouble.routes()``; later doubles (AppAPI's buffering proxy,
# a HaRP-like streaming proxy) can be added with ``add_routes()`` without touching these.

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from assistant_stream.core.env import AppEnv
from assistant_stream.nextcloud.server import NextcloudServer

APP_ID = "assistant_stream"
# An API key as an admin would store it through the double (never to appear in an error or log).
NC_API_KEY = "sk-live-4c1d9e77-unmistakable-test-key"
APP_VERSION = "1.0.0"
NC_VERSION = {"major": 32, "minor": 0, "micro": 1, "string": "32.0.1", "edition": "",
              "extendedSupport": False}
CHAT_TASK_TYPE = "core:text2text:chat"
# context_chat_backend (controller.py enabled_handler) registers this type with AppAPI; its results come from
# task_fetcher.py: {"output": text, "sources": [EnrichedSource.model_dump_json(), ...]}, each source
# {"id": "files__default: <fileid>", "label": <file name>, "icon": <url>, "url": <absolute /index.php/f/<fileid>>}.
CONTEXT_CHAT_TASK_TYPE = "context_chat:context_chat"

STATUS_NAMES = ("STATUS_UNKNOWN", "STATUS_SCHEDULED", "STATUS_RUNNING", "STATUS_SUCCESSFUL",
                "STATUS_FAILED", "STATUS_CANCELLED")
SCHEDULED, RUNNING, SUCCESSFUL, FAILED, CANCELLED = 1, 2, 3, 4, 5


# --- recorded calls ------------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, Any]
    user: str | None  # None when authentication failed
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)


# --- OCS envelopes -------------------------------------------------------------------------------


class OCSError(Exception):
    """An OCS failure: ``status`` is the v2 HTTP status; v1 maps it like Nextcloud's V1Response."""

    def __init__(self, status: int, message: str = "", data: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.data = [] if data is None else data


def ocs_response(version: int, data: Any = None, *, status: int = 200, message: str = "OK") -> JSONResponse:
    ok = status < 300
    data = [] if data is None else data
    if version == 1:
        code = 100 if ok else (998 if status == 404 else 997 if status == 401 else status)
        meta = {"status": "ok" if ok else "failure", "statuscode": code, "message": message,
                "totalitems": "", "itemsperpage": ""}
        http = 401 if code == 997 else 200
    else:
        meta = {"status": "ok" if ok else "failure", "statuscode": status, "message": message}
        http = status
    return JSONResponse({"ocs": {"meta": meta, "data": data}}, status_code=http)


def fake_encrypt(value: str) -> str:
    # Shaped like ICrypto's output as the real Nextcloud stores it: hex ciphertext|hex iv|hex hmac|version.
    return value.encode().hex() + "|" + secrets.token_hex(16) + "|" + "0" * 128 + "|3"


def fake_decrypt(value: str) -> str:
    parts = value.split("|")
    if len(parts) != 4 or parts[3] != "3":
        raise ValueError("not encrypted")
    return bytes.fromhex(parts[0]).decode()


def looks_encrypted(value: str | None) -> bool:
    try:
        fake_decrypt(value or "")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return True


# --- TaskProcessing ------------------------------------------------------------------------------


@dataclass
class TaskScript:
    """What a scheduled task does. Times are seconds after scheduling."""

    output: str | None = "Hello from Nextcloud"
    delay: float = 0.1  # when it ends
    start_after: float = 0.02  # STATUS_SCHEDULED until then, STATUS_RUNNING after
    error: str | None = None  # ends STATUS_FAILED with this (provider's) message
    never_finish: bool = False  # stays STATUS_RUNNING
    partial: Sequence[str] = ()  # Nextcloud 35: output.output grows by these while running
    partial_interval: float = 0.05  # one more partial chunk every this many seconds
    sources: Sequence[dict[str, Any]] = ()  # context_chat: EnrichedSource dicts (see context_chat_source())

    def final_output(self) -> str:
        return self.output if self.output is not None else "".join(self.partial)


@dataclass
class Task:
    id: int
    user: str
    type: str
    input: dict[str, Any]
    app_id: str
    custom_id: str
    script: TaskScript
    scheduled_at: float  # monotonic
    scheduled_wall: int
    cancelled_at: float | None = None
    deleted: bool = False

    def state(self, now: float) -> tuple[int, str | None]:
        """(status, output text or None) at monotonic time ``now``."""
        elapsed = now - self.scheduled_at
        s = self.script
        if self.cancelled_at is not None:
            return CANCELLED, None
        if elapsed < s.start_after:
            return SCHEDULED, None
        if s.never_finish or elapsed < s.delay:
            if s.partial:
                shown = min(len(s.partial), int((elapsed - s.start_after) / s.partial_interval) + 1)
                return RUNNING, "".join(s.partial[:shown])
            return RUNNING, None
        if s.error is not None:
            return FAILED, None
        return SUCCESSFUL, s.final_output()


def context_chat_source(nextcloud_url: str, file_id: int, name: str) -> dict[str, Any]:
    """One source as context_chat's MetadataService enriches a file (user with Assistant enabled)."""
    return {"id": f"files__default: {file_id}", "label": name,
            "icon": f"{nextcloud_url}/index.php/apps/assistant/preview?id={file_id}&x=24&y=24",
            "url": f"{nextcloud_url}/index.php/f/{file_id}"}


class TaskProcessingDouble:
    """TaskProcessing state: scripted tasks, provider availability, the per-user schedule limit."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.available = True  # a provider for core:text2text:chat is installed
        self.context_chat = False  # context_chat + context_chat_backend installed (the type is listed)
        self.expose_error_message = False  # Nextcloud <= 32 does not put errorMessage in the task JSON
        self.status_as_int = False  # pre-30 style integer statuses
        self.rate_limit = 20
        self.rate_period = 120.0
        self.tasks: dict[int, Task] = {}
        self._default = TaskScript()
        self._queue: list[TaskScript] = []
        self._schedules: dict[str, list[float]] = {}
        self._next_id = 1

    def script(self, **kw: Any) -> TaskScript:
        """Set what every following task does (see TaskScript)."""
        self._default = TaskScript(**kw)
        return self._default

    def script_next(self, **kw: Any) -> TaskScript:
        """Set what only the next scheduled task does (queued, before the default)."""
        s = TaskScript(**kw)
        self._queue.append(s)
        return s

    def last(self) -> Task:
        return self.tasks[max(self.tasks)]

    def status(self, task_id: int) -> str:
        return STATUS_NAMES[self.tasks[task_id].state(time.monotonic())[0]]

    def _schedule(self, user: str, body: dict[str, Any]) -> Task:
        now = time.monotonic()
        window = [t for t in self._schedules.get(user, []) if now - t < self.rate_period]
        if len(window) >= self.rate_limit:
            self._schedules[user] = window
            raise OCSError(429, "")
        task_type = body.get("type")
        inp = body.get("input")
        if not (isinstance(task_type, str) and isinstance(inp, dict) and isinstance(body.get("appId"), str)):
            raise OCSError(400, "Missing or invalid parameters")
        if not ((task_type == CHAT_TASK_TYPE and self.available)
                or (task_type == CONTEXT_CHAT_TASK_TYPE and self.context_chat)):
            message = "The given provider is not available"
            raise OCSError(412, message, {"message": message})
        if task_type == CONTEXT_CHAT_TASK_TYPE:
            # Manager::validateInput: every slot of the input shape is mandatory, typed Text / ListOfTexts.
            scope = inp.get("scopeList")
            if not (isinstance(inp.get("prompt"), str) and isinstance(inp.get("scopeType"), str)
                    and isinstance(inp.get("scopeListMeta"), str) and isinstance(scope, list)
                    and all(isinstance(s, str) for s in scope)):
                raise OCSError(400, "", {"message": "Invalid input: prompt, scopeType, scopeList, scopeListMeta"})
        # core:text2text:chat's input shape: every slot is mandatory.
        elif not isinstance(inp.get("system_prompt"), str) or not isinstance(inp.get("input"), str):
            raise OCSError(400, "", {"message": "Invalid input: system_prompt and input must be text"})
        history = inp.get("history") if task_type == CHAT_TASK_TYPE else []
        if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
            raise OCSError(400, "", {"message": "Invalid input: history must be a list of texts"})
        window.append(now)
        self._schedules[user] = window
        script = self._queue.pop(0) if self._queue else self._default
        task = Task(id=self._next_id, user=user, type=task_type, input=inp, app_id=body["appId"],
                    custom_id=str(body.get("customId") or ""), script=script, scheduled_at=now,
                    scheduled_wall=int(time.time()))
        self._next_id += 1
        self.tasks[task.id] = task
        return task

    def to_json(self, task: Task) -> dict[str, Any]:
        status, text = task.state(time.monotonic())
        elapsed_wall = task.scheduled_wall
        out: dict[str, Any] = {
            "id": task.id,
            "type": task.type,
            "lastUpdated": int(time.time()),
            "status": status if self.status_as_int else STATUS_NAMES[status],
            "userId": task.user,
            "appId": task.app_id,
            "input": task.input,
            "output": self._output(task, status, text),
            "customId": task.custom_id,
            "completionExpectedAt": elapsed_wall + 1,
            "progress": 1.0 if status == SUCCESSFUL else 0.0,
            "scheduledAt": elapsed_wall,
            "startedAt": elapsed_wall if status >= RUNNING else None,
            "endedAt": int(time.time()) if status >= SUCCESSFUL else None,
        }
        if self.expose_error_message and status == FAILED:
            out["errorMessage"] = task.script.error
        return out

    @staticmethod
    def _output(task: Task, status: int, text: str | None) -> dict[str, Any] | None:
        if text is None:
            return None
        if task.type == CONTEXT_CHAT_TASK_TYPE and status == SUCCESSFUL:
            # pydantic's model_dump_json(): compact JSON, one string per source.
            return {"output": text, "sources": [json.dumps(s, separators=(",", ":")) for s in task.script.sources]}
        return {"output": text}


# --- the double ----------------------------------------------------------------------------------


class _Unauthorized(Exception):
    pass


class NextcloudDouble:
    """State plus a uvicorn server in a background thread. All state access goes through ``lock``."""

    def __init__(self, *, app_id: str = APP_ID, app_secret: str | None = None, app_version: str = APP_VERSION,
                 host: str = "127.0.0.1") -> None:
        self.app_id = app_id
        self.app_secret = app_secret or secrets.token_urlsafe(24)
        self.app_version = app_version
        self.host = host
        self.lock = threading.RLock()
        self.taskprocessing = TaskProcessingDouble()
        self._extra_routes: list[BaseRoute] = []
        self._hang = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = self._bind(0)
        self.port: int = self._sock.getsockname()[1]
        self.app: Starlette = Starlette(routes=self.routes())
        self.reset()

    # --- state ---

    def reset(self) -> None:
        with self.lock:
            self.calls: list[Call] = []
            self.enabled = True  # AppAPI enables the app before /init and keeps it so until disabled
            self.require_aa_version = True
            # key -> {"value": stored (maybe encrypted), "sensitive": bool}
            self.appconfig_rows: dict[str, dict[str, Any]] = {}
            self.top_menu: dict[str, dict[str, Any]] = {}
            self.scripts: dict[tuple[str, str, str], dict[str, Any]] = {}
            self.styles: dict[tuple[str, str, str], dict[str, Any]] = {}
            self.initial_states: dict[tuple[str, str, str], Any] = {}
            self.settings_forms: dict[str, dict[str, Any]] = {}
            self.init_status: dict[str, Any] = {"init": 0, "action": "", "error": ""}
            self.init_progress_reports: list[tuple[int, str]] = []
            self.logs: list[tuple[int, str]] = []
            self.users: dict[str, set[str]] = {"admin": {"admin"}, "alice": set(), "bob": set()}
            self.taskprocessing.reset()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def appconfig(self) -> dict[str, str]:
        """App config as an ExApp reads it (decrypted like AppAPI's get-values does)."""
        with self.lock:
            return {k: self._read_config(row) for k, row in self.appconfig_rows.items()}

    def appconfig_sensitive(self, key: str) -> bool:
        with self.lock:
            return bool(self.appconfig_rows[key]["sensitive"])

    def appconfig_stored(self, key: str) -> str:
        """The raw stored value (ciphertext for sensitive keys)."""
        with self.lock:
            return str(self.appconfig_rows[key]["value"])

    def set_appconfig(self, key: str, value: str, *, sensitive: bool | None = None) -> None:
        """As ``occ app_api:app:config:set`` (the same service call as the ExApp's own write)."""
        with self.lock:
            self._set_config(key, value, sensitive)

    def admin_saves_form(self, field_id: str, value: str, form_id: str | None = None) -> None:
        """An admin saves one field of the app's admin form (AppAPI's SetValueListener path)."""
        with self.lock:
            forms = [self.settings_forms[form_id]] if form_id else list(self.settings_forms.values())
            for form in forms:
                for fld in form.get("fields", []):
                    if fld.get("id") == field_id:
                        if fld.get("sensitive") is True:
                            value = fake_encrypt(value)
                        self._set_config(field_id, value, None)  # sensitive: null, as the listener does
                        return
            raise KeyError(f"no registered form has a field {field_id!r}")

    def add_user(self, user: str, groups: Sequence[str] = ()) -> None:
        with self.lock:
            self.users[user] = set(groups)

    def set_admin(self, user: str, admin: bool = True) -> None:
        with self.lock:
            groups = self.users.setdefault(user, set())
            if admin:
                groups.add("admin")
            else:
                groups.discard("admin")

    def calls_to(self, path_part: str, method: str | None = None) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if path_part in c.path and (method is None or c.method == method)]

    def env(self, *, storage: Path | str = "./data", **overrides: Any) -> AppEnv:
        """An AppEnv for an ExApp registered with this double."""
        values: dict[str, Any] = {
            "app_id": self.app_id, "app_secret": self.app_secret, "app_version": self.app_version,
            "app_host": "127.0.0.1", "app_port": 23000, "nextcloud_url": self.url,
            "persistent_storage": Path(storage), "database_url": None, "harp_shared_key": None,
            "local_mode": False,
        }
        values.update(overrides)
        return AppEnv(**values)

    def auth_headers(self, user: str = "", *, secret: str | None = None) -> dict[str, str]:
        """The headers AppAPI sends to the ExApp (and the ExApp sends back)."""
        secret = self.app_secret if secret is None else secret
        token = base64.b64encode(f"{user}:{secret}".encode()).decode()
        return {"AA-VERSION": "32.0.0", "EX-APP-ID": self.app_id, "EX-APP-VERSION": self.app_version,
                "AUTHORIZATION-APP-API": token, "AA-REQUEST-ID": secrets.token_hex(8)}

    # --- server lifecycle ---

    def start(self) -> None:
        if self._thread is not None:
            return
        if self._sock is None:
            self._sock = self._bind(self.port)  # the same port: clients keep their NEXTCLOUD_URL
        config = uvicorn.Config(self._asgi, interface="asgi3", log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1, timeout_keep_alive=30)
        server = uvicorn.Server(config)
        sock = self._sock
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="nextcloud-double",
                                  daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Nextcloud double did not start")
            time.sleep(0.01)
        self._server, self._thread = server, thread

    def _bind(self, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, port))
        return sock

    def stop(self) -> None:
        self._hang.clear()
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=10)
        self._server = self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def down(self, mode: str = "refuse") -> None:
        """Make Nextcloud unreachable: "refuse" (server stopped) or "hang" (accepts, never answers)."""
        if mode == "hang":
            self._hang.set()
        elif mode == "refuse":
            self.stop()
        else:
            raise ValueError(mode)

    def up(self) -> None:
        self._hang.clear()
        self.start()

    @property
    def is_up(self) -> bool:
        return self._thread is not None and not self._hang.is_set()

    def add_routes(self, routes: Sequence[BaseRoute]) -> None:
        """Room for later doubles (AppAPI proxy, HaRP) on the same server."""
        self._extra_routes.extend(routes)
        self.app.router.routes[:0] = list(routes)

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            while self._hang.is_set():
                await asyncio.sleep(0.02)
        await self.app(scope, receive, send)

    # --- routing ---

    def routes(self) -> list[BaseRoute]:
        aa = "/ocs/v1.php/apps/app_api"
        h = self._handler
        return [
            # AppAPI (OCS v1, as nc_py_api calls it)
            Route(f"{aa}/api/v1/ex-app/config", h(self._config_set, "appapi"), methods=["POST"]),
            Route(f"{aa}/api/v1/ex-app/config", h(self._config_delete, "appapi"), methods=["DELETE"]),
            Route(f"{aa}/api/v1/ex-app/config/get-values", h(self._config_get, "appapi"), methods=["POST"]),
            Route(f"{aa}/ex-app/status", h(self._init_status, "appapi"), methods=["PUT"]),
            Route(f"{aa}/ex-app/state", h(self._enabled_state, "appapi"), methods=["GET"]),
            Route(f"{aa}/api/v1/log", h(self._log, "appapi"), methods=["POST"]),
            Route(f"{aa}/api/v1/users", h(self._users_list, "appapi"), methods=["GET"]),
            Route(f"{aa}/api/v1/ui/top-menu", h(self._top_menu, "appapi"), methods=["POST", "DELETE", "GET"]),
            Route(f"{aa}/api/v1/ui/initial-state", h(self._initial_state, "appapi"),
                  methods=["POST", "DELETE", "GET"]),
            Route(f"{aa}/api/v1/ui/script", h(self._script, "appapi"), methods=["POST", "DELETE", "GET"]),
            Route(f"{aa}/api/v1/ui/style", h(self._style, "appapi"), methods=["POST", "DELETE", "GET"]),
            Route(f"{aa}/api/v1/ui/settings", h(self._settings_form, "appapi"),
                  methods=["POST", "DELETE", "GET"]),
            # core
            Route("/ocs/v{v:int}.php/cloud/capabilities", h(self._capabilities, "public"), methods=["GET"]),
            Route("/ocs/v{v:int}.php/cloud/user", h(self._current_user, "user"), methods=["GET"]),
            Route("/ocs/v{v:int}.php/cloud/users/{uid}", h(self._get_user, "user"), methods=["GET"]),
            Route("/ocs/v2.php/taskprocessing/tasktypes", h(self._tasktypes, "core"), methods=["GET"]),
            Route("/ocs/v2.php/taskprocessing/schedule", h(self._schedule, "core"), methods=["POST"]),
            Route("/ocs/v2.php/taskprocessing/task/{id:int}", h(self._task, "core"),
                  methods=["GET", "DELETE"]),
            Route("/ocs/v2.php/taskprocessing/tasks/{id:int}/cancel", h(self._cancel, "core"),
                  methods=["POST"]),
        ]

    def _handler(self, fn: Callable[..., Any], kind: str) -> Callable[[Request], Any]:
        """Wrap a state function: parse params like Nextcloud (query + JSON body), authenticate, record."""

        async def endpoint(request: Request) -> Response:
            version = int(request.path_params.get("v", 2 if "/ocs/v2.php/" in request.url.path else 1))
            params: dict[str, Any] = dict(request.query_params)
            params.pop("format", None)
            body = await request.body()
            if body:
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
                if isinstance(parsed, dict):
                    params.update(parsed)
            params.update({k: v for k, v in request.path_params.items() if k != "v"})
            call = Call(request.method, request.url.path, params, None,
                        headers={k.lower(): v for k, v in request.headers.items()})
            with self.lock:
                self.calls.append(call)
                try:
                    call.user = self._authenticate(request, public=kind == "public")
                    if kind == "user" and not call.user:
                        raise _Unauthorized
                    result = fn(request.method, params, call.user, version)
                except _Unauthorized:
                    response = self._unauthorized(kind, version)
                except OCSError as exc:
                    response = ocs_response(version, exc.data, status=exc.status, message=exc.message)
                else:
                    response = result if isinstance(result, Response) else ocs_response(version, result)
                call.status = response.status_code
            return response

        return endpoint

    def _authenticate(self, request: Request, *, public: bool) -> str:
        """AppAPIService::validateExAppRequestToNC, returning the user ("" for the app itself)."""
        header = request.headers.get("authorization-app-api")
        if header is None:
            if public:
                return ""
            raise _Unauthorized
        app_id = request.headers.get("ex-app-id", "")
        if app_id != self.app_id:
            raise _Unauthorized
        try:
            decoded = base64.b64decode(header, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise _Unauthorized from None
        user, sep, secret = decoded.partition(":")
        if not sep or secret != self.app_secret:
            raise _Unauthorized
        if not self.enabled and not request.url.path.endswith("/apps/app_api/ex-app/state"):
            raise _Unauthorized
        if not request.headers.get("ex-app-version"):
            raise _Unauthorized
        if self.require_aa_version and not request.headers.get("aa-version"):
            raise _Unauthorized
        if user and user not in self.users:
            raise _Unauthorized
        return user

    @staticmethod
    def _unauthorized(kind: str, version: int) -> Response:
        if kind == "appapi":
            return JSONResponse({"message": "AppAPI authentication failed"}, status_code=401)
        return ocs_response(version, status=401, message="Current user is not logged in")

    # --- app config ---

    def _read_config(self, row: dict[str, Any]) -> str:
        value = str(row["value"])
        if value and row["sensitive"]:
            try:
                return fake_decrypt(value)
            except (ValueError, binascii.Error, UnicodeDecodeError):
                return ""  # AppAPI logs "Failed to decrypt" and returns ""
        return value

    def _set_config(self, key: str, value: Any, sensitive: bool | None) -> dict[str, Any]:
        value = "" if value is None else str(value)
        stored = fake_encrypt(value) if sensitive and value != "" else ("" if sensitive else value)
        row = self.appconfig_rows.get(key)
        if row is None:
            row = {"value": stored, "sensitive": bool(sensitive)}
            self.appconfig_rows[key] = row
        else:
            row["value"] = stored
            if sensitive is not None:
                row["sensitive"] = bool(sensitive)
        return {"id": list(self.appconfig_rows).index(key) + 1, "appid": self.app_id, "configkey": key,
                "configvalue": value, "sensitive": int(row["sensitive"])}

    def _config_set(self, method: str, p: dict[str, Any], user: str, v: int) -> Any:
        key = p.get("configKey")
        if not isinstance(key, str) or key == "":
            raise OCSError(400, "Config key cannot be empty")
        sensitive = p.get("sensitive")
        return self._set_config(key, p.get("configValue"), None if sensitive is None else bool(sensitive))

    def _config_get(self, method: str, p: dict[str, Any], user: str, v: int) -> Any:
        keys = p.get("configKeys") or []
        return [{"configkey": k, "configvalue": self._read_config(self.appconfig_rows[k])}
                for k in keys if k in self.appconfig_rows]

    def _config_delete(self, method: str, p: dict[str, Any], user: str, v: int) -> Any:
        keys = p.get("configKeys") or []
        n = sum(1 for k in keys if self.appconfig_rows.pop(k, None) is not None)
        if n == 0:
            raise OCSError(404, "No appconfig_ex values deleted")
        return n

    # --- lifecycle ---

    def _init_status(self, method: str, p: dict[str, Any], user: str, v: int) -> Any:
        try:
            progress = int(p.get("progress"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise OCSError(400, "progress must be an integer") from None
        if not 0 <= progress <= 100:
            raise OCSError(500, "Invalid ExApp init status progress value")
        error = str(p.get("error") or "")
        self.init_progress_reports.append((progress, error))
        status = self.init_status
        if progress != 0 and status.get("init") == 100:
            return []  # AppAPI ignores reports after 100
        if error:
            status["error"] = error
        else:
            if progress == 0:
                status.update(action="init", error="")
            status["init"] = progress
        if progress == 100:
            status["action"] = ""
        return []

    def _enabled_state(self, method: str, p: dict[str, Any], user: str, v: int) -> Any:
        return int(self.enabled)

    def _log(self, method: str, p: dict[str, Any], user: str, v: int) -> Any:
        self.logs.append((int(p.get("level", 0)), str(p.get("message", ""))))
        return []

    def _users_list(self, method: str, p: dict[str, Any], user: str, v: int) -> Any:
        return sorted(self.users)

    # --- UI ---

    def _top_menu(self, method: str, p: dict[str, Any], user: str, v: int) -> Any:
        name = str(p.get("name", ""))
        if method == "POST":
            if not name or "displayName" not in p:
                raise OCSError(400, "Top Menu entry could not be registered")
            self.top_menu[name] = {"appid": self.app_id, "name": name, "display_name": p["displayName"],
                                   "icon": p.get("icon", ""),
                                   "admin_required": int(p.get("adminRequired", 0))}
            return []
        if name not in self.top_menu:
            raise OCSError(404, "No such Top Menu entry")
        if method == "DELETE":
            del self.top_menu[name]
            return []
        return self.top_menu[name]

    def _initial_state(self, method: str, p: dict[str, Any], user: str, v: int) -> Any:
        key = (str(p.get("type", "")), str(p.get("name", "")), str(p.get("key", "")))
        if method == "POST":
            if not isinstance(p.get("value"), dict | list):  # the controller's `array $value`
                raise OCSError(400, "InitialState could not be set")
            self.initial_states[key] = p["value"]
            return []
        if key not in self.initial_states:
            raise OCSError(404, "No such InitialState")
        if method == "DELETE":
            del self.initial_states[key]
            return []
        return {"appid": self.app_id, "type": key[0], "name": key[1], "key": key[2],
                "value": self.initial_states[key]}

    def _resource(self, store: dict[tuple[str, str, str], dict[str, Any]], what: str, method: str,
                  p: dict[str, Any]) -> Any:
        key = (str(p.get("type", "")), str(p.get("name", "")), str(p.get("path", "")).lstrip("/"))
        if method == "POST":
            store[key] = {"appid": self.app_id, "type": key[0], "name": key[1], "path": key[2]}
            if "afterAppId" in p:
                store[key]["after_app_id"] = p["afterAppId"]
            return []
        if key not in store:
            raise OCSError(404, f"No such {what}")
        if method == "DELETE":
            del store[key]
            return []
        return store[key]

    def _script(self, method: str, p: dict[str, Any], user: str, v: int) -> Any:
        return self._resource(self.scripts, "Script", method, p)

    def _style(self, method: str, p: dict[str, Any], user: str, v: int) -> Any:
        return self._resource(self.styles, "Style", method, p)

    def _settings_form(self, method: str, p: dict[str, Any], user: str, v: int) -> Any:
        if method == "POST":
            scheme = p.get("formScheme")
            if not isinstance(scheme, dict) or not scheme.get("id"):
                raise OCSError(400, "")
            self.settings_forms[str(scheme["id"])] = {**scheme, "storage_type": "external"}
            return []
        form_id = str(p.get("formId", ""))
        if form_id not in self.settings_forms:
            raise OCSError(404, "")
        if method == "DELETE":
            del self.settings_forms[form_id]
            return []
        return self.settings_forms[form_id]

    # --- core: capabilities, users ---

    def _capabilities(self, method: str, p: dict[str, Any], user: str, v: int) -> Any:
        return {"version": NC_VERSION,
                "capabilities": {"core": {"pollinterval": 60, "webdav-root": "remote.php/webdav"},
                                 "app_api": {"loglevel": 2, "version": "32.0.0"}}}

    def _user_data(self, uid: str) -> dict[str, Any]:
        return {"enabled": True, "id": uid, "lastLogin": 0, "backend": "Database", "subadmin": [],
                "quota": {"quota": "none", "used": 0}, "email": None, "displayname": uid,
                "display-name": uid, "phone": "", "address": "", "website": "", "twitter": "",
                "groups": sorted(self.users[uid]), "language": "en", "locale": "",
                "backendCapabilities": {"setDisplayName": True, "setPassword": True}}

    def _current_user(self, method: str, p: dict[str, Any], user: str, v: int) -> Any:
        return self._user_data(user)

    def _get_user(self, method: str, p: dict[str, Any], user: str, v: int) -> Any:
        uid = str(p["uid"])
        if uid not in self.users:
            raise OCSError(404, "User does not exist")
        if uid != user and "admin" not in self.users[user]:
            raise OCSError(401, "")  # provisioning_api: RESPOND_UNAUTHORISED for someone else's data
        return self._user_data(uid)

    # --- core: TaskProcessing ---

    def _tasktypes(self, method: str, p: dict[str, Any], user: str, v: int) -> Any:
        types: dict[str, Any] = {}
        if self.taskprocessing.available:
            text = {"type": "Text", "mandatory": True}
            types[CHAT_TASK_TYPE] = {
                "name": "Chat", "description": "Chat with the assistant",
                "inputShape": {"system_prompt": {"name": "System prompt", **text},
                               "history": {"name": "Chat history", "type": "ListOfTexts", "mandatory": True},
                               "input": {"name": "Chat message", **text}},
                "outputShape": {"output": {"name": "Response message", **text}},
            }
        if self.taskprocessing.context_chat:
            text = {"type": "Text", "mandatory": True}
            types[CONTEXT_CHAT_TASK_TYPE] = {
                "name": "Context Chat", "description": "Ask a question about your data.",
                "inputShape": {
                    "prompt": {"name": "prompt", "description": "Ask a question about your documents, files and more",
                               **text},
                    "scopeType": {"name": "scopeType", **text},
                    "scopeList": {"name": "scopeList", "type": "ListOfTexts", "mandatory": True},
                    "scopeListMeta": {"name": "scopeListMeta", **text}},
                "outputShape": {
                    "output": {"name": "output", "description": "The text generated by the model", **text},
                    "sources": {"name": "sources", "type": "ListOfTexts", "mandatory": True,
                                "description": "The sources referenced to generate the above response"}},
            }
        return {"types": types}

    def _schedule(self, method: str, p: dict[str, Any], user: str, v: int) -> Any:
        return {"task": self.taskprocessing.to_json(self.taskprocessing._schedule(user, p))}

    def _find_task(self, p: dict[str, Any], user: str) -> Task:
        task = self.taskprocessing.tasks.get(int(p["id"]))
        if task is None or task.deleted or task.user != user:
            raise OCSError(404, "", {"message": "Task not found"})
        return task

    def _task(self, method: str, p: dict[str, Any], user: str, v: int) -> Any:
        if method == "DELETE":
            with contextlib.suppress(OCSError):
                self._find_task(p, user).deleted = True
            return None
        return {"task": self.taskprocessing.to_json(self._find_task(p, user))}

    def _cancel(self, method: str, p: dict[str, Any], user: str, v: int) -> Any:
        task = self._find_task(p, user)
        status, _ = task.state(time.monotonic())
        if status < SUCCESSFUL:  # Manager::cancelTask leaves ended tasks alone
            task.cancelled_at = time.monotonic()
        return {"task": self.taskprocessing.to_json(task)}


# --- pytest fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def nextcloud_server() -> Iterator[NextcloudDouble]:
    """One double per test session (a real server on a free loopback port)."""
    double = NextcloudDouble()
    double.start()
    yield double
    double.stop()


@pytest.fixture
def nextcloud(nextcloud_server: NextcloudDouble) -> Iterator[NextcloudDouble]:
    """The session's double with fresh state, up; left up and reset for the next test."""
    nextcloud_server.up()
    nextcloud_server.reset()
    yield nextcloud_server
    nextcloud_server.up()
    nextcloud_server.reset()


__all__ = ["Call", "NextcloudDouble", "OCSError", "Task", "TaskScript", "context_chat_source", "looks_encrypted",
           "nextcloud", "nextcloud_server", "ocs_response"]


@pytest.fixture
async def nc(nextcloud: NextcloudDouble) -> AsyncIterator[NextcloudServer]:
    """The app's NextcloudServer, talking to the double."""
    server = NextcloudServer(nextcloud.env(), timeout=3)
    yield server
    await server.aclose()
