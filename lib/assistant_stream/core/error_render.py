"""Rendering an AppError: one function for HTTP responses, one for SSE error events (and poll bodies)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import AppError, lookup


def retry_seconds(retry_after: float) -> int:
    """Whole seconds for Retry-After: rounded up, at least 1 (0 would invite an immediate hammering)."""
    return max(1, int(retry_after + 0.999))


def public_message(exc: AppError) -> str:
    """What every reader is told. A client error (4xx) describes the request in the caller's words; a failure
    upstream or here (5xx) in the words of its class, because its own message is the administrator's detail."""
    return exc.message if exc.status < 500 else type(exc).default_message


def admin_detail(exc: AppError) -> str | None:
    """What only administrators are told (the provider's URL and words, an exception's name); None when the
    error's words are the same for everyone."""
    return exc.message if exc.message != public_message(exc) else None


@dataclass(frozen=True, slots=True)
class HttpError:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def render_http(exc: AppError, *, admin: bool = False) -> HttpError:
    """A JSON error response (Nextcloud Assistant's shape: ``{"error": ...}``, plus a code; for an
    administrator the ``detail``)."""
    status, code = lookup(type(exc))
    headers = {"Retry-After": str(retry_seconds(exc.retry_after))} if exc.retry_after is not None else {}
    return HttpError(status, _with_detail({"error": public_message(exc), "code": code}, exc, admin), headers)


def render_sse(exc: AppError, *, admin: bool = False) -> dict[str, Any]:
    """The payload of an SSE ``error`` event (and the error part of a poll body); for an administrator the
    ``detail``."""
    payload: dict[str, Any] = {"error": public_message(exc), "code": lookup(type(exc))[1]}
    if exc.retry_after is not None:
        payload["retryAfter"] = retry_seconds(exc.retry_after)
    return _with_detail(payload, exc, admin)


def _with_detail(body: dict[str, Any], exc: AppError, admin: bool) -> dict[str, Any]:
    detail = admin_detail(exc) if admin else None
    if detail is not None:
        body["detail"] = detail
    return body
