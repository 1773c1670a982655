"""The transport to Nextcloud: nc_py_api's async client per user, and its errors translated into ours."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Coroutine
from typing import Any, Generic, TypeVar

from nc_py_api import (
    AsyncNextcloudApp,
    NextcloudException,
    NextcloudExceptionNotFound,
    NextcloudMissingCapabilities,
)
from niquests.exceptions import RequestException

from ..core import errors
from ..core.env import AppEnv
from ..core.limits import MAX_CACHED_USERS, MAX_USER_CLIENTS, RETIRED_CLIENT_GRACE

log = logging.getLogger(__name__)

T = TypeVar("T")


class NextcloudClient:
    """Talks to Nextcloud as the ExApp ("" user) or as a given user, through AppAPI authentication.

    Every failure to reach Nextcloud, or an answer that is not what Nextcloud sends, becomes
    ``errors.NextcloudError`` (with Nextcloud's status and reason) and never contains a secret.
    """

    def __init__(self, env: AppEnv, *, timeout: float = 10, max_user_clients: int = MAX_USER_CLIENTS) -> None:
        self.app_id = env.app_id
        # Passed explicitly so nc_py_api does not read os.environ (tests run several apps in one process).
        self._kwargs: dict[str, Any] = {
            "nextcloud_url": env.nextcloud_url,
            "app_id": env.app_id,
            "app_secret": env.app_secret,
            "app_version": env.app_version,
            "npa_timeout": timeout,
        }
        self._max_user_clients = max_user_clients
        self._app_client: AsyncNextcloudApp | None = None
        # set_user() on a shared client would race between concurrent requests (the user is read when each
        # request is signed), so every user gets a client of its own.
        self._user_clients: OrderedDict[str, AsyncNextcloudApp] = OrderedDict()
        self._retired: list[tuple[float, AsyncNextcloudApp]] = []
        self._background: set[asyncio.Task[Any]] = set()

    def _new_client(self, user: str) -> AsyncNextcloudApp:
        # Same effect as AsyncNextcloudApp.set_user(user), without its capabilities round trip.
        return AsyncNextcloudApp(user=user, **self._kwargs)

    def app(self) -> AsyncNextcloudApp:
        """The client that acts as the ExApp itself."""
        if self._app_client is None:
            self._app_client = self._new_client("")
        return self._app_client

    async def as_user(self, user: str) -> AsyncNextcloudApp:
        """The client that acts as ``user`` (NotAuthenticated for no user)."""
        if not user:
            raise errors.NotAuthenticated("No Nextcloud user for this request")
        client = self._user_clients.get(user)
        if client is not None:
            self._user_clients.move_to_end(user)
            return client
        client = self._new_client(user)
        self._user_clients[user] = client
        now = time.monotonic()
        while len(self._user_clients) > self._max_user_clients:
            _, old = self._user_clients.popitem(last=False)
            self._retired.append((now, old))
        while self._retired and now - self._retired[0][0] > RETIRED_CLIENT_GRACE:
            await _close_client(self._retired.pop(0)[1])
        return client

    @property
    def user_clients(self) -> list[str]:
        """The users that have a client now, least recently used first."""
        return list(self._user_clients)

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

    async def call(self, what: str, awaitable: Awaitable[T]) -> T:
        """Await one nc_py_api call; translate transport and server failures into NextcloudError."""
        try:
            return await awaitable
        except NextcloudMissingCapabilities:
            raise errors.NextcloudError(f"Nextcloud does not offer AppAPI ({what})") from None
        except NextcloudException as exc:
            raise translate(exc, what) from None
        except (RequestException, OSError, TimeoutError) as exc:
            # The exception text may carry the URL with credentials of a proxy: name the type only.
            raise errors.NextcloudError(
                f"Nextcloud could not be reached ({what}: {type(exc).__name__})") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise errors.NextcloudError(
                f"Nextcloud sent an unexpected answer ({what}: {type(exc).__name__})") from None

    def in_background(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` immune to the caller being cancelled; awaited by ``aclose``."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task


class TtlCache(Generic[T]):
    """Per-user answers kept ``ttl`` seconds; bounded so a big instance cannot grow it forever."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._entries: dict[str, tuple[float, T]] = {}

    def get(self, key: str) -> T | None:
        entry = self._entries.get(key)
        return entry[1] if entry is not None and entry[0] > time.monotonic() else None

    def put(self, key: str, value: T) -> None:
        if len(self._entries) >= MAX_CACHED_USERS:
            self._entries.clear()  # crude, but bounded; a miss costs one round trip
        self._entries[key] = (time.monotonic() + self._ttl, value)

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)


def translate(exc: NextcloudException, what: str) -> errors.AppError:
    """Map an nc_py_api error (HTTP status or OCS status code) to ours; keeps the status for callers."""
    status = int(exc.status_code or 0)
    reason = _clean_reason(exc)
    if status == 429:
        return errors.RateLimited("Nextcloud is rate limiting this user's requests, try again in a minute",
                                  retry_after=60)
    if status == 408:
        message = f"Nextcloud did not answer in time ({what})"
    elif status in (401, 997):
        message = (f"Nextcloud refused the app's authentication ({what}); check that the app is enabled and "
                   "that APP_SECRET matches")
    elif status >= 500 and status not in (996, 997, 998, 999):
        message = f"Nextcloud failed with HTTP {status} ({what})"
    elif isinstance(exc, NextcloudExceptionNotFound) or status in (404, 998):
        message, status = f"Not found in Nextcloud ({what})", 404
    else:
        message = f"Nextcloud answered {status} ({what})"
    return errors.NextcloudError(message, nc_status=status, nc_reason=reason)


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
