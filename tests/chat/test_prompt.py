"""Prompt building (chat/prompt.py): roles, the system prompt, the history within its bounds."""

from __future__ import annotations

from assistant_stream.chat.prompt import build_messages
from assistant_stream.core.events import ChatMessage

# --- build_messages ---------------------------------------------------------------------------------


def test_build_messages_roles_and_system_prompt() -> None:
    msgs = build_messages([("human", "a"), ("assistant", "b"), ("human", "c")], "sys", 10, 1000)
    assert msgs == [
        ChatMessage("system", "sys"),
        ChatMessage("user", "a"),
        ChatMessage("assistant", "b"),
        ChatMessage("user", "c"),
    ]
    assert build_messages([("human", "x")], None, 10, 100) == [ChatMessage("user", "x")]
    assert build_messages([("human", "x")], "  ", 10, 100) == [ChatMessage("user", "x")]


def test_build_messages_max_messages_keeps_most_recent() -> None:
    history = [("human", f"q{i}") if i % 2 == 0 else ("assistant", f"a{i}") for i in range(10)]
    # Ends with a9 after the last user message q8: both kept, the older a7 would start with the assistant.
    msgs = build_messages(history, None, 3, 1000)
    assert [m.content for m in msgs] == ["q8", "a9"]
    msgs = build_messages(history, None, 4, 1000)
    assert [m.content for m in msgs] == ["q6", "a7", "q8", "a9"]
    msgs = build_messages(history, None, 1, 1000)
    assert [m.content for m in msgs] == ["q8"]
    msgs = build_messages(history[:9], None, 3, 1000)  # ends with q8
    assert [m.content for m in msgs] == ["q6", "a7", "q8"]


def test_build_messages_max_chars_drops_oldest() -> None:
    history = [
        ("human", "a" * 50),
        ("assistant", "b" * 50),
        ("human", "c" * 50),
        ("assistant", "d" * 50),
        ("human", "e" * 50),
    ]
    msgs = build_messages(history, None, 100, 160)
    assert [m.content[0] for m in msgs] == ["c", "d", "e"]
    msgs = build_messages(history, None, 100, 120)  # "d" + "e" fit, but never start with the assistant
    assert [m.content[0] for m in msgs] == ["e"]


def test_build_messages_long_last_user_message_truncated() -> None:
    msgs = build_messages([("human", "old"), ("human", "START" + "x" * 1000 + "END")], None, 10, 100)
    assert len(msgs) == 1
    assert len(msgs[0].content) == 100
    assert msgs[0].content.startswith("START") and msgs[0].content.endswith("END")


def test_build_messages_unknown_roles_skipped() -> None:
    assert build_messages([("tool", "t"), ("human", "x")], None, 10, 100) == [ChatMessage("user", "x")]
