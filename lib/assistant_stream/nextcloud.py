"""Every call into Nextcloud (AppAPI and core OCS), made with nc_py_api's async client only."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from nc_py_api import (
    AsyncNextcloudApp,
    NextcloudException,
    NextcloudExceptionNotFound,
    NextcloudMissingCapabilities,
)
from nc_py_api.ex_app import SettingsField, SettingsFieldType, SettingsForm
from niquests.exceptions import RequestException

from . import errors
from .config import SENSITIVE_KEYS, Settings
from .env import AppEnv

log = logging.getLogger(__name__)

T = TypeVar("T")

# --- what the app registers in Nextcloud's UI (one place, so enable and disable stay symmetric) ---
UI_TYPE = "top_menu"
MENU_NAME = "chat"
MENU_DISPLAY_NAME = "Chat"
MENU_ICON = "img/app.svg"
# AppAPI hands these to Util::addScript/addStyle, which append ".js" / ".css" themselves.
SCRIPT_PATH = "js/assistant_stream-main"
STYLE_PATH = "js/assistant_stream-main"
INITIAL_STATE_KEY = "config"
SETTINGS_FORM_ID = "assistant_stream_admin"
# "ai" is the id of core's "Artificial Intelligence" admin section.
SETTINGS_SECTION_ID = "ai"
API_KEY_SETTING = "streaming_api_key"

# --- TaskProcessing (core OCS v2) ---
CHAT_TASK_TYPE = "core:text2text:chat"
(STATUS_UNKNOWN, STATUS_SCHEDULED, STATUS_RUNNING,
 STATUS_SUCCESSFUL, STATUS_FAILED, STATUS_CANCELLED) = range(6)
_STATUS_BY_NAME = {
    "STATUS_UNKNOWN": STATUS_UNKNOWN,
    "STATUS_SCHEDULED": STATUS_SCHEDULED,
    "STATUS_RUNNING": STATUS_RUNNING,
    "STATUS_SUCCESSFUL": STATUS_SUCCESSFUL,
    "STATUS_FAILED": STATUS_FAILED,
    "STATUS_CANCELLED": STATUS_CANCELLED,
}

ADMIN_CACHE_TTL = 60.0
TASKTYPES_CACHE_TTL = 60.0
# One nc_py_api client (two HTTP sessions) per user we act as; bounded so a big instance does not
# hoard sockets. An evicted client is closed only later: a request of its user may still be using it.
MAX_USER_CLIENTS = 64
RETIRED_CLIENT_GRACE = 60.0
_MAX_CACHED_USERS = 10_000


def task_status(value: Any) -> int:
    """Nextcloud 30+ sends ``"STATUS_RUNNING"``, older code paths an int: normalise to the int constants."""
    if isinstance(value, bool):
        return STATUS_UNKNOWN
    if isinstance(value, int):
        return value if STATUS_UNKNOWN <= value <= STATUS_CANCELLED else STATUS_UNKNOWN
    if isinstance(value, str):
        if value.isascii() and value.isdigit():
            return task_status(int(value))
        return _STATUS_BY_NAME.get(value.upper(), STATUS_UNKNOWN)
    return STATUS_UNKNOWN


def task_output_text(task: Mapping[str, Any]) -> str:
    """The chat answer of a task (``output.output``), "" while there is none."""
    output = task.get("output")
    if isinstance(output, Mapping):
        text = output.get("output")
        if isinstance(text, str):
            return text
    return ""


def settings_form() -> SettingsForm:
    """The admin form (declarative settings). Field ids are the app config keys ConfigStore reads."""
    d = Settings()  # the defaults shown in the form are the ones the app uses when a value is unset
    text, number = SettingsFieldType.TEXT, SettingsFieldType.NUMBER
    fields = [
        SettingsField(
            id="streaming_api_url", title="API base URL", type=text, default="",
            placeholder="https://api.openai.com/v1",
            description=(
                "Base URL of an OpenAI-compatible API (the app appends /chat/completions). "
                "OpenAI: https://api.openai.com/v1 · Ollama: http://<host>:11434/v1 · "
                "vLLM / llama.cpp server / LiteLLM: http://<host>:<port>/v1 · "
                "Azure OpenAI: https://<resource>.openai.azure.com/openai/deployments/<deployment>"
                "?api-version=<version>. Leave empty to use Nextcloud's own text processing (TaskProcessing)."
            ),
        ),
        SettingsField(
            id=API_KEY_SETTING, title="API key", type=SettingsFieldType.PASSWORD, default="",
            sensitive=True,
            description=("Sent as 'Authorization: Bearer <key>' (Azure: as 'api-key'). Stored encrypted. "
                         "Leave empty for servers without authentication (Ollama, a local llama.cpp)."),
        ),
        SettingsField(
            id="streaming_model", title="Model", type=text, default=d.streaming_model,
            description=("Model name as the API knows it, e.g. gpt-4o-mini, llama3.1:8b (Ollama) or the "
                         "served model name (vLLM)."),
        ),
        SettingsField(
            id="streaming_public_url", title="Public streaming URL (optional)", type=text, default="",
            placeholder="https://cloud.example.com/assistant-stream",
            description=("A browser-reachable URL that reverse-proxies to this app WITHOUT buffering. Only "
                         "needed when Nextcloud has no HaRP: the stock AppAPI proxy delivers an answer only "
                         "at its end."),
        ),
        # Nextcloud's declarative settings (and nc_py_api) have no multi-line type: a one-line TEXT field.
        SettingsField(
            id="system_prompt", title="System prompt", type=text, default=d.system_prompt,
            description="Sent as the first message of every conversation.",
        ),
        SettingsField(
            id="max_tokens", title="Maximum answer tokens", type=number, default=d.max_tokens,
            description="Upper limit for one answer; 0 lets the provider decide.",
        ),
        SettingsField(
            id="request_timeout", title="Request timeout (seconds)", type=number, default=d.request_timeout,
            description="How long to wait for the first token, and between two tokens, before giving up.",
        ),
        SettingsField(
            id="history_length", title="Context messages", type=number, default=d.history_length,
            description="How many earlier messages of the conversation are sent along with a question.",
        ),
        SettingsField(
            id="max_concurrent_per_user", title="Concurrent answers per user", type=number,
            default=d.max_concurrent_per_user,
            description="How many answers one user may have generating at the same time.",
        ),
    ]
    return SettingsForm(
        id=SETTINGS_FORM_ID, section_type="admin", section_id=SETTINGS_SECTION_ID, title="Assistant Stream",
        description="AI chat that streams answers token by token from any OpenAI-compatible API.",
        fields=fields,
    )


class NextcloudClient:
    """Talks to Nextcloud as the ExApp ("" user) or as a given user, through AppAPI authentication.

    Implements config.AppConfigSource (``fetch`` / ``store``). Every failure to reach Nextcloud, or an
    answer that is not what Nextcloud sends, becomes ``errors.NextcloudError`` with a message that never
    contains a secret.
    """

    def __init__(self, env: AppEnv, *, timeout: float = 10) -> None:
        self.app_id = env.app_id
        # Passed explicitly so nc_py_api does not read os.environ (tests run several apps in one process).
        self._kwargs: dict[str, Any] = {
            "nextcloud_url": env.nextcloud_url,
            "app_id": env.app_id,
            "app_secret": env.app_secret,
            "app_version": env.app_version,
            "npa_timeout": timeout,
        }
        self._app_client: AsyncNextcloudApp | None = None
        # set_user() on a shared client would race between concurrent requests (the user is read when each
        # request is signed), so every user gets a client of its own.
        self._user_clients: OrderedDict[str, AsyncNextcloudApp] = OrderedDict()
        self._retired: list[tuple[float, AsyncNextcloudApp]] = []
        self._admin_cache: dict[str, tuple[float, bool]] = {}
        self._tasktypes_cache: dict[str, tuple[float, bool]] = {}
        self._background: set[asyncio.Task[Any]] = set()

    # --- clients ---------------------------------------------------------------------------------

    def _new_client(self, user: str) -> AsyncNextcloudApp:
        # Same effect as AsyncNextcloudApp.set_user(user), without its capabilities round trip.
        return AsyncNextcloudApp(user=user, **self._kwargs)

    def _app(self) -> AsyncNextcloudApp:
        if self._app_client is None:
            self._app_client = self._new_client("")
        return self._app_client

    async def _as_user(self, user: str) -> AsyncNextcloudApp:
        if not user:
            raise errors.NotAuthenticated("No Nextcloud user for this request")
        client = self._user_clients.get(user)
        if client is not None:
            self._user_clients.move_to_end(user)
            return client
        client = self._new_client(user)
        self._user_clients[user] = client
        now = time.monotonic()
        while len(self._user_clients) > MAX_USER_CLIENTS:
            _, old = self._user_clients.popitem(last=False)
            self._retired.append((now, old))
        while self._retired and now - self._retired[0][0] > RETIRED_CLIENT_GRACE:
            await _close_client(self._retired.pop(0)[1])
        return client

    async def aclose(self) -> None:
        """Close every HTTP session (call from the app's lifespan shutdown)."""
        clients = list(self._user_clients.values()) + [c for _, c in self._retired]
        if self._app_client is not None:
            clients.append(self._app_client)
        self._user_clients.clear()
        self._retired.clear()
        self._app_client = None
        for client in clients:
            await _close_client(client)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _call(self, what: str, awaitable: Awaitable[T]) -> T:
        """Await one nc_py_api call; translate transport and server failures into NextcloudError."""
        try:
            return await awaitable
        except NextcloudMissingCapabilities:
            raise errors.NextcloudError(f"Nextcloud does not offer AppAPI ({what})") from None
        except NextcloudException as exc:
            raise _translate(exc, what) from None
        except (RequestException, OSError, TimeoutError) as exc:
            # The exception text may carry the URL with credentials of a proxy: name the type only.
            raise errors.NextcloudError(
                f"Nextcloud could not be reached ({what}: {type(exc).__name__})") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise errors.NextcloudError(
                f"Nextcloud sent an unexpected answer ({what}: {type(exc).__name__})") from None

    # --- app config (config.AppConfigSource) -----------------------------------------------------

    async def fetch(self, keys: Sequence[str]) -> dict[str, str | None]:
        records = await self._call("read app config", self._app().appconfig_ex.get_values(list(keys)))
        found = {r.key: r.value for r in records}
        return {key: found.get(key) for key in keys}

    async def store(self, key: str, value: str, *, sensitive: bool) -> None:
        # Always pass the flag: AppAPI stores an unflagged write to a sensitive key in clear text and then
        # fails to decrypt it, so the value would read back as "".
        await self._call("write app config",
                         self._app().appconfig_ex.set_value(key, value, sensitive=sensitive))

    # --- lifecycle -------------------------------------------------------------------------------

    async def report_init_progress(self, progress: int, error: str = "") -> None:
        """``PUT /ocs/v1.php/apps/app_api/ex-app/status``; 100 makes AppAPI enable the app."""
        await self._call("report init progress", self._app().set_init_status(progress, error))

    async def on_enabled(self, initial_state: dict[str, Any]) -> str:
        """Register the top menu entry, its script, style and initial state, and the admin form.

        Returns "" or a short error text for AppAPI (shown to the admin; never contains a secret).
        """
        nc = self._app()
        try:
            # First, so that the admin form can never be the one creating the key (unencrypted).
            await self._ensure_sensitive_keys()
            await self._call("register top menu",
                             nc.ui.top_menu.register(MENU_NAME, MENU_DISPLAY_NAME, MENU_ICON))
            await self._call("register script", nc.ui.resources.set_script(UI_TYPE, MENU_NAME, SCRIPT_PATH))
            await self._call("register style", nc.ui.resources.set_style(UI_TYPE, MENU_NAME, STYLE_PATH))
            await self.update_initial_state(initial_state)
            await self._call("register settings form", nc.ui.settings.register_form(settings_form()))
        except errors.AppError as exc:
            log.error("Enabling failed: %s", exc.message)
            return exc.message
        log.info("Registered the top menu entry, its resources and the admin settings form")
        return ""

    async def on_disabled(self) -> str:
        """Remove everything ``on_enabled`` registered (settings values stay)."""
        nc = self._app()
        failures: list[str] = []
        steps: list[tuple[str, Awaitable[None]]] = [
            ("remove top menu", nc.ui.top_menu.unregister(MENU_NAME)),
            ("remove script", nc.ui.resources.delete_script(UI_TYPE, MENU_NAME, SCRIPT_PATH)),
            ("remove style", nc.ui.resources.delete_style(UI_TYPE, MENU_NAME, STYLE_PATH)),
            ("remove initial state",
             nc.ui.resources.delete_initial_state(UI_TYPE, MENU_NAME, INITIAL_STATE_KEY)),
            ("remove settings form", nc.ui.settings.unregister_form(SETTINGS_FORM_ID)),
        ]
        for what, awaitable in steps:
            # Each step on its own: one failure must not leave the rest registered.
            try:
                await self._call(what, awaitable)
            except errors.AppError as exc:
                failures.append(exc.message)
        if failures:
            log.error("Disabling left something registered: %s", "; ".join(failures))
            return failures[0]
        log.info("Removed the top menu entry, its resources and the admin settings form")
        return ""

    async def update_initial_state(self, state: dict[str, Any]) -> None:
        """(Re)publish the page's initial state (``loadState('app_api', 'config')`` in the frontend)."""
        await self._call(
            "set initial state",
            self._app().ui.resources.set_initial_state(UI_TYPE, MENU_NAME, INITIAL_STATE_KEY, state),
        )

    async def _ensure_sensitive_keys(self) -> None:
        existing = await self.fetch(sorted(SENSITIVE_KEYS))
        for key in sorted(SENSITIVE_KEYS):
            # Absent: create it empty and flagged. Present: write back the value read, now flagged; for a key
            # that already was sensitive this changes nothing, for one set without the flag it fixes the flag.
            await self.store(key, existing.get(key) or "", sensitive=True)

    # --- users -----------------------------------------------------------------------------------

    async def is_admin(self, user_id: str) -> bool:
        """True when the user is in Nextcloud's "admin" group (asked as that user, cached 60 s)."""
        if not user_id:
            return False
        now = time.monotonic()
        cached = self._admin_cache.get(user_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        nc = await self._as_user(user_id)
        try:
            # The provisioning API shows users their own groups. nc.users.get_user() would not quote the id.
            data = await self._call("read user", nc.ocs("GET", f"/ocs/v1.php/cloud/users/{quote(user_id, safe='')}"))
            groups = data.get("groups") if isinstance(data, Mapping) else None
        except errors.NextcloudError as exc:
            if nc_status(exc) != 404:
                raise
            groups = []
        result = isinstance(groups, list) and "admin" in groups
        _remember(self._admin_cache, user_id, (now + ADMIN_CACHE_TTL, result))
        return result

    # --- TaskProcessing (as the user) ------------------------------------------------------------

    async def taskprocessing_available(self, user: str) -> bool:
        """True when Nextcloud has a provider for ``core:text2text:chat`` (cached 60 s)."""
        now = time.monotonic()
        cached = self._tasktypes_cache.get(user)
        if cached is not None and cached[0] > now:
            return cached[1]
        nc = await self._as_user(user)
        data = await self._call("list task types", nc.ocs("GET", "/ocs/v2.php/taskprocessing/tasktypes"))
        types = data.get("types") if isinstance(data, Mapping) else None
        result = isinstance(types, Mapping) and CHAT_TASK_TYPE in types
        _remember(self._tasktypes_cache, user, (now + TASKTYPES_CACHE_TTL, result))
        return result

    async def schedule_chat(self, user: str, *, system_prompt: str, input: str, history: list[str],
                            custom_id: str) -> int:
        """Schedule a ``core:text2text:chat`` task; returns its id."""
        nc = await self._as_user(user)
        body = {
            "type": CHAT_TASK_TYPE,
            "input": {"system_prompt": system_prompt, "input": input, "history": history},
            "appId": self.app_id,
            "customId": custom_id,
        }
        try:
            data = await self._call("schedule task",
                                    nc.ocs("POST", "/ocs/v2.php/taskprocessing/schedule", json=body))
        except errors.NextcloudError as exc:
            status = nc_status(exc)
            if status == 412:
                self._tasktypes_cache.pop(user, None)
                raise errors.NotConfigured(
                    "Nextcloud has no text processing provider for chat (core:text2text:chat)") from None
            if status == 400:
                raise errors.ProviderError(f"Nextcloud refused the chat task: {nc_reason(exc)}") from None
            raise
        try:
            return int(data["task"]["id"])
        except (KeyError, TypeError, ValueError):
            raise errors.NextcloudError("Nextcloud sent an unexpected answer (schedule task)") from None

    async def get_task(self, user: str, task_id: int) -> dict[str, Any]:
        """The task as Nextcloud returns it (``status`` is a string on Nextcloud 30+, see task_status())."""
        nc = await self._as_user(user)
        try:
            data = await self._call("read task",
                                    nc.ocs("GET", f"/ocs/v2.php/taskprocessing/task/{int(task_id)}"))
        except errors.NextcloudError as exc:
            if nc_status(exc) == 404:
                raise errors.NotFound("The Nextcloud task no longer exists") from None
            raise
        task = data.get("task") if isinstance(data, Mapping) else None
        if not isinstance(task, dict):
            raise errors.NextcloudError("Nextcloud sent an unexpected answer (read task)")
        return task

    async def cancel_task(self, user: str, task_id: int) -> None:
        """Cancel a task; one that is gone or already ended is not an error."""
        nc = await self._as_user(user)
        try:
            await self._call("cancel task",
                             nc.ocs("POST", f"/ocs/v2.php/taskprocessing/tasks/{int(task_id)}/cancel"))
        except errors.NextcloudError as exc:
            if nc_status(exc) != 404:
                raise

    def cancel_task_soon(self, user: str, task_id: int) -> asyncio.Task[None]:
        """Cancel in the background, immune to the caller being cancelled (used from ``finally`` blocks)."""

        async def run() -> None:
            try:
                await self.cancel_task(user, task_id)
            except errors.AppError as exc:
                log.info("Could not cancel Nextcloud task %s: %s", task_id, exc.message)

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task


def _remember(cache: dict[str, tuple[float, bool]], key: str, value: tuple[float, bool]) -> None:
    if len(cache) >= _MAX_CACHED_USERS:
        cache.clear()  # crude, but bounded; a miss costs one round trip
    cache[key] = value


def nc_status(exc: BaseException) -> int:
    """The HTTP / OCS status Nextcloud answered with (404 for both OCS v1 998 and 404), 0 for none."""
    return int(getattr(exc, "nc_status", 0) or 0)


def nc_reason(exc: BaseException) -> str:
    """Nextcloud's own message for a refused request, "" for none (never contains a secret of ours)."""
    return str(getattr(exc, "nc_reason", "") or "")


def _translate(exc: NextcloudException, what: str) -> errors.AppError:
    """Map an nc_py_api error (HTTP status or OCS status code) to ours; keeps the status for callers."""
    status = int(exc.status_code or 0)
    reason = _clean_reason(exc)
    if status == 429:
        return errors.RateLimited("Nextcloud is rate limiting this user's requests, try again in a minute",
                                  retry_after=60)
    if status == 408:
        err = errors.NextcloudError(f"Nextcloud did not answer in time ({what})")
    elif status in (401, 997):
        err = errors.NextcloudError(
            f"Nextcloud refused the app's authentication ({what}); check that the app is enabled and "
            "that APP_SECRET matches")
    elif status >= 500 and status not in (996, 997, 998, 999):
        err = errors.NextcloudError(f"Nextcloud failed with HTTP {status} ({what})")
    elif isinstance(exc, NextcloudExceptionNotFound) or status in (404, 998):
        err = errors.NextcloudError(f"Not found in Nextcloud ({what})")
        status = 404
    else:
        err = errors.NextcloudError(f"Nextcloud answered {status} ({what})")
    err.nc_status = status  # type: ignore[attr-defined]
    err.nc_reason = reason  # type: ignore[attr-defined]
    return err


def _clean_reason(exc: NextcloudException) -> str:
    """Nextcloud's own message for a refused request (OCS meta message, or a JSON ``message``)."""
    reason = str(exc.reason or "")
    response = exc.response
    if response is not None:
        try:
            body = json.loads(response.text or "")
            data = body.get("ocs", {}).get("data") if isinstance(body, dict) else None
            if isinstance(data, dict) and isinstance(data.get("message"), str):
                reason = data["message"]
        except (ValueError, AttributeError, TypeError):
            pass
    return reason[:300]


async def _close_client(client: AsyncNextcloudApp) -> None:
    session = client._session  # nc_py_api offers no public close; its sessions are these two attributes
    for adapter in (getattr(session, "adapter", None), getattr(session, "adapter_dav", None)):
        if adapter is not None:
            try:
                await adapter.close()
            except Exception as exc:  # closing must never fail the caller
                log.debug("Closing a Nextcloud HTTP session failed: %s", type(exc).__name__)
