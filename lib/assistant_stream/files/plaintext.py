"""Plain text, Markdown, CSV, JSON and source code: decoded as they are."""

from __future__ import annotations

import codecs

from .result import UNSUPPORTED, ExtractionError
from .sink import TextSink


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with a BOM; other bytes as Windows-1252, as editors do."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", "replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", "replace")
    if b"\x00" in data:
        raise ExtractionError(UNSUPPORTED, "The file does not contain text (it looks like a binary file)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def extract(data: bytes, sink: TextSink) -> None:
    sink.add(decode(data))
