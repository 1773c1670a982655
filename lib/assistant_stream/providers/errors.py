"""Provider failures mapped to typed ProviderErrors: HTTP statuses, connection errors, in-band error payloads."""

from __future__ import annotations

import email.utils
import html
import json
import re
import socket
import ssl
import time
from typing import Any

import httpx

from ..core import errors
from ..core.limits import MAX_ERROR_DETAIL
from .endpoint import display_url

_TAGS = re.compile(r"(?is)<(script|style)\b.*?</\1>|<[^>]+>")


def _json_message(obj: dict[str, Any]) -> Any:
    err = obj.get("error")
    if isinstance(err, dict):
        return err.get("message") or err.get("msg") or json.dumps(err, ensure_ascii=False)
    if err:
        return err
    if "detail" in obj:  # FastAPI-style servers (vLLM, LiteLLM)
        detail = obj["detail"]
        if isinstance(detail, list):  # 422 validation errors
            return "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
        if isinstance(detail, dict):
            return detail.get("message") or detail.get("error") or json.dumps(detail, ensure_ascii=False)
        return detail
    return obj.get("message") or None


def error_detail(body: bytes) -> str:
    """The human part of an error body: JSON ``error.message`` / ``error`` / ``detail``, or text."""
    text = body.decode("utf-8", "replace").strip()
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    msg = _json_message(obj) if isinstance(obj, dict) else None
    if msg is None:
        msg = html.unescape(_TAGS.sub(" ", text)) if "<" in text else text
    return " ".join(str(msg).split())[:MAX_ERROR_DETAIL]


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds from ``retry-after-ms`` (OpenAI, Azure) or ``Retry-After`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def status_error(status: int, detail: str, where: str, model: str, headers: httpx.Headers,
                 has_key: bool) -> errors.ProviderError:
    """The error for a non-2xx answer to the chat request."""
    suffix = f": {detail}" if detail else ""
    if status in (401, 403):
        none = " (none is configured)" if not has_key else ""
        return errors.ProviderAuthError(f"The AI provider rejected the API key{none} (HTTP {status}){suffix}")
    if status == 404:
        return errors.ProviderNotFound(
            f"The AI provider URL or model was not found (HTTP 404 for {where}, model '{model}'){suffix}")
    if status == 429:
        return errors.ProviderRateLimited(
            f"The AI provider is rate limiting requests (HTTP 429){suffix}", retry_after=retry_after(headers))
    if status >= 500:
        return errors.ProviderUnavailable(f"The AI provider is unavailable (HTTP {status}){suffix}",
                                          upstream_status=status)
    if 300 <= status < 400:
        loc = headers.get("location", "")
        return errors.ProviderError(f"The AI provider redirected (HTTP {status}) to {display_url(loc)}; "
                                    "use that URL instead")
    return errors.ProviderError(f"The AI provider refused the request (HTTP {status}){suffix}")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def connect_error(exc: Exception, where: str) -> errors.ProviderConnectError:
    """Why a connection could not be made (TLS, DNS, refused, other), in words an admin can act on."""
    chain = _chain(exc)
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, ssl.SSLError) for e in chain) or "ssl" in text or "certificate" in text:
        kind, msg = "tls", (f"TLS handshake with the AI provider at {where} failed (certificate or "
                            f"protocol problem; is it http rather than https?): {str(exc)[:150]}")
    elif any(isinstance(e, socket.gaierror) for e in chain) or "name or service not known" in text \
            or "nodename nor servname" in text or "name resolution" in text or "getaddrinfo" in text:
        kind, msg = "dns", ("The AI provider could not be reached: host not found "
                            f"(DNS lookup failed for {where})")
    elif any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        kind, msg = "refused", (f"The AI provider at {where} refused the connection "
                                "(nothing is listening on that port)")
    else:
        kind, msg = "other", f"The AI provider at {where} could not be reached: {str(exc)[:150]}"
    return errors.ProviderConnectError(msg, kind=kind)


def connection_lost(exc: Exception, where: str) -> errors.ProviderDropped:
    """The provider had begun to answer and the connection broke (an incomplete chunked body, a reset): not a
    normal end of the answer, and no failure to connect either."""
    return errors.ProviderDropped(
        f"The connection to the AI provider at {where} was lost during the answer ({type(exc).__name__})")


def retryable(exc: errors.ProviderError) -> bool:
    """Only failures a second attempt can fix: a refused/lost connection, an overloaded gateway."""
    if isinstance(exc, errors.ProviderUnavailable):
        return exc.upstream_status in (502, 503)
    return isinstance(exc, errors.ProviderConnectError) and exc.kind in ("refused", "other", "lost")


def _error_text(err: Any) -> str:
    if isinstance(err, dict):
        msg = err.get("message") or err.get("msg") or err.get("detail") or err.get("error")
        if isinstance(msg, str) and msg:
            return msg
        return json.dumps(err, ensure_ascii=False)[:200]
    return str(err)


def error_from_payload(err: Any, prefix: str = "The AI provider reported an error") -> errors.ProviderError:
    """Map an in-band ``{"error": ...}`` (or an ``event: error`` payload) to the matching ProviderError."""
    msg = _error_text(err)[:500]
    text = f"{prefix}: {msg}"
    code: Any = err.get("code") if isinstance(err, dict) else None
    kind = str(err.get("type") or "") if isinstance(err, dict) else ""
    code_s = str(code or "").lower()
    hint = f"{kind} {code_s}".lower()
    if code_s in ("401", "403") or "auth" in hint or "api_key" in hint or "permission" in hint:
        return errors.ProviderAuthError(text)
    if code_s == "429" or "rate_limit" in hint or "quota" in hint:
        return errors.ProviderRateLimited(text)
    if code_s == "404" or "not_found" in hint:
        return errors.ProviderNotFound(text)
    return errors.ProviderError(text)
