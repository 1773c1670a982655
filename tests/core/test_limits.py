"""Limits (core/limits.py): one value per limit, and every module that checks a limit uses that one."""

from __future__ import annotations

import pytest

from assistant_stream.core.errors import InvalidParameter, NotFound
from assistant_stream.core.limits import MAX_ID, MAX_TIMESTAMP
from assistant_stream.store.values import id_value, int_value
from assistant_stream.web.params import P, message_id, session_id


def test_the_largest_id_is_a_32_bit_column_everywhere() -> None:
    assert MAX_ID == 2**31 - 1
    assert session_id().maximum == message_id().maximum == P("taskId").maximum == MAX_ID
    assert id_value(MAX_ID, "Session") == MAX_ID
    with pytest.raises(NotFound):
        id_value(MAX_ID + 1, "Session")


def test_timestamps_are_not_bounded_by_the_id_range() -> None:
    assert MAX_TIMESTAMP > MAX_ID
    assert int_value(2**40, "timestamp") == 2**40
    p = P("timestamp", required=False, minimum=0, maximum=MAX_TIMESTAMP)
    assert p.schema()["maximum"] == MAX_TIMESTAMP


def test_a_parameter_over_the_id_range_is_refused_with_the_number_spelled_out() -> None:
    from assistant_stream.web.params import _convert  # the conversion behind read()

    with pytest.raises(InvalidParameter) as info:
        _convert(session_id(), str(MAX_ID + 1))
    assert "at most 2147483647" in info.value.message
