"""uvicorn's HTTP protocol with a bounded request head: how large it may be and how long it may take to arrive."""

# With its default parser (httptools) uvicorn bounds neither: a header line that never ends is buffered
# whole (six 32 MiB heads took the app from 132 to 387 MB RSS, issue 16), and a connection that sends its
# head a byte at a time, or nothing at all, is kept for ever (its keep-alive timeout only starts after a
# first response). `h11_max_incomplete_event_size` bounds the size with the slower h11 parser only, and no
# option bounds the time. So `python -m assistant_stream` (`make run`, the container) serves with this
# subclass: a head must be complete within HEAD_TIMEOUT of the connection opening (or of its first byte,
# on a kept-alive connection) and within MAX_HEAD_BYTES, or the client gets 408 / 431 and is disconnected.

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..core.errors import AppError, RequestHeadTooLarge, RequestTimeout, render_http
from ..core.limits import HEAD_TIMEOUT, MAX_HEAD_BYTES

LINGER = 1.0  # seconds a refused client has to read the answer before the connection is dropped
_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that answers a request head over MAX_HEAD_BYTES with 431, one slower than
    HEAD_TIMEOUT with 408, and then closes the connection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._in_head = False
        self._head_read = 0  # bytes read while a head was incomplete
        self._head_size = 0  # request target and header fields parsed so far
        self._refused = False

    # --- when a head starts and ends ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head()  # a new connection owes a request head like any other

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head()
        super().connection_lost(exc)

    def _start_head(self) -> None:
        self._in_head = True
        self._head_read = self._head_size = 0
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(HEAD_TIMEOUT, self._head_timed_out)

    def _stop_head(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def eof_received(self) -> bool | None:
        if self._refused:
            self.transport.close()  # the refused client is gone: no need to linger
        return super().eof_received()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering: whatever the refused client still sends is dropped unread
        super().data_received(data)
        if self._in_head and not self._refused:
            # Still inside a head after this read, so all of it was head (a read that also ended the
            # previous body is over-counted, which can only refuse sooner, and pipelining is rare).
            self._head_read += len(data)
            if self._head_read > MAX_HEAD_BYTES:
                self._refuse(_too_large())

    # --- parser callbacks (none runs once the request is refused) ------------------------------------

    def on_message_begin(self) -> None:
        if not self._refused:
            self._start_head()  # a kept-alive connection's next head is timed from its first byte
            super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        if not self._refused:
            self._head_size += len(url)
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._refused:
            self._head_size += len(name) + len(value) + 4
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._stop_head()
        if self._head_size > MAX_HEAD_BYTES:  # a head that arrived whole within one large read
            self._refuse(_too_large())
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    def on_response_complete(self) -> None:
        if self.cycle is not None and self.cycle.more_body and not self.transport.is_closing():
            # Answered before its body had arrived (refused early, or a body sent a byte at a time that
            # the route gave up on): the rest cannot be told from a next request, so the connection ends
            # here, as uvicorn's h11 protocol does, rather than being kept alive by the trickle.
            self.transport.close()
            return
        super().on_response_complete()

    # --- refusing -----------------------------------------------------------------------------------

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self._refused:
            self._refuse(RequestTimeout(f"The request line and headers did not arrive within {HEAD_TIMEOUT:g} s"))

    def _refuse(self, exc: AppError) -> None:
        self._refused = True
        self._stop_head()
        transport = self.transport
        if transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A response is under way on this connection (the stalled head was pipelined behind it): the
            # status line is taken, so all that can be done is to close.
            transport.close()
            return
        error = render_http(exc)
        body = json.dumps(error.body, separators=(",", ":")).encode()
        head = [b"HTTP/1.1 %d %s\r\n" % (error.status, _REASONS[error.status])]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head += [b"content-type: application/json\r\n", b"content-length: %d\r\n" % len(body),
                 b"cache-control: no-cache\r\n", b"connection: close\r\n\r\n"]
        transport.write(b"".join(head) + body)
        # Lingering close: read nothing more, end our side, and give the client a moment to read the
        # answer; closing at once with its data unread would reset the connection, answer and all.
        transport.pause_reading()
        if transport.can_write_eof():
            transport.write_eof()
        self.loop.call_later(LINGER, transport.close)


def _too_large() -> RequestHeadTooLarge:
    return RequestHeadTooLarge(f"The request line and headers are larger than {MAX_HEAD_BYTES // 1024} KB")
