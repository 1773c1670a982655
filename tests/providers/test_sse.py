"""SSE decoder: line endings split anywhere, UTF-8 per line, fields, EOF flush, line size bound."""

from __future__ import annotations

import pytest

from assistant_stream.core import errors
from assistant_stream.providers.sse import ServerSentEvent, SSEDecoder


def decode(*chunks: bytes, max_line_bytes: int = 1_048_576) -> list[ServerSentEvent]:
    d = SSEDecoder(max_line_bytes)
    out: list[ServerSentEvent] = []
    for c in chunks:
        out.extend(d.feed(c))
    out.extend(d.flush())
    return out


def datas(*chunks: bytes) -> list[str]:
    return [e.data for e in decode(*chunks)]


MIXED = (
    "\ufeff: OPENROUTER PROCESSING\r\n"
    "\r\n"
    "data: {\"a\": \"h\u00e9llo \u20ac \U0001f600\"}\r\n\r\n"
    "event: update\rid: 7\rretry: 1500\rdata:first\rdata:  second\r\r"
    "data\n\n"
    "data:\n\n"
    "foo: bar\nunknown\ndata: x\n\n"
    "id: with\0nul\ndata: y\n\n"
    "retry: soon\ndata: z\n\n"
    ": ping - 2024-01-01\n"
    "data: [DONE]"
).encode()

MIXED_EXPECTED = [
    ServerSentEvent('{"a": "h\u00e9llo \u20ac \U0001f600"}'),
    ServerSentEvent("first\n second", "update", "7", 1500),
    ServerSentEvent("", "message", "7"),  # the last event id persists (spec)
    ServerSentEvent("", "message", "7"),
    ServerSentEvent("x", "message", "7"),
    ServerSentEvent("y", "message", "7"),  # an id containing NUL is ignored, the last id stays
    ServerSentEvent("z", "message", "7"),  # a non-numeric retry is ignored
    ServerSentEvent("[DONE]", "message", "7"),  # [DONE] without blank line at EOF (llama.cpp)
]


def test_mixed_stream_whole() -> None:
    assert decode(MIXED) == MIXED_EXPECTED


def test_split_at_every_byte_position_gives_identical_events() -> None:
    for i in range(len(MIXED) + 1):
        assert decode(MIXED[:i], MIXED[i:]) == MIXED_EXPECTED, f"split at {i}"


def test_split_at_every_pair_of_positions() -> None:
    data = MIXED[:120]
    expected = decode(data)
    for i in range(len(data) + 1):
        for j in range(i, len(data) + 1):
            assert decode(data[:i], data[i:j], data[j:]) == expected, (i, j)


def test_single_bytes_give_identical_events() -> None:
    assert decode(*[MIXED[i:i + 1] for i in range(len(MIXED))]) == MIXED_EXPECTED


# --- providers.md item 1: line endings and UTF-8 -------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_each_line_ending(eol: bytes) -> None:
    stream = b"data: a" + eol + b"data: b" + eol + eol + b"data: c" + eol + eol
    assert datas(stream) == ["a\nb", "c"]
    assert datas(*[stream[i:i + 1] for i in range(len(stream))]) == ["a\nb", "c"]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    # CR at the end of one chunk, LF at the start of the next: one line end, not an empty line.
    assert decode(b"data: a\r", b"\ndata: b\r\n\r\n") == [ServerSentEvent("a\nb")]
    # ... and the same when the CR completes a line started in an earlier chunk.
    assert decode(b"da", b"ta: a\r", b"\n", b"data: b\r\n\r\n") == [ServerSentEvent("a\nb")]


def test_cr_cr_is_a_blank_line() -> None:
    assert datas(b"data: a\r", b"\r", b"data: b\r\r") == ["a", "b"]


def test_utf8_multibyte_split_across_chunks() -> None:
    text = "\u00e9\u20ac\U0001f600\u4e2d"
    raw = f"data: {text}\n\n".encode()
    for i in range(len(raw) + 1):
        assert datas(raw[:i], raw[i:]) == [text], i
    assert datas(*[raw[i:i + 1] for i in range(len(raw))]) == [text]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert datas(b"data: a\xffb\n\n") == ["a\ufffdb"]


def test_bom_is_stripped_even_split() -> None:
    assert datas(b"\xef", b"\xbb", b"\xbfdata: x\n\n") == ["x"]
    assert datas(b"\xef\xbb\xbfdata: x") == ["x"]


# --- item 2: comments and bare data ---------------------------------------------------------------


def test_comments_are_ignored() -> None:
    assert datas(b": OPENROUTER PROCESSING\n\n: ping\n\ndata: x\n\n") == ["x"]
    assert datas(b":\n\n") == []


def test_bare_data_gives_empty_event() -> None:
    assert datas(b"data:\n\n") == [""]
    assert datas(b"data\n\n") == [""]


# --- item 3: field parsing ----------------------------------------------------------------------


def test_exactly_one_leading_space_is_stripped() -> None:
    assert datas(b"data:x\n\ndata: x\n\ndata:  x\n\n") == ["x", "x", " x"]


def test_value_may_contain_colons() -> None:
    assert datas(b'data: {"a":"b:c"}\n\n') == ['{"a":"b:c"}']


def test_multi_line_data_joined_with_newline() -> None:
    assert datas(b"data: a\ndata:\ndata: c\n\n") == ["a\n\nc"]


def test_event_id_retry_fields() -> None:
    evs = decode(b"event: error\nid: 42\nretry: 3000\ndata: boom\n\ndata: next\n\n")
    assert evs == [ServerSentEvent("boom", "error", "42", 3000), ServerSentEvent("next", "message", "42")]


def test_unknown_fields_ignored() -> None:
    assert decode(b"foo: bar\nx\ndata: a\nevent2: b\n\n") == [ServerSentEvent("a")]


def test_event_name_without_data_still_dispatched_and_reset() -> None:
    assert decode(b"event: error\n\ndata: a\n\n") == [ServerSentEvent("", "error"), ServerSentEvent("a")]


def test_blank_line_ends_event() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: a\n") == []
    assert d.feed(b"\n") == [ServerSentEvent("a")]


# --- item 4: end of stream -----------------------------------------------------------------------


def test_done_without_trailing_blank_line_flushed_at_eof() -> None:
    assert datas(b'data: {"x":1}\n\ndata: [DONE]') == ['{"x":1}', "[DONE]"]
    assert datas(b'data: {"x":1}\n\ndata: [DONE]\n') == ['{"x":1}', "[DONE]"]


def test_eof_without_done_flushes_buffered_event() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: partial answer\n") == []
    assert d.flush() == [ServerSentEvent("partial answer")]
    assert d.flush() == []


def test_eof_with_nothing_buffered() -> None:
    assert decode(b"data: a\n\n") == [ServerSentEvent("a")]
    assert decode() == []


# --- line size bound -----------------------------------------------------------------------------


def test_line_over_limit_in_one_chunk() -> None:
    with pytest.raises(errors.ProviderLimitExceeded):
        decode(b"data: " + b"x" * 200 + b"\n\n", max_line_bytes=100)


def test_line_over_limit_growing_across_chunks_without_line_end() -> None:
    d = SSEDecoder(100)
    d.feed(b"data: " + b"x" * 50)
    with pytest.raises(errors.ProviderLimitExceeded) as ei:
        for _ in range(10):
            d.feed(b"x" * 20)
    assert "100 bytes" in ei.value.message


def test_line_over_limit_completed_by_later_chunk() -> None:
    d = SSEDecoder(100)
    d.feed(b"data: " + b"x" * 90)
    with pytest.raises(errors.ProviderLimitExceeded):
        d.feed(b"y" * 20 + b"\n\n")


def test_line_at_limit_is_fine() -> None:
    line = b"data: " + b"x" * 94  # exactly 100 bytes
    assert datas(line + b"\n\n") == ["x" * 94]
    d = SSEDecoder(100)
    assert d.feed(line[:50]) == []
    assert d.feed(line[50:] + b"\n\n") == [ServerSentEvent("x" * 94)]


def test_many_short_lines_in_a_chunk_over_limit_are_fine() -> None:
    chunk = b"data: abc\n\n" * 100
    d = SSEDecoder(20)
    assert len(d.feed(chunk)) == 100


def test_single_event_reads_after_pending_fields() -> None:
    # A read holding exactly one "data: ...\n\n" event must still honour fields from earlier reads.
    assert decode(b"event: e\n", b"data: y\n\n") == [ServerSentEvent("y", "e")]
    assert decode(b"retry: 5\n", b"data: y\n\n") == [ServerSentEvent("y", retry=5)]
    assert decode(b"data: a\n", b"data: b\n\n") == [ServerSentEvent("a\nb")]
    assert decode(b"id: 3\n\n", b"data: y\n\n") == [ServerSentEvent("y", id="3")]
    assert decode(b"data: a\r", b"\ndata: b\n\n") == [ServerSentEvent("a\nb")]
    assert decode(b"data:x\n\n", b"data:\n\n") == [ServerSentEvent("x"), ServerSentEvent("")]
    with pytest.raises(errors.ProviderLimitExceeded):
        decode(b"data: " + b"x" * 100 + b"\n\n", max_line_bytes=50)


def test_an_event_of_many_short_data_lines_is_bounded_like_one_long_line() -> None:
    # Each data: line is far below the limit, but the event never ends (issue 16: 64 MB held).
    d = SSEDecoder(1000)
    with pytest.raises(errors.ProviderLimitExceeded, match="event larger than 1000 bytes"):
        for _ in range(100):
            d.feed(b"data: " + b"z" * 50 + b"\n")
    # Up to the limit in total, the lines are one event; the count starts again with the next event.
    d = SSEDecoder(1000)
    events = d.feed((b"data: " + b"z" * 49 + b"\n") * 20 + b"\n" + (b"data:" + b"y" * 49 + b"\n") * 20 + b"\n")
    assert [len(e.data) for e in events] == [20 * 50 - 1, 20 * 50 - 1]
