"""Values on their way into the database (store/values.py): domain errors for what cannot be stored."""

from __future__ import annotations

import pytest

from assistant_stream.core.errors import InvalidInput, NotFound, TooLarge
from assistant_stream.store.values import id_value, int_value, record, text_value


def test_text_is_checked_and_cleaned() -> None:
    assert text_value("a\x00b", what="title") == "ab"
    with pytest.raises(InvalidInput):
        text_value(5, what="title")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="at most 3 characters"):
        text_value("abcd", what="title", limit=3)
    with pytest.raises(TooLarge):
        text_value("abcd", what="message", limit=3, too_large=TooLarge)


def test_ids_that_cannot_exist_are_not_found_and_numbers_are_bounded() -> None:
    for bad in (0, -1, True, "1", 2**31):
        with pytest.raises(NotFound):
            id_value(bad, "Message")
    with pytest.raises(InvalidInput, match="between 1 and 200"):
        int_value(201, "limit", 1, 200)
    assert record(None) is None
