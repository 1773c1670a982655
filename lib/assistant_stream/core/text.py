"""Text as it enters the app: NUL and lone UTF-16 surrogates cleaned in one place."""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: str) -> str:
    """``value`` without NUL, lone surrogates replaced by U+FFFD.

    PostgreSQL rejects NUL in text and neither database can store a lone surrogate (which a JSON
    "\\ud800" escape or a broken model stream can produce): cleaning where text enters keeps what is
    streamed, stored and replayed the same text, instead of failing a write later.
    """
    if "\x00" in value:
        value = value.replace("\x00", "")
    if value.isascii():  # the usual case, checked in C without a regex pass
        return value
    return _SURROGATE.sub("\ufffd", value)
