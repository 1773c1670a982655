"""Rendering an AppError: one function for HTTP responses, one for SSE error events (and poll bodies)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import AppError, lookup


def retry_seconds(retry_after: float) -> int:
    """Whole seconds for Retry-After: rounded up, at least 1 (0 would invite an immediate hammering)."""
    return max(1, int(retry_after + 0.999))


@dataclass(frozen=True, slots=True)
class HttpError:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def render_http(exc: AppError) -> HttpError:
    """A JSON error response (Nextcloud Assistant's shape: ``{"error": ...}``, plus a code)."""
    status, code = lookup(type(exc))
    headers = {"Retry-After": str(retry_seconds(exc.retry_after))} if exc.retry_after is not None else {}
    return HttpError(status, {"error": exc.message, "code": code}, headers)


def render_sse(exc: AppError) -> dict[str, Any]:
    """The payload of an SSE ``error`` event (and the error part of a poll body)."""
    payload: dict[str, Any] = {"error": exc.message, "code": lookup(type(exc))[1]}
    if exc.retry_after is not None:
        payload["retryAfter"] = retry_seconds(exc.retry_after)
    return payload
