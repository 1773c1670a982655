"""Token estimates for answers whose provider reports no usage: a documented heuristic, no tokenizer files.

A tokenizer that downloads its tables at run time (tiktoken) is not allowed, and one matching every model
cannot exist: a provider that sends no usage is mostly a local model (llama.cpp, Ollama, TaskProcessing) whose
tokenizer is none of OpenAI's. So the text is cut into the pieces BPE tokenizers pre-split it into (words,
numbers, punctuation, spaces, CJK characters) and each piece is counted by its kind and length. Measured
against OpenAI's cl100k_base and o200k_base in bench/estimate_bench.py (docs/performance.md "Token estimates").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

# One alternative per kind of piece, in the order BPE pre-tokenizers split text.
_PIECES = re.compile(
    r"(?P<word> ?[A-Za-z]+)"  # an ASCII word with its leading space
    r"|(?P<num>\d+)"
    r"|(?P<cjk>[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff])"  # kana, CJK ideographs, Hangul
    r"|(?P<other> ?[^\W\d_A-Za-z]+)"  # other letters: accented Latin, Cyrillic, Greek, Arabic, ...
    r"|(?P<space>\s+)"
    r"|(?P<punct>[^\w\s]+|_+)"
)
# Characters per token of each kind, fitted on the benchmark's corpus (English, German, French, Russian,
# Japanese, Python, JavaScript, JSON, Markdown).
_WORD_CHARS = 6.0  # common English words are one token; longer ones split into pieces of about this size
_OTHER_CHARS = 3.0
_PUNCT_CHARS = 2.5
_PER_MESSAGE = 4  # chat formats wrap every message in a few tokens of their own (role, separators)
IMAGE_TOKENS = 765  # an image as OpenAI counts a 512x512 one in high detail (vision models of others: similar)


def estimate_tokens(text: str) -> int:
    """About how many tokens ``text`` is, for a modern BPE tokenizer (never 0 for non-empty text)."""
    if not text:
        return 0
    total = 0.0
    for match in _PIECES.finditer(text):
        piece = match.group()
        kind = match.lastgroup
        if kind == "word":
            total += max(1.0, len(piece.strip()) / _WORD_CHARS)
        elif kind == "num":
            total += math.ceil(len(piece) / 3)  # digits are split in groups of three
        elif kind == "cjk":
            total += 1.0
        elif kind == "other":
            total += max(1.0, len(piece.strip()) / _OTHER_CHARS)
        elif kind == "space":
            total += 0.0 if piece == " " else 1.0  # one space rides on the next word; runs are a token
        else:
            total += max(1.0, len(piece) / _PUNCT_CHARS)
    return max(1, round(total))


def estimate_prompt(contents: Iterable[str], images: int = 0) -> int:
    """The prompt of a chat request: each message's text plus the chat format's few tokens per message, and
    ``images`` images."""
    return sum(estimate_tokens(text) + _PER_MESSAGE for text in contents) + images * IMAGE_TOKENS + 3
