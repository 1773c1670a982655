"""TextSink: the character limit stops extraction; clean() normalises text."""

from __future__ import annotations

import pytest

from assistant_stream.files.sink import SinkFull, TextSink, clean


def test_sink_stops_at_the_limit_and_marks_truncation() -> None:
    sink = TextSink(10)
    sink.add("12345")
    with pytest.raises(SinkFull):
        sink.add("67890abc")
    assert sink.text() == "1234567890"
    assert sink.truncated


def test_clean_removes_controls_and_long_blank_runs() -> None:
    assert clean("a\r\nb\x00c\x07\n\n\n\n\nd") == "a\nbc\n\nd"
