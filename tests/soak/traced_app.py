"""`python -m tests.soak.traced_app`: the app with memory accounting on demand, for finding what grows in a soak.

Each SIGUSR1 writes a tracemalloc snapshot to the path named in $SNAPSHOT_DIR/snapshot.next and, next to
it (``.json``), where the process's memory is: RSS, the Python heap tracemalloc sees, SQLite's own
allocator (sqlite3_memory_used) and glibc's heap (mallinfo2: in use and free-but-kept). The first
signal also starts tracing, so imports and warm-up run at full speed (under tracemalloc the imports
alone take a minute on a busy machine). tests/soak/run.py --tracemalloc compares them.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import runpy
import signal
import tracemalloc
from pathlib import Path
from types import FrameType

import psutil


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def accounting() -> dict[str, float]:
    mib = 1 << 20
    out = {"rss": psutil.Process().memory_info().rss / mib,
           "python_traced": tracemalloc.get_traced_memory()[0] / mib}
    try:
        sqlite = ctypes.CDLL("libsqlite3.so.0")
        sqlite.sqlite3_memory_used.restype = ctypes.c_int64
        out["sqlite"] = sqlite.sqlite3_memory_used() / mib
    except (OSError, AttributeError):
        pass
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
        out["malloc_in_use"] = (info.uordblks + info.hblkhd) / mib
        out["malloc_free_kept"] = info.fordblks / mib
        out["malloc_arena"] = info.arena / mib
    except (OSError, AttributeError):
        pass
    out["threads"] = psutil.Process().num_threads()
    return out


def _dump(_signum: int, _frame: FrameType | None) -> None:
    if not tracemalloc.is_tracing():
        tracemalloc.start(int(os.environ.get("TRACEMALLOC_FRAMES", "6")))
    path = Path((Path(os.environ["SNAPSHOT_DIR"]) / "snapshot.next").read_text().strip())
    gc.collect()
    snapshot = tracemalloc.take_snapshot()
    path.with_suffix(".json").write_text(json.dumps(accounting()))
    tmp = path.with_suffix(".tmp")
    snapshot.dump(str(tmp))
    os.replace(tmp, path)


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, _dump)
    runpy.run_module("assistant_stream", run_name="__main__", alter_sys=True)
