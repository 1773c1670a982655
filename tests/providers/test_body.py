"""providers/body.py: bounded inflating of a compressed provider body, a slice at a time, with a ratio cap."""

from __future__ import annotations

import gzip
import zlib

import httpx
import pytest

from assistant_stream.core.errors import ProviderLimitExceeded, ProviderProtocolError
from assistant_stream.core.limits import BODY_PIECE as PIECE
from assistant_stream.core.limits import FREE_INFLATE
from assistant_stream.core.limits import MAX_INFLATE_RATIO as MAX_RATIO
from assistant_stream.providers.body import Inflater, body_pieces, read_capped

BROKEN = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 16  # a gzip header, then an invalid block
TEXT = b"".join(b'data: {"choices":[{"delta":{"content":"w%d "}}]}\n\n' % i for i in range(3000))


def inflate_all(inflater: Inflater, data: bytes, step: int) -> bytes:
    out = []
    for i in range(0, len(data), step):
        for piece in inflater.feed(data[i:i + step]):
            assert 0 < len(piece) <= PIECE
            out.append(piece)
    return b"".join(out)


@pytest.mark.parametrize("step", [1, 7, 4096, 1 << 20])
@pytest.mark.parametrize(("encoding", "compress"), [
    ("gzip", lambda b: gzip.compress(b)),
    ("deflate", zlib.compress),  # zlib-wrapped, as the standard says
    ("deflate", lambda b: zlib.compress(b, wbits=-15)),  # raw deflate, as some servers send it
])
def test_inflates_exactly_whatever_the_read_sizes(encoding: str, compress, step: int) -> None:
    assert inflate_all(Inflater(encoding), compress(TEXT), step) == TEXT


def test_a_bomb_is_cut_off_once_past_the_free_allowance() -> None:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = b"".join(c.compress(b"\n" * (1 << 20)) for _ in range(64)) + c.flush()
    inflater = Inflater("gzip")
    with pytest.raises(ProviderLimitExceeded, match="compression bomb"):
        inflate_all(inflater, bomb, 65536)
    assert FREE_INFLATE < inflater.given <= FREE_INFLATE + 2 * PIECE  # stopped right after the allowance


def test_a_real_stream_compressed_whole_is_within_the_ratio() -> None:
    # The most compressible real stream: the same one-letter token thousands of times (~255:1 measured).
    stream = b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n' * 200_000
    body = gzip.compress(stream, 9)
    assert len(stream) / len(body) < MAX_RATIO
    assert inflate_all(Inflater("gzip"), body, 65536) == stream


def test_garbage_is_a_clear_error() -> None:
    with pytest.raises(ProviderProtocolError, match="could not be decompressed"):
        inflate_all(Inflater("gzip"), BROKEN, 100)


def response(body: bytes, encoding: str | None) -> httpx.Response:
    headers = {"content-encoding": encoding} if encoding else {}
    return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body))


async def test_body_pieces_bounds_identity_reads_too() -> None:
    big = b"x" * (3 * PIECE + 5)
    pieces = [p async for p in body_pieces(response(big, None))]
    assert b"".join(pieces) == big and max(map(len, pieces)) <= PIECE and len(pieces) == 4


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, br", "compress"])
async def test_an_encoding_that_cannot_be_bounded_is_refused(encoding: str) -> None:
    with pytest.raises(ProviderProtocolError, match=f"Content-Encoding {encoding}"):
        [p async for p in body_pieces(response(b"whatever", encoding))]


async def test_identity_and_gzip_bodies_read_capped() -> None:
    assert await read_capped(response(b"abc" * 100, "identity"), 10) == b"abcabcabca"
    assert await read_capped(response(gzip.compress(b" " * (64 << 20)), "gzip"), 1000) == b" " * 1000
