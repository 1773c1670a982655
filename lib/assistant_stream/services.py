"""The services a request handler may use, built once per process and kept on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection

from .core.env import AppEnv
from .core.errors import NotAuthenticated
from .core.settings import ConfigStore
from .core.tokens import StreamTokens
from .eventlog import MemoryEventLog
from .generations import GenerationManager


@dataclass(slots=True)
class Services:
    env: AppEnv
    config: ConfigStore
    storage: Any  # store.storage.Storage
    eventlog: MemoryEventLog
    generations: GenerationManager
    tokens: StreamTokens
    nextcloud: Any | None  # nextcloud.NextcloudClient; None in local mode
    provider: Any  # provider.ProviderClient


def services(conn: HTTPConnection) -> Services:
    return conn.app.state.services


def current_user(conn: HTTPConnection) -> str:
    """The Nextcloud user this request acts for; 401 when the caller is AppAPI itself or a token."""
    user = conn.scope.get("username")
    if not user or conn.scope.get("auth") not in ("appapi", "local"):
        raise NotAuthenticated("This route needs a Nextcloud user")
    return user
