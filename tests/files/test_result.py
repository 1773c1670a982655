"""ExtractionError: a closed set of codes, each mapped by the chat layer to a status."""

from __future__ import annotations

import pytest

from assistant_stream.files.result import CODES, ExtractionError


def test_only_known_codes() -> None:
    assert ExtractionError("file_bomb", "m").code == "file_bomb"
    assert "file_bomb" in CODES
    with pytest.raises(ValueError):
        ExtractionError("something_else", "m")
