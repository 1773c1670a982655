"""How close the token estimate (core/estimate.py) comes to OpenAI's tokenizers, by kind of text.

Needs the bench extra (bpe-openai ships the cl100k_base and o200k_base tables inside its wheel: nothing is
downloaded at run time). Corpus: this repository's English docs, Python and JavaScript, a JSON file, and the
translations @nextcloud/vue ships (German, French, Russian, Japanese).
Run: .venv/bin/python bench/estimate_bench.py  (prints a Markdown table)
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import bpe_openai

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from assistant_stream.core.estimate import estimate_tokens  # noqa: E402


def translations(lang: str) -> str:
    source = (ROOT / "node_modules/@nextcloud/vue/dist/chunks/_l10n.mjs").read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    out = []
    for found in re.finditer(r'\{ "l": "' + re.escape(lang) + r'", "t": ', source):
        try:
            table, _end = decoder.raw_decode(source, found.end())
        except ValueError:
            continue  # a table written as JavaScript rather than JSON: skipped
        out += [v for entry in table.values() for v in entry.get("v", [])]
    return "\n".join(out)


def corpus() -> dict[str, str]:
    docs = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md")))
    python = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "lib").rglob("*.py")))
    js = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "src").rglob("*.js")))
    return {"English (docs, Markdown)": docs, "Python": python, "JavaScript": js,
            "JSON": (ROOT / "package.json").read_text(encoding="utf-8") * 20,
            **{name: translations(lang) for name, lang in (("German", "de"), ("French", "fr"), ("Russian", "ru"),
                                                          ("Japanese", "ja"), ("Chinese", "zh_TW"))}}


def chunks(text: str, size: int = 2000) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def main() -> None:
    encodings = {name: bpe_openai.get_encoding(name) for name in ("cl100k_base", "o200k_base")}
    print("| text | characters | cl100k_base | o200k_base | estimate | vs cl100k | vs o200k | worst 2 kB piece |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, text in [(n, t) for n, t in corpus().items() if t]:
        real = {k: len(e.encode(text)) for k, e in encodings.items()}
        est = estimate_tokens(text)
        worst = max((abs(estimate_tokens(c) / max(1, len(encodings["o200k_base"].encode(c))) - 1)
                     for c in chunks(text)), default=0)
        print(f"| {name} | {len(text):,} | {real['cl100k_base']:,} | {real['o200k_base']:,} | {est:,} | "
              f"{est / real['cl100k_base'] - 1:+.0%} | {est / real['o200k_base'] - 1:+.0%} | {worst:.0%} |")


if __name__ == "__main__":
    main()
