"""The coordination the app runs with (chat/coordination.py): per-user limits on starting generations, a start
rate and a number of concurrent answers, each a 429 with a readable message and Retry-After, on every route that
can start one, and never for other users. The coordinators themselves: tests/store/test_coordination_*.py."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.support.appserver import API_KEY, AppFactory, RunningApp
from tests.support.chat import new_chat, read_stream, text_of, wait_done
from tests.support.faults import healthy, route_by_prompt
from tests.support.scripted_provider import ScriptedProvider, error_response, openai_stream


def assert_limited(r: httpx.Response, code: str, says: str, retry_after: tuple[int, int]) -> None:
    assert r.status_code == 429, (r.status_code, r.text)
    body = r.json()
    assert body["code"] == code and says in body["error"], body
    assert retry_after[0] <= int(r.headers["retry-after"]) <= retry_after[1], r.headers.get("retry-after")


async def _answers(client: httpx.AsyncClient, sid: int) -> list[dict[str, Any]]:
    return [m for m in (await client.get("/chat/messages", params={"sessionId": sid})).json()
            if m["role"] == "assistant"]


async def test_start_rate_limit_per_user(app_factory: AppFactory, scripted_provider: ScriptedProvider) -> None:
    route_by_prompt(scripted_provider, {"q": healthy(["fine"])})
    app: RunningApp = await app_factory(STREAMING_API_URL=scripted_provider.chat_url, STREAMING_API_KEY=API_KEY,
                                        MAX_STARTS_PER_MINUTE="3", MAX_CONCURRENT_PER_USER="10")
    alice, bob = app.client("alice"), app.client("bob")
    chats = [await new_chat(alice, f"q{i}") for i in range(5)]
    for sid, _mid in chats[:3]:
        task = (await alice.get("/chat/generate", params={"sessionId": sid})).json()["taskId"]
        await wait_done(alice, sid, task)
    sid, mid = chats[3]
    says = "Too many answers started in the last minute"
    # Every route that starts a generation refuses the fourth start within the minute.
    for r in (await alice.get("/chat/generate", params={"sessionId": sid}),
              await alice.post("/chat/generate", json={"sessionId": sid}),
              await alice.get("/chat/stream", params={"sessionId": sid, "messageId": mid}),
              await alice.get("/chat/poll", params={"sessionId": sid, "messageId": mid, "timeout": 0}),
              await alice.get("/chat/generate_title", params={"sessionId": chats[0][0]})):
        assert_limited(r, "rate_limited", says, (50, 60))
    # A refused regeneration keeps the answer it would have replaced.
    old = (await _answers(alice, chats[0][0]))[0]
    r = await alice.get("/chat/regenerate", params={"sessionId": chats[0][0], "messageId": old["id"]})
    assert_limited(r, "rate_limited", says, (50, 60))
    assert [a["id"] for a in await _answers(alice, chats[0][0])] == [old["id"]]
    # Nothing was started or half-created for the refused requests.
    assert await _answers(alice, sid) == [] and app.services.generations.active == 0
    assert len(scripted_provider.requests) == 3
    # Other users have their own budget.
    bsid, bmid = await new_chat(bob, "q bob")
    assert text_of(await read_stream(bob, {"sessionId": bsid, "messageId": bmid})) == "fine"
    # Attaching to an answer that exists is not a start: reading it again is never limited.
    again = await read_stream(alice, {"sessionId": chats[0][0], "messageId": chats[0][1]})
    assert text_of(again) == "fine"


async def test_title_generations_count_against_the_start_rate(
        app_factory: AppFactory, scripted_provider: ScriptedProvider) -> None:
    route_by_prompt(scripted_provider, {"q": healthy(["fine"])})
    app = await app_factory(STREAMING_API_URL=scripted_provider.chat_url, STREAMING_API_KEY=API_KEY,
                            MAX_STARTS_PER_MINUTE="2")
    alice = app.client("alice")
    sid, mid = await new_chat(alice, "q")
    await read_stream(alice, {"sessionId": sid, "messageId": mid})
    assert (await alice.get("/chat/generate_title", params={"sessionId": sid})).status_code == 200
    for _ in range(200):
        r = await alice.get("/chat/check_title_generation", params={"taskId": sid, "sessionId": sid})
        if r.status_code == 200:
            break
        await asyncio.sleep(0.02)
    assert r.json() == {"sessionTitle": "fine"}
    # Two starts used (an answer and a title): titles cost a provider request too, so a third is refused.
    assert_limited(await alice.get("/chat/generate_title", params={"sessionId": sid}),
                   "rate_limited", "Too many answers started", (50, 60))
    # Streaming the title attaches to the one that exists: that is not a start, so it is not refused.
    assert (await alice.get("/chat/stream", params={"sessionId": sid, "title": 1})).status_code == 200
    titles = [r for r in scripted_provider.requests if "title" in r.json["messages"][0]["content"]]
    assert len(titles) == 1 and len(scripted_provider.requests) == 2


async def test_concurrent_generations_limit_per_user(app_factory: AppFactory,
                                                    scripted_provider: ScriptedProvider) -> None:
    slow = openai_stream([f"s{i} " for i in range(100)], delay=0.1)  # 10 s: still running while we test
    route_by_prompt(scripted_provider, {"slow": slow, "fails": error_response(500, {"error": "boom"}),
                                        "quick": healthy(["quick"])})
    app = await app_factory(STREAMING_API_URL=scripted_provider.chat_url, STREAMING_API_KEY=API_KEY,
                            MAX_CONCURRENT_PER_USER="2", MAX_STARTS_PER_MINUTE="0", shutdown_grace=1)
    alice, bob = app.client("alice"), app.client("bob")
    running = [await new_chat(alice, "slow one"), await new_chat(alice, "slow two")]
    for sid, _ in running:
        assert (await alice.get("/chat/generate", params={"sessionId": sid})).status_code == 200
    third_sid, third_mid = await new_chat(alice, "quick three")
    says = "You already have 2 answers being generated; wait for one to finish"
    for r in (await alice.get("/chat/generate", params={"sessionId": third_sid}),
              await alice.get("/chat/stream", params={"sessionId": third_sid, "messageId": third_mid}),
              await alice.get("/chat/poll", params={"sessionId": third_sid, "messageId": third_mid, "timeout": 0})):
        assert_limited(r, "too_many_generations", says, (5, 5))
    assert await _answers(alice, third_sid) == []
    # Another user is not limited by alice's answers.
    bsid, bmid = await new_chat(bob, "quick for bob")
    assert text_of(await read_stream(bob, {"sessionId": bsid, "messageId": bmid})) == "quick"
    # Stopping one of alice's answers frees its slot at once.
    stop = await alice.post("/chat/stop", json={"sessionId": running[0][0], "messageId": running[0][1]})
    assert stop.json()["message"]["status"] == "cancelled"
    assert text_of(await read_stream(alice, {"sessionId": third_sid, "messageId": third_mid})) == "quick"
    # A failed answer frees its slot too (it does not stay counted as running).
    fsid, fmid = await new_chat(alice, "fails")
    assert "error" in (await read_stream(alice, {"sessionId": fsid, "messageId": fmid}))[-1][1]
    last_sid, last_mid = await new_chat(alice, "quick again")
    assert text_of(await read_stream(alice, {"sessionId": last_sid, "messageId": last_mid})) == "quick"
    await alice.post("/chat/stop", json={"sessionId": running[1][0], "messageId": running[1][1]})
    assert app.services.generations.active == 0
