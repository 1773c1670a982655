"""A provider's response body in bounded pieces: inflated a slice at a time, capped, yielding in between."""

# httpx inflates each network read in one call, so 32 KB of gzip became 32 MiB at once, which the SSE
# decoder then walked without giving the event loop back (issue 16: /heartbeat blocked for seconds). The
# app asks for uncompressed answers (Accept-Encoding: identity, transport.py) and reads raw bytes here; a
# server that compresses anyway is inflated BODY_PIECE bytes per step, with a ratio cap against bombs.

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator, Iterator

import httpx

from ..core import errors
from ..core.limits import BODY_PIECE, FREE_INFLATE, MAX_INFLATE_RATIO

_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class Inflater:
    """Incremental gzip/deflate decoding: at most BODY_PIECE bytes out per step, and a ratio cap."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._z = zlib.decompressobj(_WBITS[encoding])
        # "deflate" is zlib-wrapped by the standard and raw by some servers (httpx accepts both): the first
        # bytes are kept until the zlib header is accepted, to start over as raw deflate if it is not.
        self._undecided: bytearray | None = bytearray() if encoding == "deflate" else None
        self.taken = 0  # compressed bytes fed
        self.given = 0  # bytes inflated

    def feed(self, data: bytes) -> Iterator[bytes]:
        self.taken += len(data)
        if self._undecided is not None:
            self._undecided += data
        while True:
            try:
                out = self._z.decompress(data, BODY_PIECE)
            except zlib.error as exc:
                if self._undecided is None:
                    raise errors.ProviderProtocolError(
                        f"The AI provider's {self.encoding}-compressed answer could not be decompressed ({exc})"
                    ) from None
                data, self._undecided = bytes(self._undecided), None
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            if self._undecided is not None and (out or len(self._undecided) > 2):
                self._undecided = None  # the zlib header was accepted
            data = self._z.unconsumed_tail
            if out:
                self._count(out)
                yield out
            if self._z.eof or (not data and len(out) < BODY_PIECE):
                return

    def _count(self, out: bytes) -> None:
        self.given += len(out)
        # Against what was consumed, not what was fed: a whole bomb fits in one network read.
        consumed = self.taken - len(self._z.unconsumed_tail)
        if self.given > FREE_INFLATE and self.given > MAX_INFLATE_RATIO * consumed:
            raise errors.ProviderLimitExceeded(
                f"The AI provider sent a compressed answer that inflates past {FREE_INFLATE >> 20} MiB at more "
                f"than {MAX_INFLATE_RATIO} times its size (a compression bomb?); it was cut off")


def content_encoding(response: httpx.Response) -> str | None:
    """The response's compression, None for none; ProviderProtocolError for one that cannot be bounded."""
    values = [v.strip().lower() for v in response.headers.get("content-encoding", "").split(",")]
    values = [v for v in values if v and v != "identity"]
    if not values:
        return None
    if len(values) > 1 or values[0] not in _WBITS:
        raise errors.ProviderProtocolError(
            f"The AI provider answered with Content-Encoding {', '.join(values)}, which this app does not "
            "accept (it asks for an uncompressed answer)")
    return values[0]


async def body_pieces(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body, decoded, in pieces of at most BODY_PIECE bytes, with a turn of the event loop between the
    pieces of one network read (the consumer works through each piece before it asks for the next)."""
    encoding = content_encoding(response)
    inflater = Inflater(encoding) if encoding else None
    async for raw in response.aiter_raw():
        pieces = inflater.feed(raw) if inflater else (raw[i:i + BODY_PIECE] for i in range(0, len(raw), BODY_PIECE))
        for n, piece in enumerate(pieces):
            if n:
                await asyncio.sleep(0)
            yield piece


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of a small body (an error page, a model list), decoded within the same bounds."""
    buf = bytearray()
    async with contextlib.aclosing(body_pieces(response)) as pieces:
        async for piece in pieces:
            buf += piece
            if len(buf) >= limit:
                break
    return bytes(buf[:limit])
