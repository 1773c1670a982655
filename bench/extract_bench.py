"""Compare text extractors for PDF, DOCX and ODT: speed, peak memory, and behaviour on hostile files.

Each (library, file) pair runs in a fresh Python process under the same limits the app uses (address
space, CPU time, wall time), so a crash, a hang or a memory blow-up shows as such instead of taking the
benchmark down. Run with the libraries installed in the interpreter given by --python:

    python -m venv /tmp/xb && /tmp/xb/bin/pip install pypdf pdfminer.six pypdfium2 pymupdf kreuzberg \
        python-docx docx2python mammoth odfdo odfpy defusedxml
    .venv/bin/python bench/extract_bench.py --python /tmp/xb/bin/python > bench/results/extractors.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import docgen

# One snippet per library: ``data`` holds the file's bytes; the snippet sets ``text``.
ADAPTERS: dict[str, dict[str, str]] = {
    "pdf": {
        "pypdf": "import io, pypdf\nr = pypdf.PdfReader(io.BytesIO(data))\n"
                 "text = '\\n'.join(p.extract_text() or '' for p in r.pages)",
        "pdfminer.six": "import io\nfrom pdfminer.high_level import extract_text\n"
                        "text = extract_text(io.BytesIO(data))",
        "pypdfium2": "import pypdfium2 as pdfium\nd = pdfium.PdfDocument(data)\n"
                     "text = '\\n'.join(d[i].get_textpage().get_text_range() for i in range(len(d)))",
        "pymupdf": "import pymupdf\nd = pymupdf.open(stream=data, filetype='pdf')\n"
                   "text = '\\n'.join(p.get_text() for p in d)",
        "kreuzberg": "import kreuzberg\ntext = kreuzberg.extract_bytes_sync(data, mime_type='application/pdf').content",
    },
    "docx": {
        "python-docx": "import io, docx\nd = docx.Document(io.BytesIO(data))\n"
                       "text = '\\n'.join(p.text for p in d.paragraphs)",
        "docx2python": "import io\nfrom docx2python import docx2python\nwith docx2python(io.BytesIO(data)) as d:\n"
                       "    text = d.text",
        "mammoth": "import io, mammoth\ntext = mammoth.extract_raw_text(io.BytesIO(data)).value",
        "kreuzberg": "import kreuzberg\ntext = kreuzberg.extract_bytes_sync(data, mime_type="
                     "'application/vnd.openxmlformats-officedocument.wordprocessingml.document').content",
    },
    "odt": {
        "odfdo": "import io, odfdo\nd = odfdo.Document(io.BytesIO(data))\ntext = d.get_formatted_text()",
        "odfpy": "import io\nfrom odf.opendocument import load\nfrom odf import teletype, text as T\n"
                 "d = load(io.BytesIO(data))\n"
                 "text = '\\n'.join(teletype.extractText(p) for p in d.getElementsByType(T.P))",
        "kreuzberg": "import kreuzberg\ntext = kreuzberg.extract_bytes_sync(data, "
                     "mime_type='application/vnd.oasis.opendocument.text').content",
    },
}

HARNESS = r"""
import json, resource, sys, time
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
resource.setrlimit(resource.RLIMIT_CPU, (int(sys.argv[3]), int(sys.argv[3])))
data = open(sys.argv[1], 'rb').read()
t0 = time.perf_counter()
try:
    exec(sys.stdin.read())
    out = {"ok": True, "chars": len(text)}
except BaseException as exc:
    out = {"ok": False, "error": type(exc).__name__, "detail": str(exc)[:120]}
out["seconds"] = time.perf_counter() - t0
out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def run(python: str, snippet: str, path: str, *, mem_mb: int, timeout: float) -> dict:
    start = time.perf_counter()
    try:
        proc = subprocess.run([python, "-c", HARNESS, path, str(mem_mb << 20), str(int(timeout))],
                              input=snippet, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"wall timeout {timeout:g}s", "wall": timeout}
    wall = time.perf_counter() - start
    if proc.returncode < 0:
        return {"ok": False, "error": f"killed by signal {-proc.returncode}", "wall": wall}
    try:
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"ok": False, "error": f"exit {proc.returncode}: {proc.stderr.strip()[-120:]}", "wall": wall}
    out["wall"] = wall
    return out


def ordinary_files() -> dict[str, bytes]:
    line = "The quick brown fox jumps over the lazy dog; invoice 4711 totals 1,234.56 EUR. "
    pages = [[f"Page {p} line {i}: {line}" for i in range(50)] for p in range(200)]
    paragraphs = [f"Paragraph {i}: {line * 3}" for i in range(5000)]
    return {"pdf": docgen.pdf(pages), "docx": docgen.docx(paragraphs), "odt": docgen.odt(paragraphs)}


def hostile_files() -> dict[str, list[tuple[str, bytes]]]:
    return {
        "pdf": [("page tree loop", docgen.pdf_reference_loop()), ("/Length loop", docgen.pdf_length_loop()),
                ("xref /Prev loop", docgen.pdf_xref_loop()), ("flate bomb 1 GiB", docgen.pdf_flate_bomb(1024)),
                ("nesting 100k", docgen.pdf_deep_nesting())],
        "docx": [("zip bomb 1 GiB", docgen.docx_zip_bomb(1024)),
                 ("zip bomb, sizes lie", docgen.lie_about_sizes(docgen.docx_zip_bomb(256), "word/document.xml")),
                 ("billion laughs", docgen.docx(document_xml=docgen.billion_laughs_xml())),
                 ("XXE /etc/passwd", docgen.docx(document_xml=docgen.external_entity_xml())),
                 ("nesting 200k", docgen.docx(document_xml=docgen.deeply_nested_xml()))],
        "odt": [("zip bomb 1 GiB", docgen.odt_zip_bomb(1024)),
                ("billion laughs", docgen.odt(content_xml=docgen.billion_laughs_xml()
                                              .replace("w:document", "office:document-content")))],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mem-mb", type=int, default=1024)
    ap.add_argument("--timeout", type=float, default=30)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="xbench"))
    noop = run(args.python, "text = ''", str(tmp / "none"), mem_mb=args.mem_mb, timeout=args.timeout) \
        if (tmp / "none").write_bytes(b"") == 0 else {}
    print(f"Interpreter start + harness, no library: {noop.get('wall', 0) * 1000:.0f} ms wall, "
          f"{noop.get('maxrss_mb', 0):.0f} MB peak RSS\n")
    print("| format | library | extract s (median) | process wall s | peak RSS MB | chars |")
    print("|---|---|---|---|---|---|")
    for fmt, data in ordinary_files().items():
        path = tmp / f"ordinary.{fmt}"
        path.write_bytes(data)
        for lib, snippet in ADAPTERS[fmt].items():
            results = [run(args.python, snippet, str(path), mem_mb=args.mem_mb, timeout=args.timeout)
                       for _ in range(args.repeat)]
            if not all(r.get("ok") for r in results):
                print(f"| {fmt} ({len(data) // 1024} KB) | {lib} | failed: {results[0].get('error')} | | | |")
                continue
            print(f"| {fmt} ({len(data) // 1024} KB) | {lib} "
                  f"| {statistics.median(r['seconds'] for r in results):.3f} "
                  f"| {statistics.median(r['wall'] for r in results):.3f} "
                  f"| {max(r['maxrss_mb'] for r in results):.0f} | {results[0]['chars']} |")
    print(f"\nHostile files (address space {args.mem_mb} MiB, {args.timeout:g} s):\n")
    print("| format | file (size) | library | outcome | wall s | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    for fmt, files in hostile_files().items():
        for name, data in files:
            path = tmp / f"hostile.{fmt}"
            path.write_bytes(data)
            for lib, snippet in ADAPTERS[fmt].items():
                r = run(args.python, snippet, str(path), mem_mb=args.mem_mb, timeout=args.timeout)
                outcome = f"text, {r['chars']} chars" if r.get("ok") else \
                    f"{r.get('error')}: {r.get('detail', '')}".strip(": ").replace("|", "/")
                print(f"| {fmt} | {name} ({len(data) // 1024} KB) | {lib} | {outcome[:90]} "
                      f"| {r.get('wall', 0):.2f} | {r.get('maxrss_mb', 0):.0f} |", flush=True)
            os.unlink(path)


if __name__ == "__main__":
    main()
