"""The audit log (store/audit.py): entries newest first, and a change seen by several processes logged once."""

from __future__ import annotations

import asyncio

from assistant_stream.store.audit import UNSET, Seen
from assistant_stream.store.storage import Storage


async def test_entries_newest_first_with_paging(storage: Storage) -> None:
    for i in range(3):
        await storage.audit("root", "budgets changed", [("budgets", str(i), str(i + 1))])
    entries = await storage.audit_entries(2)
    assert [(e["actor"], e["old_value"], e["new_value"]) for e in entries] == [("root", "2", "3"), ("root", "1", "2")]
    assert [e["new_value"] for e in await storage.audit_entries(10, before=entries[-1]["id"])] == ["1"]


async def test_a_change_made_outside_is_logged_once_whoever_sees_it(storage: Storage) -> None:
    first = {"streaming_model": Seen("a", "gpt-4o"), "budgets": UNSET}
    assert await storage.audit_if_unseen("outside", "setting changed", first, {}) == []  # the first look
    changed = {"streaming_model": Seen("b", "llama3"), "budgets": UNSET, "new_key": UNSET}
    describe = {"streaming_model": (None, "llama3")}
    logged = await asyncio.gather(*(storage.audit_if_unseen("outside", "setting changed", changed, describe)
                                    for _ in range(3)))
    assert sorted(logged) == [[], [], ["streaming_model"]]  # three processes, one entry
    [entry] = await storage.audit_entries(10)
    assert (entry["key"], entry["old_value"], entry["new_value"]) == ("streaming_model", "gpt-4o", "llama3")
