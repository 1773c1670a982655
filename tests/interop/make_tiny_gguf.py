"""Write a tiny random-weight llama GGUF (a few hundred tokens, 2 layers) for llama.cpp interop tests."""

# Run with the interop venv's python (it has the `gguf` package): python make_tiny_gguf.py OUT.gguf

from __future__ import annotations

import sys

import gguf
import numpy as np

N_EMBD = 64
N_HEAD = 4
N_FF = 128
N_LAYER = 2
N_CTX = 512

WORDS = (
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "stream", "token", "answer",
    "model", "server", "chat", "relay", "cloud", "file", "share", "sync", "calendar", "contact",
    "mail", "talk", "deck", "notes", "photo", "music", "video", "code", "test", "bench", "alpha",
    "beta", "gamma", "delta", "omega", "north", "south", "east", "west", "river", "mountain",
    "forest", "ocean", "desert", "city", "red", "green", "blue", "yellow", "purple", "orange",
    "black", "white", "silver", "golden", "happy", "quiet", "bright", "swift", "calm",
)


def vocab() -> tuple[list[str], list[float], list[int]]:
    tokens = ["<unk>", "<s>", "</s>"]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [gguf.TokenType.BYTE] * 256
    pieces = [f"\u2581{w}" for w in WORDS] + list("abcdefghijklmnopqrstuvwxyz") + [
        f"\u2581{c}" for c in "abcdefghijklmnopqrstuvwxyz"] + ["\u2581", ".", ",", ":", "!", "?", "\u00e9", "\u20ac"]
    tokens += pieces
    types += [gguf.TokenType.NORMAL] * len(pieces)
    # Longer pieces score higher so the SentencePiece merger prefers whole words.
    scores = [0.0] * 259 + [float(len(p)) for p in pieces]
    return tokens, scores, [int(t) for t in types]


def main(path: str) -> None:
    rng = np.random.default_rng(1234)
    tokens, scores, types = vocab()
    n_vocab = len(tokens)
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("assistant-stream-tiny-random")
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_vocab_size(n_vocab)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_chat_template("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                        "{% if add_generation_prompt %}assistant:{% endif %}")

    def rnd(*shape: int, scale: float = 0.02) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    # Dimension 0 of every embedding is a large constant and the layers add little, so after the final
    # norm it stays large and positive; the output layer's column 0 then pushes EOS, control and byte
    # tokens far down (otherwise the server emits empty deltas and holds text back) and words up.
    emb = rnd(n_vocab, N_EMBD, scale=1.0)
    emb[:, 0] = 8.0
    out = rnd(n_vocab, N_EMBD, scale=1.0)
    out[:, 0] = 0.0
    out[:259, 0] = -50.0
    w.add_tensor("token_embd.weight", emb)
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    w.add_tensor("output.weight", out)
    for i in range(N_LAYER):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor(f"blk.{i}.attn_q.weight", rnd(N_EMBD, N_EMBD))
        w.add_tensor(f"blk.{i}.attn_k.weight", rnd(N_EMBD, N_EMBD))
        w.add_tensor(f"blk.{i}.attn_v.weight", rnd(N_EMBD, N_EMBD))
        w.add_tensor(f"blk.{i}.attn_output.weight", rnd(N_EMBD, N_EMBD))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_gate.weight", rnd(N_FF, N_EMBD))
        w.add_tensor(f"blk.{i}.ffn_up.weight", rnd(N_FF, N_EMBD))
        w.add_tensor(f"blk.{i}.ffn_down.weight", rnd(N_EMBD, N_FF))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tiny.gguf")
