"""ProviderClient: streams chat answers from any OpenAI-compatible API as typed events."""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import html
import json
import re
import socket
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from . import __version__, errors
from .chunks import ChunkParser, Finish, ProviderEvent, ReasoningDelta, TextDelta, Usage, error_from_payload
from .events import ChatMessage
from .provider_url import Endpoint, display_url, redact, resolve_endpoint
from .sse import SSEDecoder

__all__ = [
    "ChatMessage", "ConnectionReport", "Finish", "ProviderClient", "ProviderConfig", "ProviderEvent",
    "ReasoningDelta", "TextDelta", "Usage", "build_messages",
]

_ROLES = {"human": "user", "user": "user", "assistant": "assistant", "system": "system"}
_MAX_ERROR_BODY = 64 * 1024
_RETRY_BACKOFF = 0.25  # seconds before a retry, times the attempt number


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    url: str
    api_key: str
    model: str
    connect_timeout: float = 10
    first_byte_timeout: float = 60
    idle_timeout: float = 60  # seconds allowed between two chunks
    max_tokens: int | None = None
    temperature: float | None = None
    max_answer_chars: int = 200_000
    max_line_bytes: int = 1_048_576
    retries_before_first_token: int = 1


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    ok: bool
    summary: str
    # reachable, key_accepted, model_exists, streams: True/False, or None when it could not be told.
    checks: dict[str, bool | None] = field(default_factory=dict)


def _truncate_middle(text: str, limit: int) -> str:
    # A long pasted text usually has the instruction at one end and the question at the other.
    if len(text) <= limit:
        return text
    if limit < 10:
        return text[-limit:] if limit > 0 else ""
    head = (limit - 3) // 2
    return text[:head] + "\n…\n" + text[len(text) - (limit - 3 - head):]


def build_messages(history: list[tuple[str, str]], system_prompt: str | None, max_messages: int,
                   max_chars: int) -> list[ChatMessage]:
    """The most recent history within ``max_messages`` and ``max_chars`` (system prompt not counted).

    The last user message is always kept (middle-truncated if it alone is over ``max_chars``); older
    messages are dropped from the start, and a leading assistant message is dropped too because some
    chat templates reject a conversation that does not start with the user.
    """
    msgs = [ChatMessage(_ROLES[r], c or "") for r, c in history if r in _ROLES]
    max_messages = max(1, max_messages)
    last_user = next((i for i in range(len(msgs) - 1, -1, -1) if msgs[i].role == "user"), None)
    kept: list[ChatMessage] = []
    if last_user is None:
        chars = 0
        for m in reversed(msgs):
            if len(kept) >= max_messages or chars + len(m.content) > max_chars:
                break
            kept.append(m)
            chars += len(m.content)
        kept.reverse()
    else:
        user = msgs[last_user]
        user = ChatMessage("user", _truncate_middle(user.content, max_chars))
        chars = len(user.content)
        after: list[ChatMessage] = []
        for m in msgs[last_user + 1:]:
            if len(after) + 1 >= max_messages or chars + len(m.content) > max_chars:
                break
            after.append(m)
            chars += len(m.content)
        before: list[ChatMessage] = []
        for m in reversed(msgs[:last_user]):
            if len(before) + len(after) + 1 >= max_messages or chars + len(m.content) > max_chars:
                break
            before.append(m)
            chars += len(m.content)
        before.reverse()
        while before and before[0].role == "assistant":
            before.pop(0)
        kept = [*before, user, *after]
    if system_prompt and system_prompt.strip():
        kept.insert(0, ChatMessage("system", system_prompt))
    return kept


# --- error mapping ------------------------------------------------------------------------------------

_TAGS = re.compile(r"(?is)<(script|style)\b.*?</\1>|<[^>]+>")


def error_detail(body: bytes) -> str:
    """The human part of an error body: JSON ``error.message`` / ``error`` / ``detail``, or text."""
    text = body.decode("utf-8", "replace").strip()
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    msg: Any = None
    if isinstance(obj, dict):
        err = obj.get("error")
        if isinstance(err, dict):
            msg = err.get("message") or err.get("msg") or json.dumps(err, ensure_ascii=False)
        elif err:
            msg = err
        elif "detail" in obj:  # FastAPI-style servers (vLLM, LiteLLM)
            detail = obj["detail"]
            if isinstance(detail, list):  # 422 validation errors
                msg = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
            elif isinstance(detail, dict):
                msg = detail.get("message") or detail.get("error") or json.dumps(detail, ensure_ascii=False)
            else:
                msg = detail
        elif obj.get("message"):
            msg = obj["message"]
    if msg is None:
        msg = html.unescape(_TAGS.sub(" ", text)) if "<" in text else text
    return " ".join(str(msg).split())[:200]


def _retry_after(headers: httpx.Headers) -> float | None:
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


def _status_error(status: int, detail: str, where: str, model: str, headers: httpx.Headers,
                  has_key: bool) -> errors.ProviderError:
    suffix = f": {detail}" if detail else ""
    if status in (401, 403):
        none = " (none is configured)" if not has_key else ""
        return errors.ProviderAuthError(f"The AI provider rejected the API key{none} (HTTP {status}){suffix}")
    if status == 404:
        return errors.ProviderNotFound(
            f"The AI provider URL or model was not found (HTTP 404 for {where}, model '{model}'){suffix}")
    if status == 429:
        return errors.ProviderRateLimited(
            f"The AI provider is rate limiting requests (HTTP 429){suffix}",
            retry_after=_retry_after(headers))
    if status >= 500:
        exc = errors.ProviderUnavailable(f"The AI provider is unavailable (HTTP {status}){suffix}")
        exc.http_status = status  # type: ignore[attr-defined]
        return exc
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


def _connect_error(exc: Exception, where: str) -> errors.ProviderConnectError:
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
    err = errors.ProviderConnectError(msg)
    err.kind = kind  # type: ignore[attr-defined]
    return err


def _retryable(exc: errors.ProviderError) -> bool:
    # Only failures a second attempt can fix: a refused/lost connection, an overloaded gateway.
    if isinstance(exc, errors.ProviderUnavailable):
        return getattr(exc, "http_status", None) in (502, 503)
    return isinstance(exc, errors.ProviderConnectError) and getattr(exc, "kind", "") in ("refused", "other",
                                                                                          "lost")


class _NoUsageOption(Exception):
    """The provider rejected stream_options: retry without it."""


# --- client -------------------------------------------------------------------------------------------


class ProviderClient:
    """One shared connection pool for every stream; create once per process, ``aclose()`` at shutdown."""

    def __init__(self, *, max_connections: int = 2048, transport: httpx.AsyncBaseTransport | None = None,
                 verify: ssl.SSLContext | str | bool = True, trust_env: bool = True) -> None:
        self._client = httpx.AsyncClient(
            http1=True, http2=False, verify=verify, trust_env=trust_env, transport=transport,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=256,
                                keepalive_expiry=30),
            headers={"User-Agent": f"assistant_stream/{__version__}"},
        )
        # Chat URLs that rejected stream_options: asked again without it from then on.
        self._no_usage_option: set[str] = set()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def stream_chat(self, config: ProviderConfig, messages: list[ChatMessage]
                          ) -> AsyncIterator[ProviderEvent]:
        """Stream one answer. Always ends with exactly one Finish (``reason=None`` when not given).

        Raises ``errors.ProviderError`` subclasses; ``partial=True`` once any text or reasoning was
        yielded. Connect errors and HTTP 502/503 are retried before the first event, never after.
        """
        try:
            endpoint = resolve_endpoint(config.url, config.api_key)
        except ValueError as exc:
            raise errors.ProviderError(str(exc)) from None
        attempt = 0
        yielded = False
        while True:
            try:
                async for ev in self._stream_once(config, endpoint, messages):
                    if not yielded and isinstance(ev, (TextDelta, ReasoningDelta)):
                        yielded = True
                    yield ev
                return
            except _NoUsageOption:
                self._no_usage_option.add(endpoint.chat_url)
                continue
            except errors.ProviderError as exc:
                # Last line of defence: whatever path built the message, the key never leaves.
                exc.message = redact(exc.message, config.api_key)
                exc.args = (exc.message,)
                if yielded:
                    exc.partial = True
                    raise
                if attempt < config.retries_before_first_token and _retryable(exc):
                    attempt += 1
                    await asyncio.sleep(_RETRY_BACKOFF * attempt)
                    continue
                raise

    def _body(self, config: ProviderConfig, endpoint: Endpoint,
              messages: list[ChatMessage]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": config.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
        }
        if endpoint.chat_url not in self._no_usage_option:
            body["stream_options"] = {"include_usage": True}
        if config.max_tokens is not None:
            body["max_tokens"] = config.max_tokens
        if config.temperature is not None:
            body["temperature"] = config.temperature
        return body

    async def _stream_once(self, config: ProviderConfig, endpoint: Endpoint, messages: list[ChatMessage]
                           ) -> AsyncIterator[ProviderEvent]:
        body = self._body(config, endpoint, messages)
        where = display_url(endpoint.chat_url)
        # httpx's own timeouts bound connect and write; reads are bounded below by asyncio timeouts
        # (first byte, then idle between chunks), httpx's read timeout is only a backstop.
        timeout = httpx.Timeout(connect=config.connect_timeout, write=max(config.connect_timeout, 30),
                                pool=config.connect_timeout,
                                read=max(config.first_byte_timeout, config.idle_timeout) + 5)
        request = self._client.build_request(
            "POST", endpoint.chat_url, json=body, timeout=timeout,
            headers={**endpoint.headers, "Accept": "text/event-stream"})
        response: httpx.Response | None = None
        try:
            try:
                async with asyncio.timeout(config.first_byte_timeout):
                    response = await self._client.send(request, stream=True)
            except TimeoutError:
                raise errors.ProviderTimeout(
                    f"The AI provider at {where} did not answer within {config.first_byte_timeout:g} s "
                    "(first byte timeout)") from None
            except httpx.ConnectTimeout:
                raise errors.ProviderTimeout(
                    f"Connecting to the AI provider at {where} timed out after {config.connect_timeout:g} s "
                    "(connect timeout)") from None
            except httpx.TimeoutException:
                raise errors.ProviderTimeout(
                    f"The AI provider at {where} did not answer in time (first byte timeout)") from None
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                raise _connect_error(exc, where) from None
            except httpx.HTTPError as exc:
                raise errors.ProviderError(
                    f"Request to the AI provider at {where} failed: {str(exc)[:150]}") from None
            async for ev in self._read(config, endpoint, response, body, where):
                yield ev
        finally:
            # Also runs when the consumer stops iterating or the task is cancelled: the upstream
            # request is closed at once so the provider stops generating for nobody.
            if response is not None:
                await response.aclose()

    async def _read_body(self, response: httpx.Response, config: ProviderConfig) -> bytes:
        buf = bytearray()
        try:
            # An error page is small and sent at once: do not wait a whole idle timeout for it.
            async with asyncio.timeout(min(config.idle_timeout, 10)):
                async for chunk in response.aiter_bytes():
                    buf += chunk
                    if len(buf) >= _MAX_ERROR_BODY:
                        break
        except (TimeoutError, httpx.HTTPError):
            pass  # the status alone is still worth reporting
        return bytes(buf)

    async def _read(self, config: ProviderConfig, endpoint: Endpoint, response: httpx.Response,
                    body: dict[str, Any], where: str) -> AsyncIterator[ProviderEvent]:
        status = response.status_code
        ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if not 200 <= status < 300:
            raw = await self._read_body(response, config)
            low = raw.lower()
            mentions = b"stream_options" in low or b"include_usage" in low
            if "stream_options" in body and (status == 422 or (status == 400 and mentions)):
                raise _NoUsageOption
            raise _status_error(status, error_detail(raw), where, config.model, response.headers,
                                "Authorization" in endpoint.headers or "api-key" in endpoint.headers)
        if ctype == "application/json":
            # The server ignored stream=true and answered in one piece (or sent an error at 200).
            raw = await self._read_body(response, config)
            try:
                obj = json.loads(raw)
            except ValueError:
                raise errors.ProviderProtocolError(
                    "The AI provider sent malformed JSON instead of a stream: " + error_detail(raw)) from None
            if not isinstance(obj, dict) or not (obj.get("choices") or obj.get("error")):
                raise errors.ProviderProtocolError(
                    "The AI provider sent JSON that is not a chat completion: " + error_detail(raw))
            parser = ChunkParser()
            for ev in parser.parse_obj(obj):
                yield ev
            for ev in parser.finish():
                yield ev
            return
        if ctype and ctype != "text/event-stream":
            raw = await self._read_body(response, config)
            raise errors.ProviderProtocolError(
                f"The AI provider at {where} answered with {ctype} instead of an event stream "
                f"(is the URL right?): {error_detail(raw)}")

        decoder = SSEDecoder(config.max_line_bytes)
        parser = ChunkParser()
        chars = 0
        limit = config.max_answer_chars
        got_any = False
        done = False
        stream = response.aiter_bytes()
        wait = config.first_byte_timeout
        while not done:
            try:
                async with asyncio.timeout(wait):
                    chunk = await anext(stream)
            except StopAsyncIteration:
                events = decoder.flush()
                chunk = b""
            except TimeoutError:
                which = "idle timeout between chunks" if got_any else "first byte timeout"
                raise errors.ProviderTimeout(
                    f"The AI provider at {where} sent nothing for {wait:g} s ({which})") from None
            except httpx.TimeoutException:
                raise errors.ProviderTimeout(
                    f"The AI provider at {where} stopped sending (read timeout)") from None
            except httpx.HTTPError as exc:
                # A dropped connection (incomplete chunked body) is not a normal end of the answer.
                lost = errors.ProviderConnectError(
                    f"The connection to the AI provider at {where} was lost during the answer "
                    f"({type(exc).__name__})")
                lost.kind = "lost"  # type: ignore[attr-defined]
                raise lost from None
            else:
                wait = config.idle_timeout
                got_any = True
                events = decoder.feed(chunk)
            for sse in events:
                data = sse.data
                if sse.event == "error":
                    try:
                        payload: Any = json.loads(data)
                    except ValueError:
                        payload = data or "unknown error"
                    if isinstance(payload, dict) and "error" in payload:
                        payload = payload["error"]
                    raise error_from_payload(payload)
                if sse.event != "message" or not data:
                    continue  # pings and other named events; a bare "data:" carries nothing
                if data == "[DONE]":
                    done = True
                    break
                for ev in parser.parse(data):
                    if type(ev) is TextDelta or type(ev) is ReasoningDelta:
                        chars += len(ev.text)
                        if chars > limit:
                            raise errors.ProviderLimitExceeded(
                                f"The answer exceeded the limit of {limit} characters")
                    yield ev
            if not chunk:
                break
        if not done and not parser.finished and chars == 0:
            raise errors.ProviderProtocolError(
                f"The AI provider at {where} ended the stream without sending an answer")
        for ev in parser.finish():
            yield ev
        if done:
            # Let the connection go back to the pool when the terminating chunk is already buffered;
            # otherwise the finally above simply closes it.
            try:
                async with asyncio.timeout(0.05):
                    async for _ in stream:
                        pass
            except (TimeoutError, httpx.HTTPError):
                pass

    # --- connection test ----------------------------------------------------------------------------

    async def test_connection(self, config: ProviderConfig) -> ConnectionReport:
        """Check reachable / key accepted / model exists / streams; a one-sentence summary for admins."""
        checks: dict[str, bool | None] = {"reachable": None, "key_accepted": None, "model_exists": None,
                                          "streams": None}
        problems: list[str] = []
        try:
            endpoint = resolve_endpoint(config.url, config.api_key)
        except ValueError as exc:
            checks["reachable"] = False
            return ConnectionReport(False, str(exc) + ".", checks)
        listed: bool | None = None
        if endpoint.models_url:
            listed = await self._check_models(config, endpoint, checks, problems)
        if checks["reachable"] is not False:
            probe = dataclasses.replace(config, max_tokens=5, retries_before_first_token=0,
                                        first_byte_timeout=min(config.first_byte_timeout, 30),
                                        idle_timeout=min(config.idle_timeout, 30))
            try:
                got = False
                async for ev in self.stream_chat(probe, [ChatMessage("user", "Say OK.")]):
                    if isinstance(ev, (TextDelta, ReasoningDelta)) or (isinstance(ev, Finish) and ev.reason):
                        got = True
                checks.update(reachable=True, streams=got)
                if checks["key_accepted"] is None:
                    checks["key_accepted"] = True
                if not got:
                    problems.append("the test answer stream was empty")
                # A server that answers for the model counts as having it, even when its model list
                # spells it differently (Ollama "x:latest", llama.cpp lists the file name).
                checks["model_exists"] = True if listed else None
            except errors.ProviderError as exc:
                checks["streams"] = False
                if isinstance(exc, errors.ProviderConnectError):
                    checks["reachable"] = False
                else:
                    checks["reachable"] = True
                if isinstance(exc, errors.ProviderAuthError):
                    checks["key_accepted"] = False
                if isinstance(exc, errors.ProviderNotFound) and checks["model_exists"] is not True:
                    checks["model_exists"] = False
                problems.append(_lower_first(exc.message.rstrip(".")))
        ok = bool(checks["reachable"] and checks["key_accepted"] is not False
                  and checks["model_exists"] is not False and checks["streams"])
        summary = redact(_summary(config, endpoint, checks, problems), config.api_key)
        return ConnectionReport(ok, summary, checks)

    async def _check_models(self, config: ProviderConfig, endpoint: Endpoint, checks: dict[str, bool | None],
                            problems: list[str]) -> bool | None:
        assert endpoint.models_url is not None
        where = display_url(endpoint.models_url)
        try:
            async with asyncio.timeout(config.connect_timeout + 10):
                r = await self._client.get(endpoint.models_url, headers=endpoint.headers,
                                           timeout=httpx.Timeout(config.connect_timeout + 10,
                                                                 connect=config.connect_timeout))
        except (TimeoutError, httpx.TimeoutException):
            checks["reachable"] = False
            problems.append(f"the AI provider at {where} did not answer within the connect timeout")
            return None
        except httpx.HTTPError as exc:
            checks["reachable"] = False
            problems.append(_lower_first(_connect_error(exc, where).message))
            return None
        checks["reachable"] = True
        if r.status_code in (401, 403):
            checks["key_accepted"] = False
            return None
        if r.status_code != 200:
            return None  # no model list here (404) or it failed: streaming decides
        checks["key_accepted"] = True
        try:
            data = r.json().get("data")
            ids = {str(m.get("id")) for m in data if isinstance(m, dict)}
        except (ValueError, AttributeError, TypeError):
            return None
        if not ids:
            return None
        found = config.model in ids or f"{config.model}:latest" in ids
        checks["model_exists"] = found
        return found


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != "AI" else text


def _summary(config: ProviderConfig, endpoint: Endpoint, checks: dict[str, bool | None],
             problems: list[str]) -> str:
    where = display_url(endpoint.chat_url)
    good: list[str] = []
    if checks["reachable"]:
        good.append(f"the AI provider at {where} is reachable")
    if checks["key_accepted"]:
        good.append("the API key is accepted" if endpoint.headers else "no API key is needed")
    if checks["model_exists"]:
        good.append(f"model '{config.model}' exists")
    if checks["streams"]:
        good.append("streaming works")
    bad = list(problems)
    if checks["reachable"] and checks["key_accepted"] is False and not any("API key" in p for p in bad):
        bad.append("the API key was rejected")
    if checks["model_exists"] is False and not any("not found" in p for p in bad):
        bad.append(f"model '{config.model}' is not in the provider's model list")
    if not good:
        text = "; ".join(bad or ["the AI provider could not be checked"])
    elif not bad:
        text = ", ".join(good[:-1]) + (" and " if len(good) > 1 else "") + good[-1]
    else:
        text = ", ".join(good) + ", but " + "; ".join(bad)
    return text[:1].upper() + text[1:] + "."
