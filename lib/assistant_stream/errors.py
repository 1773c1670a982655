"""One exception hierarchy, mapped to HTTP status codes and SSE error events in one place."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Base of every error the app reports to a client.

    ``message`` is shown to users and admins: it must name the cause and must never contain a secret.
    ``code`` is a stable machine-readable identifier (the frontend maps it to translated advice).
    """

    status: int = 500
    code: str = "internal_error"
    message: str = "Internal error"

    def __init__(self, message: str | None = None, *, code: str | None = None, status: int | None = None,
                 headers: dict[str, str] | None = None, partial: bool = False) -> None:
        self.message = message if message is not None else type(self).message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers = headers or {}
        # True once text was already shown to the user: such a failure must not be retried.
        self.partial = partial
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """Body of a JSON error response (Nextcloud Assistant's shape: ``{"error": ...}``)."""
        return {"error": self.message, "code": self.code}

    def to_event(self) -> dict[str, Any]:
        """Payload of an SSE ``error`` event (the documented ``{"error": "..."}`` plus a code)."""
        return {"error": self.message, "code": self.code}


# --- client errors -------------------------------------------------------------------------------


class BadRequest(AppError):
    status = 400
    code = "bad_request"
    message = "Bad request"


class NotAuthenticated(AppError):
    status = 401
    code = "not_authenticated"
    message = "Not authenticated"


class NotFound(AppError):
    # AppAPI answers 404 (not 403) for what a user may not see; we do the same so ids are not probed.
    status = 404
    code = "not_found"
    message = "Not found"


class SessionBusy(BadRequest):
    code = "session_already_thinking"
    message = "This conversation is already generating an answer"


class NotConfigured(BadRequest):
    code = "not_configured"
    message = ("No AI provider is available: the administrator must set streaming_api_url "
               "or install a Nextcloud text processing provider")


class RateLimited(AppError):
    status = 429
    code = "rate_limited"
    message = "Too many requests"

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        if retry_after is not None:
            self.headers.setdefault("Retry-After", str(max(1, int(retry_after + 0.999))))


class PayloadTooLarge(AppError):
    status = 413
    code = "too_large"
    message = "Request too large"


# --- upstream errors (the provider, Nextcloud, the database) ---------------------------------------


class ProviderError(AppError):
    """The model provider failed. 502 when surfaced as an HTTP response."""

    status = 502
    code = "provider_error"
    message = "The AI provider failed"


class ProviderAuthError(ProviderError):
    code = "provider_auth"
    message = "The AI provider rejected the API key"


class ProviderNotFound(ProviderError):
    code = "provider_not_found"
    message = "The AI provider URL or model was not found"


class ProviderRateLimited(ProviderError):
    code = "provider_rate_limited"
    message = "The AI provider is rate limiting requests"

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    code = "provider_unavailable"
    message = "The AI provider is unavailable"


class ProviderConnectError(ProviderError):
    code = "provider_unreachable"
    message = "The AI provider could not be reached"


class ProviderTimeout(ProviderError):
    status = 504
    code = "provider_timeout"
    message = "The AI provider did not answer in time"


class ProviderProtocolError(ProviderError):
    code = "provider_protocol"
    message = "The AI provider sent a response that is not an OpenAI-compatible stream"


class ProviderLimitExceeded(ProviderError):
    code = "provider_limit"
    message = "The AI provider sent more data than allowed"


class NextcloudError(AppError):
    status = 502
    code = "nextcloud_error"
    message = "Nextcloud could not be reached"


class StorageError(AppError):
    status = 503
    code = "storage_unavailable"
    message = "The database is unavailable, try again shortly"

    def __init__(self, message: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.headers.setdefault("Retry-After", "2")
