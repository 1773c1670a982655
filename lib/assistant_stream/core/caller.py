"""Who is calling: the user and how the caller proved itself, put in the ASGI scope by the auth middleware."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .errors import NotAuthenticated

SCOPE_KEY = "caller"


class CallerKind(StrEnum):
    APPAPI = "appapi"  # AppAPI's signed headers: a Nextcloud user, or "" for AppAPI's own calls
    TOKEN = "token"  # noqa: S105 - a stream token in the query (checked by the route; only on TOKEN_PATHS)
    LOCAL = "local"  # single-user mode on loopback, never in a container
    ANONYMOUS = "anonymous"  # a public path (the heartbeat): nobody had to prove anything


@dataclass(frozen=True, slots=True)
class Caller:
    kind: CallerKind
    user: str | None  # None for a token until the route has verified it

    def require_user(self) -> str:
        """The Nextcloud user this request acts for; NotAuthenticated for AppAPI itself or a token."""
        if not self.user or self.kind not in (CallerKind.APPAPI, CallerKind.LOCAL):
            raise NotAuthenticated("This route needs a Nextcloud user")
        return self.user


def caller_of(scope: dict[str, Any]) -> Caller:
    caller = scope.get(SCOPE_KEY)
    if not isinstance(caller, Caller):
        raise NotAuthenticated()
    return caller
