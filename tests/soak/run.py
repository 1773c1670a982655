"""`make soak`: the long soak (default 15 minutes, 20 users, three kills, a 30 s provider stall).

    .venv/bin/python -m tests.soak.run [--minutes 15] [--users 20] [--tracemalloc] [--postgresql URL]

Prints the figures docs/reliability.md reports and exits non-zero on any problem: a 5xx, an answer not
final, a reader's text that differs from the stored one, a stop answered while still generating, or
RSS still growing in the last app run once warmed up (see --max-trend).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from tests.support.soak import WARM, Soak


def accounting(paths: list[Path]) -> str:
    """Where the app's memory was at each snapshot (tests/soak/traced_app.py writes it next to them)."""
    lines = ["memory at each snapshot of the last app run (MiB):"]
    for path in paths:
        side = path.with_suffix(".json")
        if side.exists():
            values = json.loads(side.read_text())
            lines.append(f"  {path.stem.split('-')[-1]:>6}: " + ", ".join(
                f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items()))
    return "\n".join(lines)


def compare_snapshots(paths: list[Path], top: int = 15) -> str:
    """What grew between the first and the last snapshot of the last app run, by allocation site."""
    if len(paths) < 2:
        return "tracemalloc: fewer than two snapshots"
    first, last = tracemalloc.Snapshot.load(str(paths[0])), tracemalloc.Snapshot.load(str(paths[-1]))
    keep = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>")]
    first, last = first.filter_traces(keep), last.filter_traces(keep)
    lines = [f"tracemalloc: {paths[0].name} -> {paths[-1].name}, traced "
             f"{sum(s.size for s in first.statistics('filename')) / 2**20:.1f} -> "
             f"{sum(s.size for s in last.statistics('filename')) / 2**20:.1f} MiB"]
    for stat in last.compare_to(first, "traceback")[:top]:
        frames = [f"{f.filename.split('site-packages/')[-1].split('lib/')[-1]}:{f.lineno}"
                  for f in stat.traceback[-4:]]
        lines.append(f"  {stat.size_diff / 1024:+9.0f} KiB {stat.count_diff:+7d} blocks  "
                     f"{' <- '.join(reversed(frames))}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--stall", type=float, default=30, help="seconds the provider stalls (once)")
    parser.add_argument("--tracemalloc", action="store_true", help="run the app under tracemalloc (slower)")
    parser.add_argument("--postgresql", metavar="URL", help="DATABASE_URL instead of SQLite")
    parser.add_argument("--max-trend", type=float, default=1.0,
                        help=f"MiB/min the last app run's RSS may still grow once warm ({WARM:.0f} s in)")
    args = parser.parse_args()
    seconds = args.minutes * 60
    # Kills early on (each restart is a fresh warm-up); the last run is long enough to show a trend.
    kills = [t for t in (0.1 * seconds, 0.2 * seconds, 0.3 * seconds) if t > 20]
    env = {"DATABASE_URL": args.postgresql} if args.postgresql else {}
    with tempfile.TemporaryDirectory(prefix="assistant-stream-soak-") as tmp:
        soak = Soak(Path(tmp), seconds=seconds, users=args.users, kill_at=kills, stall_at=[0.15 * seconds],
                    stall_seconds=args.stall, traced=args.tracemalloc, env=env,
                    log=lambda msg: print(msg, flush=True))
        began = time.monotonic()
        report = asyncio.run(soak.run())
        print(report.summary())
        print(f"(wall time {time.monotonic() - began:.0f} s)")
        if args.tracemalloc:
            print(accounting(soak.snapshots))
            # The first snapshot only started tracing: growth is measured from the second on.
            print(compare_snapshots(soak.snapshots[1:]))
    last = max(s for _t, s, _m in report.rss)
    trend = report.slope(last, WARM)
    failed = bool(report.problems) or report.server_errors > 0
    if trend is not None and trend > args.max_trend:
        print(f"RSS still grows {trend:+.2f} MiB/min in the last app run once warm")
        failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
