"""The soak in short (the long one is `make soak`): mixed load from 10 users for ~35 s with a SIGKILL and
restart of the app and a provider stall; afterwards every answer is final, what its readers assembled is
what is stored, a stop never answered with a message still generating, and nothing answered 5xx."""

from __future__ import annotations

from pathlib import Path

from tests.support.soak import Soak


async def test_short_soak(tmp_path: Path) -> None:
    soak = Soak(tmp_path, seconds=35, users=10, kill_at=[12], stall_at=[22], stall_seconds=3)
    report = await soak.run()
    print("\n" + report.summary())
    assert not report.problems, report.summary()
    assert report.server_errors == 0
    assert report.kills == 1 and report.stalls == 1
    # The load really ran: answers of every kind, and some ended by each of the faults.
    assert report.answers >= 50, report.summary()
    assert {"stream", "resume", "poll", "stop", "check"} <= set(report.actions)
    assert report.final["done"] > 0 and report.final["cancelled"] > 0, report.final
    assert report.final["interrupted"] > 0, report.final  # the answers the SIGKILL cut off
