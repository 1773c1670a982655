"""Model choice and presets through the HTTP API: the models grouped by connection, a conversation's options reaching
the provider, each answer recording its model, a model not allowed refused with a clear 400, presets per user."""

from __future__ import annotations

import json

import pytest

from tests.support.appserver import API_KEY, AppFactory, RunningApp
from tests.support.chat import new_chat, read_stream
from tests.support.scripted_provider import ScriptedProvider, openai_stream


@pytest.fixture(params=["sqlite", "postgresql"])
async def two_connections(request: pytest.FixtureRequest, app_factory: AppFactory,
                          scripted_provider: ScriptedProvider) -> RunningApp:
    lab = [{"id": "lab", "name": "Lab", "url": scripted_provider.base_url, "models": ["llama", "qwen"]}]
    env = {"STREAMING_API_URL": scripted_provider.chat_url, "STREAMING_API_KEY": API_KEY,
           "STREAMING_MODEL": "test-model", "CONNECTIONS": json.dumps(lab), "CONNECTION_LAB_API_KEY": "sk-lab-77",
           "SYSTEM_PROMPT": "Admin prompt.", "PRESETS": json.dumps([{"id": "brief", "name": "Brief",
                                                                      "system_prompt": "Be brief."}])}
    if request.param == "postgresql":
        env["DATABASE_URL"] = request.getfixturevalue("storage_url_pg")
    return await app_factory(**env)


async def test_a_conversations_model_and_options_reach_the_provider_and_the_answer_records_its_model(
        two_connections: RunningApp, scripted_provider: ScriptedProvider) -> None:
    c = two_connections.client("alice")
    models = (await c.get("/chat/models")).json()
    assert models == {"connections": [{"id": "default", "name": "Default", "models": ["test-model"]},
                                      {"id": "lab", "name": "Lab", "models": ["llama", "qwen"]}],
                      "default": {"connection": "default", "model": "test-model"}}
    scripted_provider.script(openai_stream(["seed"]), openai_stream(["lab"]))
    sid, q1 = await new_chat(c, "first")
    first = (await read_stream(c, {"sessionId": sid, "messageId": q1}))[-1][1]["message"]
    assert (first["model"], first["connection"]) == ("test-model", "default")

    r = await c.put("/chat/session_options", json={"sessionId": sid, "connection": "lab", "model": "qwen",
                                                   "systemPrompt": "Mine.", "temperature": 0, "maxTokens": 50})
    assert r.status_code == 200 and r.json()["options"] == {"connection": "lab", "model": "qwen",
                                                            "system_prompt": "Mine.", "temperature": 0.0,
                                                            "max_tokens": 50}
    assert (r.json()["session"]["model"], r.json()["session"]["context_chat"]) == ("qwen", False)
    q2 = (await c.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": "second"})).json()
    events = await read_stream(c, {"sessionId": sid, "messageId": q2["id"]})
    assert events[0][1]["model"] == "qwen" and events[0][1]["connection"] == "lab"
    second = events[-1][1]["message"]
    assert (second["model"], second["connection"]) == ("qwen", "lab")
    body = scripted_provider.requests[-1]
    assert body.headers["authorization"] == "Bearer sk-lab-77"
    assert (body.json["model"], body.json["temperature"], body.json["max_tokens"]) == ("qwen", 0.0, 50)
    assert body.json["messages"][0] == {"role": "system", "content": "Mine."}
    listed = next(s for s in (await c.get("/chat/sessions")).json() if s["id"] == sid)
    assert (listed["connection"], listed["model"]) == ("lab", "qwen")

    # null sets one option back to the admin's default; what is not sent stays.
    r = await c.put("/chat/session_options", json={"sessionId": sid, "systemPrompt": None})
    assert r.json()["options"]["system_prompt"] is None and r.json()["options"]["model"] == "qwen"
    assert (await c.get("/chat/session_options", params={"sessionId": sid})).json() == r.json()


async def test_a_model_that_is_not_allowed_is_a_clear_400(two_connections: RunningApp) -> None:
    c = two_connections.client("alice")
    sid, _ = await new_chat(c)
    for body in ({"connection": "lab", "model": "gpt-4o"}, {"connection": "nowhere", "model": "llama"}):
        r = await c.put("/chat/session_options", json={"sessionId": sid, **body})
        assert r.status_code == 400 and r.json()["code"] == "model_not_allowed", r.text
        assert body["model"] in r.json()["error"] and "http" not in r.json()["error"]
    for body, code in (({"model": "llama"}, "invalid_parameter"), ({"temperature": 2.5}, "invalid_parameter"),
                       ({"maxTokens": 0}, "invalid_parameter"), ({"systemPrompt": "x" * 20_001}, "too_long")):
        r = await c.put("/chat/session_options", json={"sessionId": sid, **body})
        assert r.status_code in (400, 413) and r.json()["code"] == code, (body, r.text)
    assert (await two_connections.client("bob").put("/chat/session_options", json={
        "sessionId": sid, "temperature": 1})).status_code == 404


async def test_presets_are_shared_by_the_admin_or_a_users_own(two_connections: RunningApp) -> None:
    alice, bob = two_connections.client("alice"), two_connections.client("bob")
    r = await alice.put("/chat/preset", json={"name": "Local", "connection": "lab", "model": "llama",
                                              "temperature": 0.4})
    assert r.status_code == 200, r.text
    mine = r.json()
    assert (mine["name"], mine["model"], mine["temperature"], mine["shared"]) == ("Local", "llama", 0.4, False)
    listed = (await alice.get("/chat/presets")).json()
    assert [p["id"] for p in listed["shared"]] == ["brief"] and [p["id"] for p in listed["own"]] == [mine["id"]]
    assert (await bob.get("/chat/presets")).json()["own"] == []
    assert (await bob.request("DELETE", "/chat/preset", json={"id": mine["id"]})).status_code == 404
    r = await alice.put("/chat/preset", json={"id": mine["id"], "name": "Local, warmer", "temperature": 0.9})
    assert (r.json()["name"], r.json()["model"]) == ("Local, warmer", None)  # a save replaces the whole preset
    bad = await alice.put("/chat/preset", json={"name": "x", "connection": "lab", "model": "gpt-4o"})
    assert bad.status_code == 400 and bad.json()["code"] == "model_not_allowed"
    assert (await alice.request("DELETE", "/chat/preset", json={"id": mine["id"]})).status_code == 200
    assert (await alice.get("/chat/presets")).json()["own"] == []
