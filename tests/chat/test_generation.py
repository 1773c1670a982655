"""Generation (chat/generation.py): its text joined once, and tokens per second from the first token on."""

from __future__ import annotations

import pytest

from assistant_stream.chat.generation import MIN_RATE_CHUNKS, MIN_RATE_INTERVAL, Generation, answer_key, title_key
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


def timed(chunks: int, first: float | None, last: float | None, completion_tokens: int | None = None) -> Generation:
    g = gen()
    g.chunks, g.first_token_at, g.last_token_at = chunks, first, last
    if completion_tokens is not None:
        g.usage = Usage(prompt_tokens=5, completion_tokens=completion_tokens, total_tokens=5 + completion_tokens)
    return g


def test_one_burst_has_no_speed() -> None:
    # Issue 11: 30 chunks (and a provider count of 30 tokens) within half a millisecond gave 57516.4 tokens/s.
    assert timed(30, 100.0, 100.0005, completion_tokens=30).tokens_per_second() is None
    assert timed(30, 100.0, 100.0 + MIN_RATE_INTERVAL / 2).tokens_per_second() is None


def test_too_few_chunks_have_no_speed() -> None:
    assert timed(MIN_RATE_CHUNKS - 1, 100.0, 105.0, completion_tokens=400).tokens_per_second() is None
    assert timed(0, None, None).tokens_per_second() is None


def test_paced_answer_has_its_speed() -> None:
    # 31 tokens, the first opens the interval: 30 produced in 3 s.
    assert timed(31, 10.0, 13.0).tokens_per_second() == pytest.approx(10.0)
    # The provider's own token count wins over the number of chunks.
    assert timed(MIN_RATE_CHUNKS, 10.0, 12.0, completion_tokens=41).tokens_per_second() == pytest.approx(20.0)


def test_a_continued_answer_starts_from_its_text_and_adds_its_tokens() -> None:
    gen = Generation(key="m1", kind="answer", user_id="a", session_id=1, message_id=1, reply_to=None,
                     model="m", engine="stream")
    gen.start_from("so far", "thought", Usage(5, 10, 15))
    assert (gen.text, gen.text_len, gen.prefix_len, gen.reasoning) == ("so far", 6, 6, "thought")
    assert gen.total_usage == Usage(5, 10, 15)
    gen.usage = Usage(7, 3, None)
    assert gen.total_usage == Usage(12, 13, 15)
    fresh = Generation(key="m2", kind="answer", user_id="a", session_id=1, message_id=2, reply_to=None,
                       model="m", engine="stream")
    fresh.start_from("", "", None)
    assert (fresh.text, fresh.total_usage) == ("", None)
