"""Activity (store/activity.py): answers generating now in any process, failures by code, outcomes per model."""

from __future__ import annotations

from assistant_stream.store.storage import Storage
from tests.support.storage import chat


async def test_running_failed_and_outcomes(storage: Storage) -> None:
    sid, [q1, q2, q3] = await chat(storage, "alice", 3)
    running = await storage.add_message("alice", sid, "assistant", "so far", status="generating", reply_to=q1,
                                        model="m1", engine="stream")
    for q, code in ((q2, "provider_timeout"), (q3, "provider_timeout")):
        a = await storage.add_message("alice", sid, "assistant", "", status="generating", reply_to=q, model="m1",
                                      engine="stream")
        await storage.finish_message(a["id"], status="error", content="", reasoning="", error=f"slow {q}",
                                     error_code=code)
    ok = await storage.add_message("alice", sid, "assistant", "", status="generating", reply_to=q1, model="m2",
                                   engine="stream")
    await storage.finish_message(ok["id"], status="done", content="fine", reasoning="")
    [now] = await storage.running()
    assert (now["id"], now["user_id"], now["model"], now["chars"]) == (running["id"], "alice", "m1", 6)
    [errors] = await storage.errors_since(0)
    assert (errors["code"], errors["count"], errors["last_message"]) == ("provider_timeout", 2, f"slow {q3}")
    outcomes = {o["model"]: (o["ok"], o["failed"]) for o in await storage.outcomes_since(0)}
    assert outcomes == {"m1": (0, 2), "m2": (1, 0)}
    assert await storage.errors_since(2**40) == []
