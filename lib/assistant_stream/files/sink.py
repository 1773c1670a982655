"""TextSink: collects extracted text up to a character limit and stops the extractor once it is full."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


class SinkFull(Exception):
    """Raised by TextSink.add once the limit is reached: the extractor stops reading the file."""


class TextSink:
    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self._parts: list[str] = []
        self._size = 0
        self.truncated = False

    def add(self, text: str) -> None:
        if not text:
            return
        room = self.max_chars - self._size
        if len(text) > room:
            self._parts.append(text[:max(room, 0)])
            self._size = self.max_chars
            self.truncated = True
            raise SinkFull
        self._parts.append(text)
        self._size += len(text)

    def text(self) -> str:
        return clean("".join(self._parts))


def clean(text: str) -> str:
    """Newlines normalised, control characters (NUL included) removed, runs of blank lines shortened."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    return _BLANK_LINES.sub("\n\n", text).strip()
