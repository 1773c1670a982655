"""Text cleaning (core/text.py): what no database can store is cleaned where text enters, nothing else changes."""

from __future__ import annotations

from assistant_stream.core.text import clean_text


def test_nul_is_removed_and_lone_surrogates_replaced() -> None:
    assert clean_text("a\x00b") == "ab"
    assert clean_text("x\ud800y\udfffz") == "x\ufffdy\ufffdz"
    assert clean_text("\x00\ud83d") == "\ufffd"


def test_ordinary_text_is_returned_unchanged() -> None:
    for text in ("", "plain ascii", "ünïcødé 🎉 € 中文", "tab\tand\nnewline"):
        assert clean_text(text) == text
