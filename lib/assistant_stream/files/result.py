"""What an extraction gives back: the text, or a refusal with a stable code (no I/O, no imports)."""

from __future__ import annotations

from dataclasses import dataclass

# Codes of ExtractionError; the chat layer maps each to an HTTP status and a user-facing message.
UNSUPPORTED = "file_type_unsupported"  # not a type we read (or its content is not what its name says)
TOO_LARGE = "file_too_large"  # over the byte limit before anything was read
DAMAGED = "file_damaged"  # the parser could not make sense of it
ENCRYPTED = "file_encrypted"  # password protected
BOMB = "file_bomb"  # unpacks to far more than it is: a zip or stream bomb
TOO_COMPLEX = "file_too_complex"  # ran out of the time or memory an extraction may use
NO_TEXT = "file_no_text"  # readable, but without any text (a scanned PDF)
BUSY = "extraction_busy"  # too many extractions waiting already: try again shortly
CODES = frozenset({UNSUPPORTED, TOO_LARGE, DAMAGED, ENCRYPTED, BOMB, TOO_COMPLEX, NO_TEXT, BUSY})


class ExtractionError(Exception):
    """A file that cannot be used. ``message`` is for the user and never contains the file's text."""

    def __init__(self, code: str, message: str) -> None:
        if code not in CODES:
            raise ValueError(f"unknown extraction error code {code!r}")
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Extracted:
    text: str
    truncated: bool  # the text was cut at the character limit
    pages: int | None = None  # pages read (PDF), None for other kinds
