"""CPU cost per chunk: our SSE decoder + chunk parser vs openai-python's SSEDecoder + json.loads."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))

from assistant_stream.core.events import TextDelta
from assistant_stream.providers import chunks
from assistant_stream.providers.chunks import ChunkParser
from assistant_stream.providers.sse import SSEDecoder

N_CHUNKS = 10_000
REPEATS = 7


def build_stream(n: int = N_CHUNKS) -> list[bytes]:
    """A realistic OpenAI stream as network reads: one read per event, like a live token stream."""
    words = ["Hello", " world", ",", " this", " is", " a", " streamed", " answer", " with", " é€😀"]
    reads = []
    for i in range(n):
        chunk = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000,
                 "model": "bench-model", "system_fingerprint": "fp_bench",
                 "choices": [{"index": 0, "delta": {"content": words[i % len(words)]}, "logprobs": None,
                              "finish_reason": None}], "usage": None}
        reads.append(b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n")
    reads.append(b"data: [DONE]\n\n")
    return reads


def ours(reads: list[bytes]) -> str:
    decoder = SSEDecoder()
    parser = ChunkParser()
    out = []
    for read in reads:
        for sse in decoder.feed(read):
            if sse.data == "[DONE]":
                break
            for ev in parser.parse(sse.data):
                if type(ev) is TextDelta:
                    out.append(ev.text)
    return "".join(out)


def openai_python(reads: list[bytes]) -> str:
    from openai._streaming import SSEDecoder as OpenAISSEDecoder

    out = []
    for sse in OpenAISSEDecoder().iter_bytes(iter(reads)):
        if sse.data.startswith("[DONE]"):
            break
        data = json.loads(sse.data)
        for choice in data.get("choices") or []:
            content = (choice.get("delta") or {}).get("content")
            if content:
                out.append(content)
    return "".join(out)


class _StdlibJson:
    JSONDecodeError = json.JSONDecodeError
    loads = staticmethod(json.loads)


def _best_cpu(fn: Callable[[list[bytes]], str], reads: list[bytes], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        fn(reads)
        best = min(best, time.process_time() - t0)
    return best


def _split(reads: list[bytes], size: int) -> Iterator[bytes]:
    raw = b"".join(reads)
    for i in range(0, len(raw), size):
        yield raw[i:i + size]


def run(n_chunks: int = N_CHUNKS, repeats: int = REPEATS) -> dict[str, float | int | str]:
    """Decode the same stream with both; CPU microseconds per chunk and the ratio (ours / theirs)."""
    reads = build_stream(n_chunks)
    assert ours(reads) == openai_python(reads), "both decoders must produce the same text"
    # Also arbitrary TCP-sized reads (events split across reads).
    odd = list(_split(reads, 1400))
    assert ours(odd) == ours(reads) == openai_python(odd)
    ours_s = _best_cpu(ours, reads, repeats)
    theirs_s = _best_cpu(openai_python, reads, repeats)
    ours_odd = _best_cpu(ours, odd, repeats)
    theirs_odd = _best_cpu(openai_python, odd, repeats)
    # Transparency: the same decoder and parser with the stdlib json instead of orjson.
    real = chunks.orjson
    chunks.orjson = _StdlibJson  # type: ignore[assignment]
    try:
        ours_stdlib = _best_cpu(ours, reads, repeats)
    finally:
        chunks.orjson = real
    import openai

    return {
        "chunks": n_chunks,
        "openai_version": openai.__version__,
        "ours_us_per_chunk": round(ours_s / n_chunks * 1e6, 3),
        "openai_us_per_chunk": round(theirs_s / n_chunks * 1e6, 3),
        "ratio": round(ours_s / theirs_s, 3),
        "ours_stdlib_json_us_per_chunk": round(ours_stdlib / n_chunks * 1e6, 3),
        "ratio_stdlib_json": round(ours_stdlib / theirs_s, 3),
        "ours_us_per_chunk_1400B_reads": round(ours_odd / n_chunks * 1e6, 3),
        "openai_us_per_chunk_1400B_reads": round(theirs_odd / n_chunks * 1e6, 3),
        "ratio_1400B_reads": round(ours_odd / theirs_odd, 3),
    }


if __name__ == "__main__":
    result = run()
    for k, v in result.items():
        print(f"{k:34} {v}")
    sys.exit(0 if result["ratio"] < 1 and result["ratio_1400B_reads"] < 1 else 1)
