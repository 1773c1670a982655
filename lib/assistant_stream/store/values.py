"""Checks and conversions for values on their way into the database (domain errors, never SQL errors)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Row

from ..core.errors import AppError, InvalidInput, NotFound
from ..core.limits import MAX_ID, MAX_TIMESTAMP
from ..core.text import clean_text

Record = dict[str, Any]  # one row as a dict: a session or a message (docs/api.md "Records")


def now() -> int:
    return int(time.time())


def text_value(value: str, *, what: str, limit: int | None = None,
               too_large: type[AppError] = InvalidInput) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"The {what} must be text")
    if limit is not None and len(value) > limit:
        raise too_large(f"The {what} is too long (at most {limit} characters)")
    return clean_text(value)


def id_value(value: Any, what: str) -> int:
    # Out-of-range ids cannot exist; reject them here instead of letting PostgreSQL raise a DataError.
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise NotFound(f"{what} not found")
    return value


def int_value(value: Any, what: str, lo: int = 0, hi: int = MAX_TIMESTAMP) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidInput(f"The {what} must be an integer between {lo} and {hi}")
    return value


def record(row: Row[Any] | None) -> Record | None:
    return None if row is None else dict(row._mapping)
