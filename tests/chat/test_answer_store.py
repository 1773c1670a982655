"""AnswerStore (chat/answer_store.py): the storage the chat layer is written against is what store/ provides."""

from __future__ import annotations

import inspect

from assistant_stream.chat.answer_store import AnswerStore
from assistant_stream.store.storage import Storage


def test_storage_implements_every_method_with_the_same_parameters() -> None:
    wanted = [name for name, _ in inspect.getmembers(AnswerStore, inspect.iscoroutinefunction)]
    assert len(wanted) >= 10
    for name in wanted:
        expected = inspect.signature(getattr(AnswerStore, name)).parameters
        actual = inspect.signature(getattr(Storage, name)).parameters
        assert list(expected) == list(actual), name
        assert [p.kind for p in expected.values()] == [p.kind for p in actual.values()], name
