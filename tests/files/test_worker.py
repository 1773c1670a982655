"""The worker: what each failure inside it becomes, and its stdin/stdout protocol under limits."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from assistant_stream.files import worker
from assistant_stream.files.result import DAMAGED, TOO_COMPLEX


@pytest.mark.parametrize(("exc", "code", "says"), [
    (MemoryError(), TOO_COMPLEX, "memory"),
    (RecursionError(), TOO_COMPLEX, "nested too deeply"),
    (KeyError("the file's own words"), DAMAGED, "(KeyError)"),
])
def test_failures_become_codes_without_the_files_content(monkeypatch: pytest.MonkeyPatch, exc: BaseException,
                                                         code: str, says: str) -> None:
    def fail(*_args: object) -> None:
        raise exc

    monkeypatch.setattr(worker, "extract", fail)
    out = worker.run(b"x", {"kind": "text", "limits": {}})
    assert out["ok"] is False and out["code"] == code and says in out["message"]
    assert "the file's own words" not in out["message"]


def test_protocol_over_stdin_and_stdout() -> None:
    header = {"kind": "text", "size": 11, "memory": 512 << 20, "cpu": 10, "limits": {"max_chars": 5}}
    proc = subprocess.run([sys.executable, "-I", "-m", "assistant_stream.files.worker"],
                          input=json.dumps(header).encode() + b"\nhello world", capture_output=True, timeout=60)
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == {"ok": True, "text": "hello", "truncated": True, "pages": None}
