"""Titles (chat/titles.py): the prompt from the newest messages, and the model's answer cleaned."""

from __future__ import annotations

from assistant_stream.chat.titles import TITLE_PROMPT, clean_title, title_prompt
from assistant_stream.core.limits import TITLE_CONTEXT_CHARS, TITLE_MAX_CHARS


def test_clean_title() -> None:
    assert clean_title('  "Title:  A  trip\nto Paris”  ') == "A trip to Paris"
    assert clean_title("«Budget 2025»") == "Budget 2025"
    assert clean_title("x" * 500) == "x" * TITLE_MAX_CHARS
    assert clean_title("   ") == ""


def test_title_prompt() -> None:
    prompt = title_prompt([{"role": "human", "content": "q" * 5000}, {"role": "assistant", "content": ""},
                           {"role": "assistant", "content": "an answer"}])
    assert prompt is not None and prompt[0].role == "system" and prompt[0].content == TITLE_PROMPT
    assert prompt[1].content == f"human: {'q' * TITLE_CONTEXT_CHARS}\n\nassistant: an answer"
    assert title_prompt([{"role": "human", "content": ""}]) is None
