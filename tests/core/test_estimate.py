"""Token estimates (core/estimate.py): close to OpenAI's tokenizers on real text (numbers: bench/estimate_bench.py)."""

from __future__ import annotations

from assistant_stream.core.estimate import IMAGE_TOKENS, estimate_prompt, estimate_tokens


def test_known_counts_are_met_within_a_fifth() -> None:
    # o200k_base counts of these sentences (bench/estimate_bench.py measures whole corpora).
    for text, real in (("Hello world, this is a test of the tokenizer.", 11),
                       ("The quick brown fox jumps over the lazy dog.", 10),
                       ("def add(a, b):\n    return a + b\n", 12)):
        assert abs(estimate_tokens(text) - real) <= max(2, real // 5), text


def test_long_text_grows_linearly_and_nothing_is_zero() -> None:
    one = estimate_tokens("Streaming answers arrive token by token. ")
    assert estimate_tokens("Streaming answers arrive token by token. " * 100) in range(95 * one, 105 * one)
    assert estimate_tokens("") == 0 and estimate_tokens("!") == 1 and estimate_tokens("日本語") == 3


def test_a_prompt_counts_its_messages_and_images() -> None:
    assert estimate_prompt(["Hi"]) == estimate_tokens("Hi") + 4 + 3
    assert estimate_prompt(["Hi"], images=2) - estimate_prompt(["Hi"]) == 2 * IMAGE_TOKENS
