"""Prompt building (chat/prompt.py): roles, the system prompt, the history within its bounds."""

from __future__ import annotations

from assistant_stream.chat.prompt import FileContext, build_messages, build_prompt, with_partial
from assistant_stream.core.events import ChatMessage
from assistant_stream.core.settings import build_settings

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


# --- attached files ---

def build(history, files, *, budget=1000, vision=False, max_messages=20, max_chars=10_000):
    return build_messages(history, None, max_messages, max_chars, files=files, files_chars=budget, vision=vision)


def test_file_text_precedes_the_question_with_its_name() -> None:
    out = build([("human", "Summarise it")], {0: FileContext(files=(("notes.md", "# Notes\nbuy milk", False),))})
    assert out[0].content == '<file name="notes.md">\n# Notes\nbuy milk\n</file>\n\nSummarise it'


def test_newest_files_get_the_budget_first() -> None:
    history = [("human", "old"), ("assistant", "ok"), ("human", "new")]
    files = {0: FileContext(files=(("old.txt", "o" * 80, False),)),
             2: FileContext(files=(("new.txt", "n" * 80, False),))}
    out = build(history, files, budget=100)
    assert "n" * 80 in out[2].content  # the newest file whole
    assert "o" * 20 + "\n[the rest of this file was cut off]" in out[0].content  # the older one cut to what is left
    out = build(history, files, budget=80)
    assert "[not included: the conversation's file context is full]" in out[0].content


def test_files_of_messages_outside_the_history_bounds_are_not_sent() -> None:
    history = [("human", "first"), ("assistant", "a"), ("human", "second")]
    out = build(history, {0: FileContext(files=(("gone.txt", "secret", False),))}, max_messages=1)
    assert [m.content for m in out] == ["second"]


def test_a_file_name_cannot_close_its_label() -> None:
    out = build([("human", "q")], {0: FileContext(files=(('x"><file name="y', "t", False),))})
    assert out[0].content.startswith('<file name="x&quot;&gt;&lt;file name=&quot;y">')


def test_images_only_for_vision_models() -> None:
    files = {0: FileContext(images=(("cat.png", "data:image/png;base64,AAAA"),))}
    assert build([("human", "What is it?")], files, vision=True)[0].images == ("data:image/png;base64,AAAA",)
    plain = build([("human", "What is it?")], files, vision=False)[0]
    assert plain.images == () and "the model cannot see images: cat.png" in plain.content


def test_truncated_at_attach_time_is_said() -> None:
    out = build([("human", "q")], {0: FileContext(files=(("big.pdf", "start", True),))})
    assert "start\n[the rest of this file was cut off]" in out[0].content
def test_a_conversations_system_prompt_and_the_prompt_to_continue() -> None:
    settings = build_settings({"SYSTEM_PROMPT": "Admin.", "HISTORY_MAX_CHARS": "40"}, {})
    history = [("human", "q")]
    assert build_prompt(history, settings)[0] == ChatMessage("system", "Admin.")
    assert build_prompt(history, settings, system_prompt="Mine.")[0] == ChatMessage("system", "Mine.")
    assert [m.role for m in build_prompt(history, settings, system_prompt="")] == ["user"]  # explicitly none
    messages = with_partial(build_prompt(history, settings), "x" * 50 + "the end", settings)
    assert [m.role for m in messages] == ["system", "user", "assistant"]
    assert messages[-1].content == ("x" * 50 + "the end")[-20:]  # half the budget, the end the model goes on from
