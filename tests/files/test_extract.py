"""extract(): the dispatcher, in this process (the bounded runner is tests/files/test_runner.py)."""

from __future__ import annotations

import pytest

from assistant_stream.files.extract import Limits, extract
from assistant_stream.files.kinds import Kind
from assistant_stream.files.result import UNSUPPORTED, ExtractionError


def test_text_truncated_at_limit() -> None:
    result = extract(Kind.TEXT, b"x" * 500, Limits(max_chars=100))
    assert result.text == "x" * 100 and result.truncated


def test_images_have_no_text_to_extract() -> None:
    with pytest.raises(ExtractionError) as err:
        extract(Kind.IMAGE, b"\x89PNG\r\n\x1a\n", Limits())
    assert err.value.code == UNSUPPORTED
