"""The bounded runner: limits on wall time, memory, output and queue, and what each failure becomes."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from assistant_stream.files.extract import Limits
from assistant_stream.files.kinds import Kind
from assistant_stream.files.result import BUSY, DAMAGED, TOO_COMPLEX, ExtractionError
from assistant_stream.files.runner import Extractor, RunLimits, _child_env
from tests.support import docgen


def fake_python(tmp_path: Path, script: str) -> str:
    """An executable standing in for the interpreter, to make the worker crash, flood or hang."""
    path = tmp_path / "python"
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


async def test_extracts_in_a_separate_process() -> None:
    result = await Extractor().extract(Kind.TEXT, "naïve text".encode(), Limits())
    assert result.text == "naïve text" and not result.truncated


async def test_a_worker_that_hangs_is_killed_at_the_timeout(tmp_path: Path) -> None:
    extractor = Extractor(RunLimits(timeout=0.5), python=fake_python(tmp_path, "exec sleep 30"))
    with pytest.raises(ExtractionError) as err:
        await extractor.extract(Kind.TEXT, b"x", Limits())
    assert err.value.code == TOO_COMPLEX and "longer than 0.5 s" in err.value.message


async def test_a_worker_that_crashes_gives_a_clear_error(tmp_path: Path) -> None:
    extractor = Extractor(python=fake_python(tmp_path, "cat >/dev/null; kill -SEGV $$"))
    with pytest.raises(ExtractionError) as err:
        await extractor.extract(Kind.TEXT, b"x", Limits())
    assert err.value.code == DAMAGED and "crashed" in err.value.message


async def test_a_worker_that_floods_its_output_is_cut_off(tmp_path: Path) -> None:
    extractor = Extractor(python=fake_python(tmp_path, "exec yes"))
    with pytest.raises(ExtractionError) as err:
        await extractor.extract(Kind.TEXT, b"x", Limits(max_chars=1000))
    assert err.value.code == DAMAGED and "more than it may" in err.value.message


async def test_memory_limit_stops_a_greedy_extraction() -> None:
    # 200 MB of address space is too little to parse 40 MB of DOCX XML (random words: no bomb by ratio).
    words = os.urandom(20 << 20).hex()
    data = docgen.docx(words[i:i + 500] for i in range(0, len(words), 500))
    extractor = Extractor(RunLimits(memory_bytes=200 << 20))
    with pytest.raises(ExtractionError) as err:
        await extractor.extract(Kind.DOCX, data, Limits(max_unpacked=1 << 30, max_chars=10 << 20))
    assert err.value.code == TOO_COMPLEX and "memory" in err.value.message


async def test_too_many_waiting_extractions_are_refused(tmp_path: Path) -> None:
    extractor = Extractor(RunLimits(max_parallel=1, max_waiting=2, timeout=5),
                          python=fake_python(tmp_path, "exec sleep 5"))
    first = [asyncio.create_task(extractor.extract(Kind.TEXT, b"x", Limits())) for _ in range(2)]
    await asyncio.sleep(0.1)
    with pytest.raises(ExtractionError) as err:
        await extractor.extract(Kind.TEXT, b"x", Limits())
    assert err.value.code == BUSY
    for task in first:
        task.cancel()
    await asyncio.gather(*first, return_exceptions=True)


async def test_cancelling_an_extraction_kills_its_worker(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    extractor = Extractor(python=fake_python(tmp_path, f"echo $$ > {pidfile}; exec sleep 30"))
    task = asyncio.create_task(extractor.extract(Kind.TEXT, b"x", Limits()))
    for _ in range(100):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_worker_environment_carries_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_SECRET", "s3cret")
    monkeypatch.setenv("STREAMING_API_KEY", "sk-test")
    env = _child_env()
    assert set(env) == {"PATH", "LANG"}
    assert "s3cret" not in repr(env) and "sk-test" not in repr(env)
