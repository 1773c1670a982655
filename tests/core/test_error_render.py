"""Rendering errors (core/error_render.py): the HTTP body and Retry-After, the SSE payload and retryAfter."""

from __future__ import annotations

from assistant_stream.core import errors
from assistant_stream.core.error_render import render_http, render_sse
from assistant_stream.core.errors import AppError, ProviderRateLimited, RateLimited, StorageUnavailable


def test_render_http() -> None:
    plain = render_http(errors.MessageNotFound("taskId must be an assistant message"))
    assert (plain.status, plain.body, plain.headers) == (
        404, {"error": "taskId must be an assistant message", "code": "message_not_found"}, {})
    limited = render_http(RateLimited("wait", retry_after=59.3))
    assert limited.status == 429 and limited.headers == {"Retry-After": "60"}
    assert render_http(StorageUnavailable()).headers == {"Retry-After": "2"}
    # The provider's own Retry-After reaches the client too.
    assert render_http(ProviderRateLimited("slow", retry_after=0.2)).headers == {"Retry-After": "1"}
    assert render_http(AppError()).body == {"error": "Internal error", "code": "internal_error"}


def test_render_sse() -> None:
    assert render_sse(errors.ProviderAuthError("no")) == {"error": "no", "code": "provider_auth"}
    assert render_sse(ProviderRateLimited("slow", retry_after=7)) == {
        "error": "slow", "code": "provider_rate_limited", "retryAfter": 7}
