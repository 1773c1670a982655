"""Generation (chat/generation.py): its text joined once, and tokens per second from the first token on."""

from __future__ import annotations

from assistant_stream.chat.generation import Generation, answer_key, title_key
from assistant_stream.core.events import Usage


def gen() -> Generation:
    return Generation(key=answer_key(5), kind="answer", user_id="a", session_id=1, message_id=5, reply_to=4,
                      model="m", engine="stream")


def test_keys_name_answers_and_titles_apart() -> None:
    assert answer_key(5) == "m5" and title_key(5) == "t5"


def test_text_is_joined_once() -> None:
    g = gen()
    g.text_parts += ["a", "b", "c"]
    assert g.text == "abc" and g.text_parts == ["abc"]
    assert gen().text == "" and gen().reasoning == ""


def test_tokens_per_second() -> None:
    g = gen()
    assert g.tokens_per_second() is None
    g.first_token_at, g.last_token_at, g.chunks = 10.0, 12.0, 5
    assert g.tokens_per_second() == 2.0  # 4 tokens after the first, in 2 s
    g.usage = Usage(1, 21, 22)
    assert g.tokens_per_second() == 10.0  # the provider's count wins over chunks
    g.last_token_at = 10.0
    assert g.tokens_per_second() is None
