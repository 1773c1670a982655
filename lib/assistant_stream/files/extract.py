"""extract(): a file's bytes to text, in the calling process. Run it through runner.py, never in the app."""

from __future__ import annotations

from dataclasses import dataclass

from . import office, pdf, plaintext
from .kinds import Kind
from .result import UNSUPPORTED, Extracted, ExtractionError
from .sink import SinkFull, TextSink


@dataclass(frozen=True, slots=True)
class Limits:
    max_chars: int = 100_000  # characters of text kept per file (more is cut and marked truncated)
    max_unpacked: int = 100 << 20  # bytes a DOCX/ODT package may unpack to
    max_pages: int = 2000  # PDF pages read


def extract(kind: Kind, data: bytes, limits: Limits) -> Extracted:
    """The text of a file of ``kind``; raises ExtractionError with a code and a message for the user."""
    sink = TextSink(limits.max_chars)
    pages = None
    try:
        if kind is Kind.TEXT:
            plaintext.extract(data, sink)
        elif kind is Kind.PDF:
            pages = pdf.extract(data, sink, max_pages=limits.max_pages)
        elif kind is Kind.DOCX:
            office.extract_docx(data, sink, max_unpacked=limits.max_unpacked)
        elif kind is Kind.ODT:
            office.extract_odt(data, sink, max_unpacked=limits.max_unpacked)
        else:
            raise ExtractionError(UNSUPPORTED, f"No text can be extracted from {kind} files")
    except SinkFull:
        pass
    return Extracted(sink.text(), sink.truncated, pages)
