"""Usage counters (store/usage.py): counted once with the answer's end, per user, group and model; read per period."""

from __future__ import annotations

from assistant_stream.store.storage import Storage
from assistant_stream.store.usage import Accounting
from tests.support.storage import chat


def entry(user: str = "alice", day: str = "2025-03-10", prompt: int = 10, completion: int = 5, *,
          model: str = "m1", groups: tuple[str, ...] = ("students",), estimated: bool = False) -> Accounting:
    return Accounting(user, groups, model, day, prompt, completion, estimated)


async def test_the_final_save_counts_once_and_a_retried_save_not_again(storage: Storage) -> None:
    sid, [q] = await chat(storage, "alice", 1)
    a = await storage.add_message("alice", sid, "assistant", "", status="generating", reply_to=q)
    for _ in range(2):  # the second save is a retry whose first try had committed
        await storage.finish_message(a["id"], status="done", content="hi", reasoning="", prompt_tokens=3,
                                     completion_tokens=4, total_tokens=7, usage_estimated=True,
                                     accounting=entry(prompt=3, completion=4, estimated=True))
    row = await storage.get_message("alice", sid, a["id"])
    assert row["usage_estimated"] is True and row["total_tokens"] == 7
    assert await storage.spent("alice", ["students"], "2025-03-01") == {
        ("user", "alice"): {"2025-03-10": 7}, ("group", "students"): {"2025-03-10": 7}}
    [report] = await storage.usage_report("2025-03-01", "2025-03-31", "user")
    assert (report["answers"], report["estimated"], report["prompt_tokens"]) == (1, 1, 3)


async def test_sums_per_day_model_and_period(storage: Storage) -> None:
    await storage.add_usage(entry())
    await storage.add_usage(entry(model="m2", groups=("students", "staff")))
    await storage.add_usage(entry(day="2025-03-11"))
    await storage.add_usage(entry(user="bob", day="2025-02-28", groups=()))
    assert await storage.spent("alice", [], "2025-03-11") == {("user", "alice"): {"2025-03-11": 15}}
    spent = await storage.spent("alice", ["staff", "nobody"], "2025-03-01")
    assert spent == {("user", "alice"): {"2025-03-10": 30, "2025-03-11": 15}, ("group", "staff"): {"2025-03-10": 15}}
    by_model = await storage.usage_report("2025-03-01", "2025-03-31", "model")
    assert [(r["day"], r["key"], r["answers"]) for r in by_model] == [
        ("2025-03-10", "m1", 1), ("2025-03-10", "m2", 1), ("2025-03-11", "m1", 1)]
    by_group = await storage.usage_report("2025-02-01", "2025-03-10", "group")
    assert [(r["key"], r["prompt_tokens"]) for r in by_group] == [("staff", 10), ("students", 20)]
    totals = await storage.totals_since("2025-02-01", ["alice", "bob"], ["staff"])
    assert totals[("user", "bob")] == {"2025-02-28": 15} and totals[("group", "staff")] == {"2025-03-10": 15}
