"""The one list of HTTP routes the app serves; appinfo/info.xml is generated and checked from it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum


class Access(IntEnum):
    """AppAPI's access levels (info.xml `access_level`)."""

    PUBLIC = 0
    USER = 1
    ADMIN = 2


@dataclass(frozen=True, slots=True)
class Route:
    url: str  # a regular expression, as AppAPI matches it
    verbs: tuple[str, ...]
    access: Access
    # Headers the AppAPI proxy must not forward (none of ours need hiding).
    headers_to_exclude: tuple[str, ...] = ()


# AppAPI matches with preg_match('/' . url . '/i', path): a bare "/" would end the PHP pattern, so escape it.
ROUTES: tuple[Route, ...] = (
    Route(r"^chat\/.*", ("GET", "POST", "PUT", "PATCH", "DELETE"), Access.USER),
    Route(r"^admin\/.*", ("GET", "POST", "PUT"), Access.ADMIN),
    Route(r"^(js|css|img|l10n)\/.*", ("GET",), Access.USER),
)


def access_for(path: str) -> Access | None:
    """The access level of the first route whose url matches ``path`` (with or without the leading "/")."""
    subject = path.lstrip("/")
    for route in ROUTES:
        if re.search(route.url, subject, re.IGNORECASE):
            return route.access
    return None


# Paths AppAPI itself calls (not user routes, not in info.xml).
LIFECYCLE_PATHS = frozenset({"/heartbeat", "/init", "/enabled"})
# Paths that answer without any authentication.
PUBLIC_PATHS = frozenset({"/heartbeat"})
# Paths a browser may reach with a stream token instead of AppAPI headers (the admin-exposed URL).
TOKEN_PATHS = frozenset({"/chat/stream", "/chat/poll"})
