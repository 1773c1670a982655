"""Incremental Server-Sent Events decoder (bytes in, events out, no I/O) with a bounded line size."""

# Written here instead of using httpx-sse's SSEDecoder because httpx-sse does not bound the size of a
# line (a provider that never sends a line end would grow memory without limit), it drops the last
# event at EOF when the server omits the trailing blank line (llama.cpp ends with "data: [DONE]" and
# no blank line), and its per-line str handling is measurably slower than working on bytes: this
# decoder sits on the hot path of every streamed token (see bench/decode_bench.py).

from __future__ import annotations

import re
from typing import NamedTuple

from ..core.errors import ProviderLimitExceeded
from ..core.limits import MAX_LINE_BYTES

# Any of CR, LF (CRLF is a CR followed by a LF and is handled where a CR ends a chunk).
_LINE_END = re.compile(rb"[\r\n]")
_BOM = b"\xef\xbb\xbf"


class ServerSentEvent(NamedTuple):
    """One dispatched event: ``data`` is the ``data:`` lines joined by ``\\n``.

    A NamedTuple rather than a frozen dataclass: one is created per token and a frozen dataclass
    costs several times more to construct.
    """

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Feed raw bytes with :meth:`feed`, call :meth:`flush` at EOF; both return completed events.

    Follows the WHATWG event-stream rules, except that an unterminated event is dispatched at EOF
    (providers end streams without the final blank line), and lines or events (all their ``data:``
    lines together) longer than ``max_line_bytes`` raise
    :class:`~assistant_stream.core.errors.ProviderLimitExceeded`.
    """

    __slots__ = ("_data", "_event", "_last_id", "_max", "_partial", "_retry", "_size", "_skip_lf", "_started")

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._max = max_line_bytes
        # Bytes of an unfinished line; a bytearray so a long line arriving in many pieces is not
        # re-copied on every piece.
        self._partial = bytearray()
        # The previous chunk ended with CR: a LF starting the next chunk belongs to the same line end.
        self._skip_lf = False
        self._started = False
        self._data: list[bytes] = []
        # Bytes in _data: an event of a million short data: lines must be bounded like one long line.
        self._size = 0
        self._event: bytes | None = None
        self._retry: int | None = None
        self._last_id: str | None = None

    @property
    def last_event_id(self) -> str | None:
        return self._last_id

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode one network chunk; returns the events it completed (often none or one)."""
        if not chunk:
            return []
        if not self._started:
            chunk = self._strip_bom(chunk)
            if not chunk:
                return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == 10:  # LF completing a CRLF split across chunks
                chunk = chunk[1:]
                if not chunk:
                    return []
        if (not self._partial and not self._data and self._event is None and self._retry is None
                and chunk[-2:] == b"\n\n" and chunk.startswith(b"data:") and chunk.count(b"\n") == 2
                and b"\r" not in chunk):
            # Fast path for the usual read: exactly one complete "data: {...}\n\n" event.
            if len(chunk) - 2 > self._max:
                self._too_long()
            value = chunk[6:-2] if chunk[5] == 32 else chunk[5:-2]
            return [ServerSentEvent(value.decode("utf-8", "replace"), "message", self._last_id)]
        events: list[ServerSentEvent] = []
        if self._partial:
            chunk = self._complete_partial(chunk, events)
            if not chunk:
                return events
        self._split(chunk, events)
        return events

    def _strip_bom(self, chunk: bytes) -> bytes:
        """The first bytes of the stream without a UTF-8 BOM (b"" while fewer than 3 bytes decide it)."""
        # A BOM may only appear at the very start of the stream; fewer than 3 bytes at the start are
        # rare enough to keep in the partial buffer and strip later.
        if len(self._partial) + len(chunk) < 3 and _BOM.startswith(bytes(self._partial) + chunk):
            self._partial += chunk
            return b""
        self._started = True
        if self._partial:
            chunk = bytes(self._partial) + chunk
            self._partial.clear()
        return chunk[3:] if chunk.startswith(_BOM) else chunk

    def _complete_partial(self, chunk: bytes, events: list[ServerSentEvent]) -> bytes:
        """Finish the pending line with the start of ``chunk``; returns the rest of ``chunk``."""
        # Only the new bytes are searched for a line end, the pending prefix is not re-scanned.
        m = _LINE_END.search(chunk)
        if m is None:
            self._partial += chunk
            if len(self._partial) > self._max:
                self._too_long()
            return b""
        end = m.start()
        self._partial += chunk[:end]
        line = bytes(self._partial)
        self._partial.clear()
        if len(line) > self._max:
            self._too_long()
        if chunk[end] == 13:
            if end + 1 == len(chunk):
                self._skip_lf = True
            elif chunk[end + 1] == 10:
                end += 1
        ev = self._line(line)
        if ev is not None:
            events.append(ev)
        return chunk[end + 1:]

    def _split(self, chunk: bytes, events: list[ServerSentEvent]) -> None:
        """Decode the whole lines of ``chunk``; keep an unfinished last line for the next chunk."""
        # bytes.splitlines splits exactly on CR, LF and CRLF (unlike str.splitlines) and runs in C.
        lines = chunk.splitlines(keepends=True)
        last = lines[-1]
        tail = last[-1]
        if tail not in (10, 13):  # unfinished last line: keep it for the next chunk
            lines.pop()
            self._partial += last
            if len(last) > self._max:
                self._too_long()
        elif tail == 13:
            self._skip_lf = True
        check = len(chunk) > self._max
        for raw in lines:
            line = raw.rstrip(b"\r\n")
            if check and len(line) > self._max:
                self._too_long()
            ev = self._line(line)
            if ev is not None:
                events.append(ev)

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: finish the last line and dispatch an event that lacked its blank line."""
        events: list[ServerSentEvent] = []
        if self._partial:
            line = bytes(self._partial)
            self._partial.clear()
            if not self._started:
                self._started = True
                if line.startswith(_BOM):
                    line = line[3:]
            ev = self._line(line)
            if ev is not None:
                events.append(ev)
        ev = self._line(b"")
        if ev is not None:
            events.append(ev)
        self._skip_lf = False
        return events

    def _too_long(self) -> None:
        self._partial.clear()
        raise ProviderLimitExceeded(
            f"The AI provider sent a stream line longer than {self._max} bytes")

    def _too_big(self) -> None:
        self._data = []
        self._size = 0
        raise ProviderLimitExceeded(f"The AI provider sent a stream event larger than {self._max} bytes")

    def _line(self, line: bytes) -> ServerSentEvent | None:
        # Hot path first: nearly every line of an OpenAI stream is "data: {...}" or blank.
        if line.startswith(b"data:"):
            value = line[5:]
            if value[:1] == b" ":
                value = value[1:]
            self._data.append(value)
            self._size += len(value) + 1
            if self._size > self._max:
                self._too_big()
            return None
        if not line:
            data = self._data
            if not data and self._event is None:
                return None
            # Decoded per event (line ends are ASCII, so this never splits a character) and never
            # per chunk; invalid UTF-8 is replaced rather than failing the whole answer.
            text = (data[0] if len(data) == 1 else b"\n".join(data)).decode("utf-8", "replace")
            event = self._event.decode("utf-8", "replace") if self._event else "message"
            ev = ServerSentEvent(text, event, self._last_id, self._retry)
            self._data = []
            self._size = 0
            self._event = None
            self._retry = None
            return ev
        if line[0] == 58:  # ":" comment / keep-alive
            return None
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"event":
            self._event = value
        elif name == b"data":  # a bare "data" line (no colon) is an empty data line
            self._data.append(value)
            self._size += len(value) + 1
            if self._size > self._max:
                self._too_big()
        elif name == b"id":
            if b"\0" not in value:  # the spec ignores ids containing NUL
                self._last_id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():
            self._retry = int(value)
        # Unknown fields are ignored.
        return None
