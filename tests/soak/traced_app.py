"""`python -m tests.soak.traced_app`: the app under tracemalloc, for finding what grows during a soak.

SIGUSR1 writes a tracemalloc snapshot to the path named in $SNAPSHOT_DIR/snapshot.next (the soak
harness asks for them); tests/soak/run.py --tracemalloc compares them.
"""

from __future__ import annotations

import gc
import os
import runpy
import signal
import tracemalloc
from pathlib import Path
from types import FrameType


def _dump(_signum: int, _frame: FrameType | None) -> None:
    path = Path((Path(os.environ["SNAPSHOT_DIR"]) / "snapshot.next").read_text().strip())
    gc.collect()
    snapshot = tracemalloc.take_snapshot()
    tmp = path.with_suffix(".tmp")
    snapshot.dump(str(tmp))
    os.replace(tmp, path)


if __name__ == "__main__":
    tracemalloc.start(int(os.environ.get("TRACEMALLOC_FRAMES", "10")))
    signal.signal(signal.SIGUSR1, _dump)
    runpy.run_module("assistant_stream", run_name="__main__", alter_sys=True)
