"""One provider response -> typed events: the status and content-type gate, then the event stream, bounded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from ..core import errors
from ..core.events import ProviderEvent, ReasoningDelta, TextDelta
from ..core.limits import MAX_ERROR_BODY
from .body import body_pieces, read_capped
from .chunks import ChunkParser
from .config import ProviderConfig
from .errors import connection_lost, error_detail, error_from_payload, status_error
from .sse import ServerSentEvent, SSEDecoder
from .watchdog import IdleWatchdog


class UsageOptionRejected(Exception):
    """The provider rejected stream_options: the request is retried without it."""


async def read_body(response: httpx.Response, config: ProviderConfig) -> bytes:
    """Up to MAX_ERROR_BODY bytes, waiting at most 10 s (an error page is small and sent at once)."""
    try:
        async with asyncio.timeout(min(config.idle_timeout, 10)):
            return await read_capped(response, MAX_ERROR_BODY)
    except (TimeoutError, httpx.HTTPError, errors.ProviderError):
        return b""  # the status alone is still worth reporting


async def read_events(response: httpx.Response, config: ProviderConfig, *, sent: dict[str, Any], where: str,
                      has_key: bool) -> AsyncIterator[ProviderEvent]:
    """The answer's events. Raises ProviderError subclasses, or UsageOptionRejected."""
    status = response.status_code
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not 200 <= status < 300:
        raw = await read_body(response, config)
        low = raw.lower()
        mentions = b"stream_options" in low or b"include_usage" in low
        if "stream_options" in sent and (status == 422 or (status == 400 and mentions)):
            raise UsageOptionRejected
        raise status_error(status, error_detail(raw), where, config.model, response.headers, has_key)
    if ctype == "application/json":
        for ev in await _completion(response, config):
            yield ev
        return
    if ctype and ctype != "text/event-stream":
        raw = await read_body(response, config)
        raise errors.ProviderProtocolError(
            f"The AI provider at {where} answered with {ctype} instead of an event stream "
            f"(is the URL right?): {error_detail(raw)}")
    async for ev in _stream(response, config, where):
        yield ev


async def _completion(response: httpx.Response, config: ProviderConfig) -> list[ProviderEvent]:
    """The server ignored stream=true and answered in one piece (or sent an error at 200)."""
    raw = await read_body(response, config)
    try:
        obj = json.loads(raw)
    except ValueError:
        raise errors.ProviderProtocolError(
            "The AI provider sent malformed JSON instead of a stream: " + error_detail(raw)) from None
    if not isinstance(obj, dict) or not (obj.get("choices") or obj.get("error")):
        raise errors.ProviderProtocolError(
            "The AI provider sent JSON that is not a chat completion: " + error_detail(raw))
    parser = ChunkParser()
    return [*parser.parse_obj(obj), *parser.finish()]


async def _stream(response: httpx.Response, config: ProviderConfig, where: str) -> AsyncIterator[ProviderEvent]:
    decoder = SSEDecoder(config.max_line_bytes)
    parser = ChunkParser()
    stream = body_pieces(response)
    watchdog = IdleWatchdog(config.first_byte_timeout, config.idle_timeout)
    try:
        async for ev in _events(stream, watchdog, decoder, parser, config, where):
            yield ev
    finally:
        watchdog.close()


async def _events(stream: AsyncIterator[bytes], watchdog: IdleWatchdog, decoder: SSEDecoder, parser: ChunkParser,
                  config: ProviderConfig, where: str) -> AsyncIterator[ProviderEvent]:
    chars = 0
    limit = config.max_answer_chars
    got_any = done = False
    while not done:
        chunk = await _next_chunk(stream, watchdog, where, got_any)
        if chunk:
            got_any = True
            events = decoder.feed(chunk)
        else:
            events = decoder.flush()
        for sse in events:
            data = _data(sse)
            if data is None:
                continue
            if data == "[DONE]":
                done = True
                break
            for ev in parser.parse(data):
                if type(ev) is TextDelta or type(ev) is ReasoningDelta:
                    chars += len(ev.text)
                    if chars > limit:
                        raise errors.ProviderLimitExceeded(f"The answer exceeded the limit of {limit} characters")
                yield ev
        if not chunk:
            break
    if not done and not parser.finished and chars == 0:
        raise errors.ProviderProtocolError(f"The AI provider at {where} ended the stream without sending an answer")
    for ev in parser.finish():
        yield ev
    watchdog.close()
    if done:
        await _drain(stream)


async def _next_chunk(stream: AsyncIterator[bytes], watchdog: IdleWatchdog, where: str, got_any: bool) -> bytes:
    """The next network read (b"" at the end), bounded by the first-byte or the idle timeout."""
    try:
        chunk = await anext(stream)
        watchdog.touch()
        return chunk
    except StopAsyncIteration:
        return b""
    except asyncio.CancelledError:
        if not watchdog.absorb():
            raise
        which = "idle timeout between chunks" if got_any else "first byte timeout"
        raise errors.ProviderTimeout(f"The AI provider at {where} sent nothing for {watchdog.limit:g} s "
                                     f"({which})") from None
    except httpx.TimeoutException:
        raise errors.ProviderTimeout(f"The AI provider at {where} stopped sending (read timeout)") from None
    except httpx.HTTPError as exc:
        raise connection_lost(exc, where) from None


def _data(sse: ServerSentEvent) -> str | None:
    """The JSON text of a chunk event; None for pings and other named events. Raises for ``event: error``."""
    if sse.event == "error":
        try:
            payload: Any = json.loads(sse.data)
        except ValueError:
            payload = sse.data or "unknown error"
        if isinstance(payload, dict) and "error" in payload:
            payload = payload["error"]
        raise error_from_payload(payload)
    if sse.event != "message" or not sse.data:
        return None  # a bare "data:" carries nothing
    return sse.data


async def _drain(stream: AsyncIterator[bytes]) -> None:
    # Let the connection go back to the pool when the terminating chunk is already buffered;
    # otherwise the caller's finally simply closes it.
    try:
        async with asyncio.timeout(0.05):
            async for _ in stream:
                pass
    except (TimeoutError, httpx.HTTPError, errors.ProviderError):
        pass
