"""uvicorn's HTTP protocol with bounded requests: how large a head may be, and how long a head or body may take."""

# With its default parser (httptools) uvicorn bounds neither: a header line that never ends is buffered
# whole (six 32 MiB heads took the app from 132 to 387 MB RSS, issue 16), and a connection that sends its
# head or body a byte at a time, or nothing at all, is kept for ever (its keep-alive timeout only starts
# after a response). `h11_max_incomplete_event_size` bounds the size with the slower h11 parser only, and
# no option bounds the time. So `python -m assistant_stream` (`make run`, the container) serves with this
# subclass. A refusal happens below the app, like uvicorn's own "400 Invalid HTTP request", so it is
# written here, in the app's error shape: 431 for a head over MAX_HEAD_BYTES, 408 for a head not complete
# HEAD_TIMEOUT after the connection opened (or after its first byte, on a kept-alive connection), or a body
# slower than Apache's RequestReadTimeout default (BODY_TIMEOUT, plus a second per MIN_BODY_RATE bytes
# received) while the app waits for it; then the connection is closed.

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..core.limits import BODY_TIMEOUT, HEAD_TIMEOUT, MAX_HEAD_BYTES, MIN_BODY_RATE

LINGER = 1.0  # seconds a refused client has to read the answer before the connection is dropped
# A request answered before its body arrived (a 413 on a too-large upload): the rest of the body is read
# and dropped for this long, at most this much, so the client can finish sending and read the answer.
DRAIN_TIME = 5.0
DRAIN_BYTES = 16 * 1024 * 1024
_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that refuses an oversized (431) or slow (408) request and closes the connection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None  # the head's or the body's deadline
        self._in_head = False
        self._head_read = 0  # bytes read while a head was incomplete
        self._head_size = 0  # request target and header fields parsed so far
        self._refused = False
        self._body_deadline = 0.0  # loop time by which the body must be complete (it grows as bytes come)
        self._drain_left: int | None = None  # body bytes still accepted after an early answer
        self._drain_timer: asyncio.TimerHandle | None = None

    # --- deadlines ----------------------------------------------------------------------------------

    def _arm(self, seconds: float, callback: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _start_head(self) -> None:
        self._in_head = True
        self._head_read = self._head_size = 0
        self._arm(HEAD_TIMEOUT, self._head_timed_out)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head()  # a new connection owes a request head like any other

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._stop_draining()
        super().connection_lost(exc)

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
            # previous body is over-counted, which can only refuse sooner; pipelining is rare).
            self._head_read += len(data)
            if self._head_read > MAX_HEAD_BYTES:
                self._refuse(431, "request_head_too_large", _too_large())

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
        self._in_head = False
        if self._head_size > MAX_HEAD_BYTES:  # a head that arrived whole within one large read
            self._refuse(431, "request_head_too_large", _too_large())
            return
        self._body_deadline = self.loop.time() + BODY_TIMEOUT
        self._arm(BODY_TIMEOUT, self._body_timed_out)  # disarmed at once when there is no body
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._refused:
            return
        if self._drain_left is not None:  # the rest of a body answered early: dropped (by uvicorn)
            self._drain_left -= len(body)
            if self._drain_left < 0:
                self.transport.close()
        else:
            self._body_deadline += len(body) / MIN_BODY_RATE
            self._arm(self._body_deadline - self.loop.time(), self._body_timed_out)
        super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            self._disarm()
            self._stop_draining()
            super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.cycle is not None and self.cycle.more_body and not self.transport.is_closing():
            # Answered before its body had arrived (a 413 on a too-large upload, a 401): uvicorn reads
            # and drops the rest, so a client still sending it (HTTP clients send before they read) gets
            # its answer and keeps the connection. But only DRAIN_BYTES within DRAIN_TIME: a body that
            # is still trickling in then ends the connection.
            self._disarm()
            self._drain_left = DRAIN_BYTES
            self._drain_timer = self.loop.call_later(DRAIN_TIME, self.transport.close)

    def _stop_draining(self) -> None:
        self._drain_left = None
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None

    # --- refusing -----------------------------------------------------------------------------------

    def _head_timed_out(self) -> None:
        self._timer = None
        if self._in_head and not self._refused:
            self._refuse(408, "request_timeout",
                         f"The request line and headers did not arrive within {HEAD_TIMEOUT:g} s")

    def _body_timed_out(self) -> None:
        self._timer = None
        if self._refused or self.cycle is None or not self.cycle.more_body:
            return
        if self.flow.read_paused:
            # The app is not reading (uvicorn stopped reading for it): the client cannot send, no fault.
            self._body_deadline = self.loop.time() + BODY_TIMEOUT
            self._arm(BODY_TIMEOUT, self._body_timed_out)
            return
        self._refuse(408, "request_timeout", f"The request body arrived too slowly (at least {MIN_BODY_RATE} "
                                             f"bytes a second after the first {BODY_TIMEOUT:g} s)")

    def _refuse(self, status: int, code: str, message: str) -> None:
        self._refused = True
        self._in_head = False
        self._disarm()
        transport, cycle = self.transport, self.cycle
        if transport.is_closing():
            return
        if cycle is not None and cycle.response_started and not cycle.response_complete:
            transport.close()  # the status line is taken: all that can be done is to close
            return
        if cycle is not None and not cycle.response_complete:
            # The app is still waiting for this body: it is told the client is gone, and what it answers
            # is dropped (uvicorn's cycle sends nothing once disconnected).
            cycle.disconnected = True
            cycle.message_event.set()
        body = json.dumps({"error": message, "code": code}, separators=(",", ":")).encode()
        head = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])]
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


def _too_large() -> str:
    return f"The request line and headers are larger than {MAX_HEAD_BYTES // 1024} KB"
