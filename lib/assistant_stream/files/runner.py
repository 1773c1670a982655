"""Extractor: runs files/worker.py in a fresh process per file, bounded in memory, CPU, wall time and output.

A process per file rather than a pool: a worker that hit a limit is killed, not reused, and nothing a
hostile file did can leak into the next extraction. Start-up costs about 0.1 s (bench/results/extractors.md),
small next to reading the file from Nextcloud and far below an answer's time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from dataclasses import asdict, dataclass

from .extract import Limits
from .kinds import Kind
from .result import BUSY, CODES, DAMAGED, TOO_COMPLEX, Extracted, ExtractionError


@dataclass(frozen=True, slots=True)
class RunLimits:
    memory_bytes: int = 768 << 20  # address space of the worker (Python and lxml need about 60 MB of it)
    cpu_seconds: int = 20
    timeout: float = 30.0  # wall time, start-up included
    max_parallel: int = 2  # workers at once per app process
    max_waiting: int = 16  # extractions queued behind them before new ones are refused


def _child_env() -> dict[str, str]:
    # Nothing of the app's environment (APP_SECRET, the API key) reaches the process that parses
    # untrusted files; -I makes Python ignore PYTHON* variables and the working directory as well.
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


class Extractor:
    def __init__(self, limits: RunLimits | None = None, *, python: str = sys.executable) -> None:
        self.limits = limits or RunLimits()
        self._python = python
        self._slots = asyncio.Semaphore(self.limits.max_parallel)
        self._waiting = 0

    async def extract(self, kind: Kind, data: bytes, limits: Limits) -> Extracted:
        """The text of ``data``; raises ExtractionError (BUSY when too many extractions are queued)."""
        if self._waiting >= self.limits.max_waiting:
            raise ExtractionError(BUSY, "Too many files are being read right now; try again in a moment")
        self._waiting += 1
        try:
            async with self._slots:
                return await self._run(kind, data, limits)
        finally:
            self._waiting -= 1

    async def _run(self, kind: Kind, data: bytes, limits: Limits) -> Extracted:
        header = {"kind": str(kind), "size": len(data), "memory": self.limits.memory_bytes,
                  "cpu": self.limits.cpu_seconds, "limits": asdict(limits)}
        # Escaped JSON of the text, plus room for the envelope.
        max_output = limits.max_chars * 6 + 4096
        proc = await asyncio.create_subprocess_exec(
            self._python, "-I", "-m", "assistant_stream.files.worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            env=_child_env(), cwd="/", start_new_session=True)
        try:
            async with asyncio.timeout(self.limits.timeout):
                output = await _exchange(proc, json.dumps(header).encode() + b"\n" + data, max_output)
                await proc.wait()
        except TimeoutError:
            raise ExtractionError(TOO_COMPLEX, f"Reading the file took longer than {self.limits.timeout:g} s: "
                                               "it is too large or too complex") from None
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        return _result(proc.returncode, output)


async def _exchange(proc: asyncio.subprocess.Process, payload: bytes, max_output: int) -> bytes:
    """Write ``payload`` to the worker and read at most ``max_output`` bytes of its answer."""
    assert proc.stdin is not None and proc.stdout is not None

    async def feed() -> None:
        try:
            proc.stdin.write(payload)
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the worker died or stopped reading: its exit status says why
        finally:
            proc.stdin.close()

    feeder = asyncio.create_task(feed())
    try:
        chunks: list[bytes] = []
        size = 0
        while chunk := await proc.stdout.read(65536):
            size += len(chunk)
            if size > max_output:
                raise ExtractionError(DAMAGED, "The file reader sent more than it may; the file was refused")
            chunks.append(chunk)
        await feeder
        return b"".join(chunks)
    finally:
        if not feeder.done():
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder


def _result(returncode: int | None, output: bytes) -> Extracted:
    if returncode == -signal.SIGXCPU or returncode == -signal.SIGKILL:
        raise ExtractionError(TOO_COMPLEX, "Reading the file used more processor time than allowed: "
                                           "it is too large or too complex")
    try:
        out = json.loads(output) if returncode == 0 else None
    except ValueError:
        out = None
    if not isinstance(out, dict):
        if returncode and returncode > 0:
            # Python itself failed, typically a MemoryError before the worker could answer.
            raise ExtractionError(TOO_COMPLEX, "Reading the file needs more memory than allowed")
        raise ExtractionError(DAMAGED, "The file reader crashed on this file; it cannot be used")
    if not out.get("ok"):
        raise ExtractionError(str(out.get("code")) if out.get("code") in CODES else DAMAGED,
                              str(out.get("message") or "The file cannot be read")[:300])
    text = out.get("text")
    if not isinstance(text, str):
        raise ExtractionError(DAMAGED, "The file reader sent an unexpected answer")
    pages = out.get("pages")
    return Extracted(text, bool(out.get("truncated")), pages if isinstance(pages, int) else None)

