"""Text files: encodings as editors guess them; binary refused."""

from __future__ import annotations

import pytest

from assistant_stream.files.plaintext import decode
from assistant_stream.files.result import ExtractionError


def test_decode_handles_boms_and_legacy_encodings() -> None:
    assert decode("é".encode("utf-8-sig")) == "é"
    assert decode("grüße".encode("utf-16")) == "grüße"
    assert decode("café".encode("cp1252")) == "café"
    with pytest.raises(ExtractionError):
        decode(b"abc\x00def")
