"""ProviderClient: one connection pool; requests with timeouts, retried only before the first token."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx

from .. import __version__
from ..core import errors
from ..core.events import ChatMessage, ProviderEvent, ReasoningDelta, TextDelta
from ..core.secrets import redact
from ..core.text import clean_text
from .aiohttp_transport import StreamTransport
from .config import ProviderConfig
from .endpoint import Endpoint, display_url, resolve_endpoint
from .errors import connect_error, retryable
from .response import UsageOptionRejected, read_events

_RETRY_BACKOFF = 0.25  # seconds before a retry, times the attempt number


class ProviderClient:
    """One shared connection pool for every stream; create once per process, ``aclose()`` at shutdown."""

    def __init__(self, *, max_connections: int = 2048, transport: httpx.AsyncBaseTransport | None = None,
                 verify: ssl.SSLContext | str | bool = True, trust_env: bool = True) -> None:
        if transport is None:
            # httpx's interface on aiohttp's connections (providers/aiohttp_transport.py).
            transport = StreamTransport(verify=verify, trust_env=trust_env, limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=256, keepalive_expiry=30))
        self._client = httpx.AsyncClient(
            http1=True, http2=False, verify=verify, trust_env=trust_env, transport=transport,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=256,
                                keepalive_expiry=30),
            # Uncompressed answers only: a compressed one is read through providers/body.py's bounds.
            headers={"User-Agent": f"assistant_stream/{__version__}", "Accept-Encoding": "identity"},
        )
        # Chat URLs that rejected stream_options: asked again without it from then on.
        self._no_usage_option: set[str] = set()

    @property
    def http(self) -> httpx.AsyncClient:
        """The pool itself (diagnostics reads the model list with it)."""
        return self._client

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
            except UsageOptionRejected:
                self._no_usage_option.add(endpoint.chat_url)
                continue
            except errors.ProviderError as exc:
                # Last line of defence: whatever path built the message, the key never leaves; and the
                # provider's own words in it are clean text (no NUL, no lone surrogate) like its answers.
                exc.message = clean_text(redact(exc.message, config.api_key))
                exc.args = (exc.message,)
                if yielded:
                    exc.partial = True
                    raise
                if attempt < config.retries_before_first_token and retryable(exc):
                    attempt += 1
                    await asyncio.sleep(_RETRY_BACKOFF * attempt)
                    continue
                raise

    def _body(self, config: ProviderConfig, endpoint: Endpoint, messages: list[ChatMessage]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": config.model,
            "messages": [_message_json(m) for m in messages],
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
        # httpx's own timeouts bound connect and write; reads are bounded by one watchdog per stream (first
        # byte, then idle between chunks, in response.py): no read timeout down there, whose timer would be
        # set again on every read (bench/transport_bench.py measures the difference).
        timeout = httpx.Timeout(connect=config.connect_timeout, write=max(config.connect_timeout, 30),
                                pool=config.connect_timeout, read=None)
        request = self._client.build_request(
            "POST", endpoint.chat_url, json=body, timeout=timeout,
            headers={**endpoint.headers, "Accept": "text/event-stream"})
        response: httpx.Response | None = None
        try:
            response = await self._send(request, config, where)
            has_key = "Authorization" in endpoint.headers or "api-key" in endpoint.headers
            async for ev in read_events(response, config, sent=body, where=where, has_key=has_key):
                yield ev
        finally:
            # Also runs when the consumer stops iterating or the task is cancelled: the upstream
            # request is closed at once so the provider stops generating for nobody.
            if response is not None:
                await response.aclose()

    async def _send(self, request: httpx.Request, config: ProviderConfig, where: str) -> httpx.Response:
        try:
            async with asyncio.timeout(config.first_byte_timeout):
                return await self._client.send(request, stream=True)
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
            raise connect_error(exc, where) from None
        except httpx.HTTPError as exc:
            raise errors.ProviderError(f"Request to the AI provider at {where} failed: {str(exc)[:150]}") from None


def _message_json(message: ChatMessage) -> dict[str, Any]:
    """A message in the Chat Completions request: plain content, or text and ``image_url`` parts (vision)."""
    if not message.images:
        return {"role": message.role, "content": message.content}
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in message.images]
    return {"role": message.role, "content": parts}
