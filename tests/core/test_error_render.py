"""Rendering errors (core/error_render.py): the HTTP body and Retry-After, the SSE payload and retryAfter, and
the administrator's detail for administrators only."""

from __future__ import annotations

import pytest

from assistant_stream.core import errors
from assistant_stream.core.error_render import admin_detail, public_message, render_http, render_sse
from assistant_stream.core.errors import AppError, ProviderRateLimited, RateLimited, StorageUnavailable

DETAIL = ("The connection to the AI provider at http://10.0.0.5:8000/v1 was lost during the answer "
          "(RemoteProtocolError)")
DROPPED = "The connection to the AI provider broke off during the answer"


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
    assert render_sse(errors.ProviderAuthError("no (HTTP 401)")) == {
        "error": "The AI provider rejected the API key", "code": "provider_auth"}
    assert render_sse(ProviderRateLimited("slow", retry_after=7)) == {
        "error": "The AI provider is rate limiting requests", "code": "provider_rate_limited", "retryAfter": 7}


def test_the_detail_goes_to_administrators_only() -> None:
    exc = errors.ProviderDropped(DETAIL, partial=True)
    for body in (render_http(exc).body, render_sse(exc), render_http(exc, admin=False).body):
        assert body == {"error": DROPPED, "code": "provider_dropped"}
    assert render_http(exc, admin=True).body == {"error": DROPPED, "code": "provider_dropped", "detail": DETAIL}
    assert render_sse(exc, admin=True) == {"error": DROPPED, "code": "provider_dropped", "detail": DETAIL}
    assert render_http(exc, admin=True).status == 502


@pytest.mark.parametrize("exc", [
    errors.ProviderError("Request to the AI provider at https://llm.internal/v1 failed: ReadError"),
    errors.ProviderUnavailable("The AI provider is unavailable (HTTP 503): upstream reset", upstream_status=503),
    errors.NextcloudError("Nextcloud could not be reached (read user: ConnectTimeout)"),
    StorageUnavailable("Cannot reach Redis at redis.internal:6379 (REDIS_URL): ConnectionError"),
    AppError("KeyError in the relay"),
])
def test_a_failure_upstream_or_here_tells_users_only_its_class(exc: AppError) -> None:
    assert public_message(exc) == type(exc).default_message and admin_detail(exc) == exc.message
    assert exc.message not in str(render_sse(exc)) and exc.message not in str(render_http(exc).body)
    assert render_sse(exc, admin=True)["detail"] == exc.message


def test_a_client_error_keeps_its_words_for_everyone() -> None:
    """A 4xx describes the request: its words are for its caller, and an administrator is told nothing more."""
    for exc in (errors.InvalidParameter("sessionId must be an integer"), errors.VisionUnsupported(),
                RateLimited("Nextcloud is rate limiting this user's requests, try again in a minute", retry_after=60)):
        assert public_message(exc) == exc.message and admin_detail(exc) is None
        assert render_sse(exc, admin=True) == render_sse(exc) and render_http(exc, admin=True) == render_http(exc)
