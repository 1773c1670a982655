"""StreamTransport: httpx's interface on aiohttp's connections (httpx-aiohttp), with the error mapping and the
closing that a relay needs.

Measured in bench/transport_bench.py: about a third of the CPU per chunk of httpx's own transport (httpcore
and anyio). Two things of httpx-aiohttp 0.2 are corrected here: it reports every failed connect (refused,
DNS, TLS) as a connect *timeout*, and closing a response that is still streaming waits for the provider
instead of dropping the connection, so an abandoned answer would keep the model generating.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

_TIMEOUTS = (aiohttp.ServerTimeoutError, TimeoutError)


@contextlib.contextmanager
def _mapped(reading: bool) -> Iterator[None]:
    """httpx's exception for an aiohttp failure, by what really happened (the aiohttp one as its cause)."""
    try:
        yield
    except httpx.HTTPError as exc:
        cause = exc.__cause__
        if not isinstance(cause, aiohttp.ClientError) or isinstance(cause, _TIMEOUTS):
            raise
        if isinstance(cause, aiohttp.ClientConnectorError) and not reading:
            # The OS's own error (refused, DNS, TLS) rather than aiohttp's wording of it ("ssl:default" even
            # for plain http): providers/errors.py tells the admin which it was from this chain.
            origin = getattr(cause, "certificate_error", None) or cause.os_error
            raise httpx.ConnectError(str(origin) or type(origin).__name__) from origin
        if isinstance(cause, aiohttp.ClientPayloadError) or (reading and isinstance(cause, aiohttp.ClientOSError)):
            raise httpx.ReadError(str(cause)) from cause
        if isinstance(cause, aiohttp.ClientConnectionError):
            error: type[httpx.HTTPError] = httpx.ReadError if reading else httpx.ConnectError
            raise error(str(cause) or type(cause).__name__) from cause
        raise


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream, response: aiohttp.ClientResponse) -> None:
        self._stream = stream
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped(reading=True):
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        if self._response.content.at_eof():
            self._response.release()  # read to the end: the connection goes back to the pool
        else:
            # Abandoned mid-stream: drop the connection, the provider stops at once. (A body that arrived
            # whole is already back in the pool, unread: aiohttp keeps the connection, as it may.)
            self._response.close()


class StreamTransport(AiohttpTransport):
    def get_client(self) -> aiohttp.ClientSession:
        # No DNS cache (aiohttp keeps answers 10 s by default): each new connection resolves the name, as
        # httpx's own transport does, so a provider that moved or whose name stopped resolving shows at once.
        limit = self.limits.max_connections or 0
        connector = aiohttp.TCPConnector(ssl=self.ssl_context, limit=limit, use_dns_cache=False,
                                         keepalive_timeout=self.limits.keepalive_expiry)
        return aiohttp.ClientSession(connector=connector)

    def idle_connections(self) -> int:
        """Connections kept open for reuse (keep-alive), for leak checks."""
        session = self.client if isinstance(self.client, aiohttp.ClientSession) else None
        if session is None or session.connector is None:
            return 0
        return sum(len(idle) for idle in session.connector._conns.values())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _mapped(reading=False):
            response = await super().handle_async_request(request)
        stream = response.stream
        aiohttp_response = getattr(stream, "_aiohttp_response", None)
        if isinstance(stream, httpx.AsyncByteStream) and aiohttp_response is not None:
            response.stream = _Body(stream, aiohttp_response)
        return response
