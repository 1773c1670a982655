"""``python -I -m assistant_stream.files.worker``: extract one file under resource limits, stdin to stdout.

Input: one JSON line ``{"kind", "size", "memory", "cpu", "limits": {...}}`` then ``size`` bytes of file.
Output: one JSON object, ``{"ok": true, "text", "truncated", "pages"}`` or ``{"ok": false, "code",
"message"}``. The limits are set before the file is read, so a parser bug can at worst kill this process.
"""

from __future__ import annotations

import json
import resource
import sys

from .extract import Limits, extract
from .kinds import Kind
from .result import DAMAGED, TOO_COMPLEX, ExtractionError


def _limit(which: int, value: int) -> None:
    _soft, hard = resource.getrlimit(which)
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(which, (value, value))


def run(stdin: bytes, header: dict) -> dict:
    try:
        result = extract(Kind(header["kind"]), stdin, Limits(**header["limits"]))
    except ExtractionError as exc:
        return {"ok": False, "code": exc.code, "message": exc.message}
    except MemoryError:
        return {"ok": False, "code": TOO_COMPLEX, "message": "Reading the file needs more memory than allowed"}
    except RecursionError:
        return {"ok": False, "code": TOO_COMPLEX, "message": "The file is nested too deeply to be read"}
    except Exception as exc:  # a parser's own error: the file is unusable; its type only, never its text
        return {"ok": False, "code": DAMAGED, "message": f"The file cannot be read ({type(exc).__name__})"}
    return {"ok": True, "text": result.text, "truncated": result.truncated, "pages": result.pages}


def main() -> None:
    header = json.loads(sys.stdin.buffer.readline(65536))
    _limit(resource.RLIMIT_AS, int(header["memory"]))
    _limit(resource.RLIMIT_CPU, int(header["cpu"]))
    _limit(resource.RLIMIT_FSIZE, 0)  # a parser has no business writing files
    _limit(resource.RLIMIT_CORE, 0)
    data = sys.stdin.buffer.read(int(header["size"]))
    out = run(data, header)
    # ASCII escapes: a lone surrogate from a broken PDF cannot fail the write.
    sys.stdout.buffer.write(json.dumps(out).encode("ascii"))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
