"""The last defence for secrets: a string that never shows itself, and redaction of text that leaves."""

from __future__ import annotations

import re

# Generic secrets worth hiding even when they are not the configured key (a provider echoing some
# other key, a proxy printing the Authorization header it received).
_SECRETISH = re.compile(
    r"(?i)(bearer\s+|api[-_]?key[\"']?\s*[:=]\s*[\"']?)[^\s\"',;]+|\bsk-[A-Za-z0-9_\-]{8,}")


class Secret:
    """A string that never shows itself in a repr, a log line or a JSON dump by accident."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__


def redact(text: str, api_key: str | None) -> str:
    """Remove the API key (and anything that looks like a bearer token or key) from ``text``."""
    if api_key:
        key = api_key.strip()
        if len(key) >= 4 and key.lower() != "not-needed":
            text = text.replace(key, "[redacted]")
    return _SECRETISH.sub(lambda m: (m.group(1) or "") + "[redacted]", text)
