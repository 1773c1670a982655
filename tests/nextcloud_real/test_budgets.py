"""Token budgets on the real Nextcloud: a group's shared pool follows the group membership Nextcloud reports, a
member over it is refused (429 budget_exceeded) through the stock AppAPI proxy before the provider is asked, and
the usage and budget routes are refused to a user there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.nextcloud_real.client import POLL_TIMEOUT, PROXY, new_message, new_session, poll_answer, wait_for
from tests.support.nextcloud_real.plugin import RealStack
from tests.support.nextcloud_real.provider import marker
from tests.support.scripted_provider import openai_stream

POOL_TOKENS = 5  # one answer of the scripted provider (its usage: 7 prompt + 2 completion tokens) exceeds it
ADMIN_ROUTES = (("GET", "/admin/usage"), ("GET", "/admin/usage.csv"), ("GET", "/admin/activity"),
                ("GET", "/admin/budgets"), ("PUT", "/admin/budgets"), ("GET", "/admin/audit"))


@pytest.fixture
async def pool(real_nc: RealStack) -> AsyncIterator[str]:
    """carol and dave, users the app has not seen yet, in a new Nextcloud group with a shared daily budget (set by the
    admin through the proxy); the budgets are emptied afterwards, as the other tests share this Nextcloud."""
    group = "pool-" + marker()
    await real_nc.nc.add_users(("carol", "dave"))
    await real_nc.nc.add_group(group, ("carol", "dave"))
    budgets = {"groups": {group: {"tokens": POOL_TOKENS, "period": "day", "shared": True}}}
    r = await real_nc.as_admin.put(f"{PROXY}/admin/budgets", json={"budgets": budgets})
    assert r.status_code == 200, f"{r.status_code} {r.text[:300]}"
    try:
        yield group
    finally:
        r = await real_nc.as_admin.put(f"{PROXY}/admin/budgets", json={"budgets": {}})
        assert r.status_code == 200, f"{r.status_code} {r.text[:300]}"


async def _budget(real_nc: RealStack, user: str) -> dict[str, Any]:
    r = await real_nc.as_user(user).get(f"{PROXY}/chat/budget")
    assert r.status_code == 200, f"{user}: {r.status_code} {r.text[:300]}"
    return r.json()


async def test_a_groups_pool_is_shared_by_its_nextcloud_members(real_nc: RealStack, pool: str) -> None:
    mark = marker()
    real_nc.provider.answer(mark, openai_stream(["Pool", " answer"]))
    [dave_sees] = (await _budget(real_nc, "dave"))["budgets"]
    assert (dave_sees["kind"], dave_sees["name"], dave_sees["tokens"], dave_sees["used"]) == (
        "group", pool, POOL_TOKENS, 0)
    assert (await _budget(real_nc, "alice"))["budgets"] == []  # not in the group

    carol = real_nc.as_user("carol")
    sid = await new_session(carol)
    run = await poll_answer(carol, sid, await new_message(carol, sid, f"{mark} carol asks"))
    assert run.final["status"] == "done" and run.text == "Pool answer", run.final

    async def dave_sees_carols_tokens() -> dict[str, Any] | None:
        seen = await _budget(real_nc, "dave")
        return seen if seen["remaining"] == 0 else None

    [spent] = (await wait_for(dave_sees_carols_tokens, timeout=15, what="carol's tokens in dave's pool"))["budgets"]
    assert spent["used"] >= 9 and spent["name"] == pool

    dave = real_nc.as_user("dave")
    sid = await new_session(dave)
    mid = await new_message(dave, sid, f"{mark} dave asks")
    refused = await dave.get(f"{PROXY}/chat/poll", params={"sessionId": sid, "messageId": mid,
                                                           "timeout": POLL_TIMEOUT})
    assert refused.status_code == 429, f"{refused.status_code} {refused.text[:300]}"
    body = refused.json()
    assert body["code"] == "budget_exceeded" and f'The group "{pool}"' in body["error"], body
    assert "It resets at" in body["error"] and 0 < int(refused.headers["Retry-After"]) <= 86400
    asked = [ex.request for ex in real_nc.provider.for_marker(mark)]
    assert len(asked) == 1 and "carol asks" in str(asked[0].json), "the provider was asked for dave's question"

    alice = real_nc.as_user("alice")  # outside the group: not limited by its pool
    sid = await new_session(alice)
    run = await poll_answer(alice, sid, await new_message(alice, sid, f"{mark} alice asks"))
    assert run.final["status"] == "done" and run.text == "Pool answer"

    r = await real_nc.as_admin.get(f"{PROXY}/admin/usage", params={"by": "group", "days": 1})
    assert r.status_code == 200, r.text[:300]
    [row] = [s for s in r.json()["series"] if s["key"] == pool]
    assert row["answers"] >= 1 and row["prompt_tokens"] + row["completion_tokens"] == spent["used"]


async def test_usage_and_budget_routes_are_refused_to_a_user(real_nc: RealStack) -> None:
    alice = real_nc.as_user("alice")
    before = await real_nc.as_admin.get(f"{PROXY}/admin/budgets")
    assert before.status_code == 200, before.text[:300]
    for method, path in ADMIN_ROUTES:
        body = {"budgets": {"default": {"tokens": 1, "period": "day"}}} if method == "PUT" else None
        r = await alice.request(method, f"{PROXY}{path}", json=body)
        assert r.status_code == 404, f"alice {method} {path}: {r.status_code}"
        if method == "GET":
            r = await real_nc.as_admin.get(f"{PROXY}{path}")
            assert r.status_code == 200, f"admin {method} {path}: {r.status_code} {r.text[:200]}"
    after = await real_nc.as_admin.get(f"{PROXY}/admin/budgets")
    assert after.json()["budgets"] == before.json()["budgets"]  # alice's PUT changed nothing
    entries = (await real_nc.as_admin.get(f"{PROXY}/admin/audit")).json()["entries"]
    assert all(e["actor"] != "alice" for e in entries)
