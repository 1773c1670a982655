"""One exception hierarchy and one table from class to (status, code); core/error_render.py renders them."""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    """Base of every error the app reports to a client.

    ``message`` names the cause and never holds a secret. A client error's (4xx) message describes the request
    and is sent to everyone; an upstream or server failure's (5xx) message is the administrator's diagnosis (the
    provider's URL and words, an exception's name) and only administrators get it: everyone else is told the
    ``default_message`` of its class (core/error_render.py).
    Status and code come from ``ERRORS`` (looked up along the class's MRO), never from the instance.
    """

    default_message: ClassVar[str] = "Internal error"
    message: str
    # True once text was already shown to the user: such a failure must not be retried.
    partial: bool
    # Seconds after which trying again makes sense (sent as Retry-After / ``retryAfter``); None: no advice.
    retry_after: float | None

    def __init__(self, message: str | None = None, *, partial: bool = False,
                 retry_after: float | None = None) -> None:
        self.message = message if message is not None else type(self).default_message
        self.partial = partial
        self.retry_after = retry_after
        super().__init__(self.message)

    @property
    def status(self) -> int:
        return lookup(type(self))[0]

    @property
    def code(self) -> str:
        return lookup(type(self))[1]


# --- client errors -------------------------------------------------------------------------------


class InvalidInput(AppError):
    default_message = "Bad request"


class MissingParameter(InvalidInput):
    default_message = "A required parameter is missing"


class InvalidParameter(InvalidInput):
    default_message = "Invalid parameter"


class InvalidJson(InvalidInput):
    default_message = "The request body is not valid JSON"


class EmptyMessage(InvalidInput):
    default_message = "Message content is empty"


class SessionBusy(InvalidInput):
    default_message = "This conversation is already generating an answer"


class NotConfigured(InvalidInput):
    default_message = ("No AI provider is available: the administrator must set streaming_api_url "
                       "or install a Nextcloud text processing provider")


class NoPublicUrl(InvalidInput):
    default_message = "No stream URL is exposed (streaming_public_url is not set)"


class ModelNotAllowed(InvalidInput):
    default_message = "This model is not available: choose one of the models the administrator allows"


class CannotContinue(InvalidInput):
    default_message = "Only an answer that was cut off (length limit, stopped or interrupted) can be continued"


class NotAuthenticated(AppError):
    default_message = "Not authenticated"


class InvalidToken(NotAuthenticated):
    default_message = "Invalid or expired stream token"


class NotFound(AppError):
    # AppAPI answers 404 (not 403) for what a user may not see; we do the same so ids are not probed.
    default_message = "Not found"


class MessageNotFound(NotFound):
    default_message = "Message not found"


class NothingToTitle(NotFound):
    default_message = "There is nothing to title yet"


class RouteNotFound(NotFound):
    """No route has this path."""


class MethodNotAllowed(AppError):
    default_message = "Method not allowed"


class TooLarge(AppError):
    default_message = "Request too large"


class TooLong(TooLarge):
    default_message = "A parameter is too long"


class RateLimited(AppError):
    default_message = "Too many requests"


class TooManyGenerations(RateLimited):
    default_message = "Too many answers are being generated at once"


class BudgetExceeded(RateLimited):
    """A token budget is used up: refused before the provider is asked; retry_after is the time to its reset."""

    default_message = "Your token budget is used up"


class FileTypeUnsupported(InvalidInput):  # attachments: this class and the three below
    default_message = "This type of file is not supported"


class FileTooLarge(TooLarge):
    default_message = "The file is too large"


class FileRejected(AppError):
    default_message = "The file cannot be used"


class VisionUnsupported(InvalidInput):
    default_message = "The model cannot see images"


# --- upstream errors (the provider, Nextcloud, the database) ---------------------------------------


class ProviderError(AppError):
    """The model provider (or Nextcloud's text processing) failed."""

    default_message = "The AI provider failed"


class ProviderAuthError(ProviderError):
    default_message = "The AI provider rejected the API key"


class ProviderNotFound(ProviderError):
    default_message = "The AI provider URL or model was not found"


class ProviderRateLimited(ProviderError):
    default_message = "The AI provider is rate limiting requests"


class ProviderUnavailable(ProviderError):
    default_message = "The AI provider is unavailable"
    upstream_status: int | None  # the provider's HTTP status (5xx); decides whether a retry can help

    def __init__(self, message: str | None = None, *, upstream_status: int | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.upstream_status = upstream_status


class ProviderConnectError(ProviderError):
    default_message = "The AI provider could not be reached"
    kind: str  # "tls", "dns", "refused", "lost" (during the answer) or "other"

    def __init__(self, message: str | None = None, *, kind: str = "other", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.kind = kind


class ProviderDropped(ProviderConnectError):
    """The connection broke off after the provider had begun to answer: not a failure to connect."""

    default_message = "The connection to the AI provider broke off during the answer"

    def __init__(self, message: str | None = None, **kw: Any) -> None:
        super().__init__(message, kind="lost", **kw)


class ProviderTimeout(ProviderError):
    default_message = "The AI provider did not answer in time"


class ProviderProtocolError(ProviderError):
    default_message = "The AI provider sent a response that is not an OpenAI-compatible stream"


class ProviderLimitExceeded(ProviderError):
    default_message = "The AI provider sent more data than allowed"


class NextcloudError(AppError):
    default_message = "Nextcloud could not be reached"
    nc_status: int  # the HTTP / OCS status Nextcloud answered with (404 for OCS 998 too); 0 for none
    nc_reason: str  # Nextcloud's own message for a refused request ("" for none; never a secret of ours)

    def __init__(self, message: str | None = None, *, nc_status: int = 0, nc_reason: str = "", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.nc_status = nc_status
        self.nc_reason = nc_reason


class StorageUnavailable(AppError):
    default_message = "The database is unavailable, try again shortly"

    def __init__(self, message: str | None = None, *, retry_after: float | None = 2, **kw: Any) -> None:
        super().__init__(message, retry_after=retry_after, **kw)


class ShuttingDown(StorageUnavailable):
    default_message = "The app is shutting down, try again in a moment"


class GenerationFailed(AppError):
    """A stored answer that failed with a code this version does not know (or none, before 0002)."""

    default_message = "The answer failed"


# --- the one table ---------------------------------------------------------------------------------

ERRORS: dict[type[AppError], tuple[int, str]] = {
    AppError: (500, "internal_error"),
    InvalidInput: (400, "bad_request"),
    MissingParameter: (400, "missing_parameter"),
    InvalidParameter: (400, "invalid_parameter"),
    InvalidJson: (400, "invalid_json"),
    EmptyMessage: (400, "empty_message"),
    SessionBusy: (400, "session_already_thinking"),
    NotConfigured: (400, "not_configured"),
    NoPublicUrl: (400, "no_public_url"),
    ModelNotAllowed: (400, "model_not_allowed"),
    CannotContinue: (400, "cannot_continue"),
    NotAuthenticated: (401, "not_authenticated"),
    InvalidToken: (401, "invalid_token"),
    NotFound: (404, "not_found"),
    MessageNotFound: (404, "message_not_found"),
    NothingToTitle: (404, "nothing_to_title"),
    RouteNotFound: (404, "http_404"),
    MethodNotAllowed: (405, "http_405"),
    TooLarge: (413, "too_large"),
    TooLong: (413, "too_long"),
    RateLimited: (429, "rate_limited"),
    TooManyGenerations: (429, "too_many_generations"),
    BudgetExceeded: (429, "budget_exceeded"),
    ProviderError: (502, "provider_error"),
    ProviderAuthError: (502, "provider_auth"),
    ProviderNotFound: (502, "provider_not_found"),
    ProviderRateLimited: (502, "provider_rate_limited"),
    ProviderUnavailable: (502, "provider_unavailable"),
    ProviderConnectError: (502, "provider_unreachable"),
    ProviderDropped: (502, "provider_dropped"),
    ProviderTimeout: (504, "provider_timeout"),
    ProviderProtocolError: (502, "provider_protocol"),
    ProviderLimitExceeded: (502, "provider_limit"),
    NextcloudError: (502, "nextcloud_error"),
    StorageUnavailable: (503, "storage_unavailable"),
    ShuttingDown: (503, "shutting_down"),
    GenerationFailed: (500, "generation_failed"),
    FileTypeUnsupported: (415, "file_type_unsupported"),
    FileTooLarge: (413, "file_too_large"),
    FileRejected: (422, "file_rejected"),
    VisionUnsupported: (400, "vision_unsupported"),
}
_BY_CODE: dict[str, type[AppError]] = {code: cls for cls, (_status, code) in ERRORS.items()}


def lookup(cls: type[AppError]) -> tuple[int, str]:
    """(status, code) of the nearest class in ``cls``'s MRO that the table names."""
    for klass in cls.__mro__:
        found = ERRORS.get(klass)  # type: ignore[arg-type]
        if found is not None:
            return found
    raise TypeError(f"{cls.__name__} is not an AppError")


def from_code(code: str | None, message: str | None) -> AppError:
    """The error a stored answer ended with, rebuilt from its code (GenerationFailed when unknown)."""
    return _BY_CODE.get(code or "", GenerationFailed)(message or GenerationFailed.default_message)
