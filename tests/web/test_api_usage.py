"""Usage and budgets over HTTP (web/api_usage.py): an admin sees a conversation's usage as soon as it ends (with
and without the provider's usage), a user over budget is refused before the provider is asked, CSV, audit."""

from __future__ import annotations

import csv
import io

import pytest

from tests.support.appserver import API_KEY, AppFactory, RunningApp
from tests.support.chat import new_chat, wait_done
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.scripted_provider import ScriptedProvider, openai_stream


@pytest.fixture
async def app(app_factory: AppFactory, nextcloud: NextcloudDouble, scripted_provider: ScriptedProvider
              ) -> RunningApp:
    nextcloud.add_user("root", ["admin"])
    nextcloud.add_user("alice", ["students"])
    nextcloud.add_user("bob", ["students"])
    return await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret,
                             STREAMING_API_URL=scripted_provider.chat_url, STREAMING_API_KEY=API_KEY,
                             STREAMING_MODEL="test-model", config_ttl=0.0)


async def answer(app: RunningApp, user: str, text: str) -> dict:
    c = app.client(user)
    sid, _mid = await new_chat(c, text)
    started = await c.get("/chat/generate", params={"sessionId": sid})
    assert started.status_code == 200, started.text
    done = await wait_done(c, sid, started.json()["taskId"])
    assert done.status_code == 200, done.text
    return done.json()


async def test_an_admin_sees_usage_per_user_group_and_model_right_after_the_answers(
        app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.script(openai_stream(["Hello", " there"]),  # usage: 7 + 2
                             openai_stream(["No usage", " from this one"], usage=False))
    reported = await answer(app, "alice", "Say hello")
    assert (reported["prompt_tokens"], reported["completion_tokens"], reported["usage_estimated"]) == (7, 2, False)
    estimated = await answer(app, "alice", "Say something longer, please")
    assert estimated["usage_estimated"] is True and estimated["completion_tokens"] >= 4
    assert estimated["prompt_tokens"] > 10  # the system prompt and the question, estimated
    root = app.client("root")
    by_user = (await root.get("/admin/usage", params={"by": "user", "days": 7})).json()
    [alice] = by_user["series"]
    total = 9 + estimated["prompt_tokens"] + estimated["completion_tokens"]
    assert alice["key"] == "alice" and alice["answers"] == 2 and alice["estimated"] == 1
    assert alice["prompt_tokens"] + alice["completion_tokens"] == total
    assert alice["days"] == {by_user["until"]: total} and len(by_user["days"]) == 7
    by_group = (await root.get("/admin/usage", params={"by": "group"})).json()
    assert [(s["key"], s["answers"]) for s in by_group["series"]] == [("students", 2)]
    by_model = (await root.get("/admin/usage", params={"by": "model"})).json()
    assert [s["key"] for s in by_model["series"]] == ["test-model"]
    r = await root.get("/admin/usage.csv", params={"by": "user", "days": 7})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows == [{"day": by_user["until"], "user": "alice", "prompt_tokens": str(alice["prompt_tokens"]),
                     "completion_tokens": str(alice["completion_tokens"]), "total_tokens": str(total),
                     "answers": "2", "estimated": "1"}]


async def test_over_budget_the_user_is_refused_and_the_provider_asked_nothing(
        app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(["Hello", " there"]))  # 9 tokens an answer
    root, alice = app.client("root"), app.client("alice")
    saved = await root.put("/admin/budgets", json={"budgets": {"users": {"alice": {"tokens": 9, "period": "day"}}}})
    assert saved.status_code == 200, saved.text
    assert (await alice.get("/chat/budget")).json()["remaining"] == 9
    await answer(app, "alice", "first")
    mine = (await alice.get("/chat/budget")).json()
    assert mine["remaining"] == 0 and mine["budgets"][0]["used"] == 9
    asked = len(scripted_provider.requests)
    sid, mid = await new_chat(alice, "second")
    refused = await alice.get("/chat/generate", params={"sessionId": sid})
    assert refused.status_code == 429 and refused.json()["code"] == "budget_exceeded"
    assert "token budget for today (9 tokens)" in refused.json()["error"] and "It resets at" in refused.json()["error"]
    assert 0 < int(refused.headers["Retry-After"]) <= 86400
    stream = await alice.get("/chat/stream", params={"sessionId": sid, "messageId": mid})
    assert stream.status_code == 429 and stream.json()["code"] == "budget_exceeded"
    assert len(scripted_provider.requests) == asked  # the provider received nothing
    assert (await alice.get("/chat/messages", params={"sessionId": sid})).json()[-1]["role"] == "human"
    await answer(app, "bob", "bob has no budget")  # others are not affected
    entries = (await root.get("/admin/audit")).json()["entries"]
    assert [(e["actor"], e["key"]) for e in entries if e["action"] == "budgets changed"] == [("root", "budgets")]


async def test_a_shared_group_budget_counts_every_member(app: RunningApp, scripted_provider: ScriptedProvider
                                                        ) -> None:
    scripted_provider.always(openai_stream(["Hello", " there"]))
    root = app.client("root")
    budgets = {"groups": {"students": {"tokens": 10, "period": "month", "shared": True}}}
    assert (await root.put("/admin/budgets", json={"budgets": budgets})).status_code == 200
    await answer(app, "alice", "one")
    await answer(app, "bob", "two")  # 9 of 10 used before: still allowed
    sid, _ = await new_chat(app.client("alice"), "three")
    refused = await app.client("alice").get("/chat/generate", params={"sessionId": sid})
    assert refused.json()["code"] == "budget_exceeded" and 'The group "students"' in refused.json()["error"]
    used = (await root.get("/admin/budgets")).json()["used"]
    assert used == [{"kind": "group", "name": "students", "used": 18, "tokens": 10, "period": "month",
                     "resetsAt": used[0]["resetsAt"]}]


async def test_bad_budgets_are_refused_whole_and_admin_routes_are_hidden_from_users(app: RunningApp) -> None:
    root = app.client("root")
    bad = await root.put("/admin/budgets", json={"budgets": {"users": {"alice": {"tokens": "lots"}}}})
    assert bad.status_code == 400 and "alice" in bad.json()["error"]
    zone = await root.put("/admin/budgets", json={"budgets": {}, "timezone": "Mars/Olympus"})
    assert zone.status_code == 400
    for path in ("/admin/usage", "/admin/usage.csv", "/admin/activity", "/admin/budgets", "/admin/audit"):
        assert (await app.client("alice").get(path)).status_code == 404, path
        assert (await root.get(path)).status_code == 200, path
