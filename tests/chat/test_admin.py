"""AdminService (chat/admin.py): the usage report's days, CSV safe for spreadsheets, budgets saved and audited."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from assistant_stream.chat.admin import AdminService
from assistant_stream.chat.audit import SettingsAudit
from assistant_stream.chat.budgets import BudgetGuard
from assistant_stream.core.config_store import ConfigStore
from assistant_stream.core.errors import InvalidParameter
from assistant_stream.store.storage import Storage
from assistant_stream.store.usage import Accounting
from tests.support.clock import FakeClock
from tests.support.config import MemoryAppConfig


def admin(storage: Storage, environ: dict[str, str] | None = None) -> tuple[AdminService, MemoryAppConfig]:
    source = MemoryAppConfig()
    config = ConfigStore(source, ttl=0, environ=environ or {})
    clock = FakeClock(dt.datetime(2025, 3, 10, 12, tzinfo=dt.UTC).timestamp())
    service = AdminService(storage=storage, config=config, guard=BudgetGuard(storage, None, clock=clock),
                           audit=SettingsAudit(storage, b"k"), clock=clock)
    return service, source


async def test_the_report_lists_every_day_and_the_csv_defuses_formulas(storage: Storage) -> None:
    service, _ = admin(storage)
    await storage.add_usage(Accounting("=cmd()", (), "m", "2025-03-09", 5, 6, True))
    report = await service.usage(3, "user")
    assert report["days"] == ["2025-03-08", "2025-03-09", "2025-03-10"]
    assert report["series"][0]["days"] == {"2025-03-09": 11}
    rows = list(csv.reader(io.StringIO(await service.usage_csv(3, "user"))))
    assert rows == [["day", "user", "prompt_tokens", "completion_tokens", "total_tokens", "answers", "estimated"],
                    ["2025-03-09", "'=cmd()", "5", "6", "11", "1", "1"]]
    with pytest.raises(InvalidParameter):
        await service.usage(0, "user")


async def test_saved_budgets_are_stored_canonical_and_audited(storage: Storage) -> None:
    service, source = admin(storage)
    state = await service.save_budgets("root", {"users": {"alice": {"tokens": 5}}}, "Europe/Berlin")
    assert source.values["budgets"] == '{"groups":{},"users":{"alice":{"period":"day","tokens":5}}}'
    assert state["timezone"] == "Europe/Berlin" and state["used"][0]["name"] == "alice"
    entries = await storage.audit_entries(10)
    assert {(e["actor"], e["key"]) for e in entries} == {("root", "budgets"), ("root", "budget_timezone")}
    with pytest.raises(InvalidParameter, match="environment"):
        await admin(storage, {"BUDGETS": "{}"})[0].save_budgets("root", {"users": {}}, None)
