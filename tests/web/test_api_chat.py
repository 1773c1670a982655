"""The Assistant-compatible chat routes against the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from tests.support.appserver import RunningApp
from tests.support.chat import new_chat, wait_done
from tests.support.scripted_provider import ScriptedProvider, openai_stream

WORDS = [f"w{i} " for i in range(12)]


async def test_sessions_crud(chat_app: RunningApp) -> None:
    c = chat_app.client("alice")
    sid, mid = await new_chat(c, "What is the capital of France?")
    sessions = (await c.get("/chat/sessions")).json()
    assert [s["id"] for s in sessions] == [sid]
    assert sessions[0]["title"] == "What is the capital of France?"  # firstHumanMessage sets it
    # PUT is what the UI sends (the stock proxy refuses PATCH); POST and PATCH rename too.
    for verb, title in (("PATCH", "Paris"), ("POST", "Paris, France"), ("PUT", "Paris")):
        r = await c.request(verb, "/chat/update_session", json={"sessionId": sid, "title": title})
        assert r.status_code == 200, verb
        check = (await c.get("/chat/check_session", params={"sessionId": sid})).json()
        assert check == {"messageTaskId": None, "titleTaskId": None, "sessionTitle": title}
    msg = (await c.get("/chat/message", params={"sessionId": sid, "messageId": mid})).json()
    assert msg["content"] == "What is the capital of France?" and msg["role"] == "human"
    assert (await c.request("DELETE", "/chat/delete_session", json={"sessionId": sid})).status_code == 200
    assert (await c.get("/chat/sessions")).json() == []
    assert (await c.get("/chat/messages", params={"sessionId": sid})).status_code == 404


async def test_messages_paging_mirrors_assistant(chat_app: RunningApp) -> None:
    c = chat_app.client("alice")
    sid, first = await new_chat(c, "m0")
    ids = [first]
    for i in range(1, 5):
        r = await c.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": f"m{i}"})
        ids.append(r.json()["id"])
    page = (await c.get("/chat/messages", params={"sessionId": sid, "limit": 2, "cursor": 0})).json()
    assert [m["content"] for m in page] == ["m3", "m4"]  # the newest, oldest first
    older = (await c.get("/chat/messages", params={"sessionId": sid, "limit": 2, "cursor": 2})).json()
    assert [m["content"] for m in older] == ["m1", "m2"]
    r = await c.request("DELETE", "/chat/delete_message", json={"sessionId": sid, "messageId": ids[0]})
    assert r.status_code == 200
    assert len((await c.get("/chat/messages", params={"sessionId": sid, "limit": 20})).json()) == 4


async def test_bad_input_is_400_not_500(chat_app: RunningApp) -> None:
    c = chat_app.client("alice")
    sid, _ = await new_chat(c)
    cases = [
        ("GET", "/chat/messages", {"params": {"sessionId": "abc"}}),
        ("GET", "/chat/messages", {"params": {"sessionId": -1}}),
        ("GET", "/chat/messages", {"params": {"sessionId": sid, "limit": 10**9}}),
        ("GET", "/chat/messages", {"params": {"sessionId": sid, "cursor": -5}}),
        ("GET", "/chat/messages", {"params": {}}),
        ("PUT", "/chat/new_message", {"json": {"sessionId": sid, "role": "human", "content": "   "}}),
        ("PUT", "/chat/new_message", {"json": {"sessionId": sid, "role": "wizard", "content": "x"}}),
        ("PUT", "/chat/new_message", {"content": b"{not json", "headers": {"content-type": "application/json"}}),
        ("PUT", "/chat/new_message", {"json": [1, 2]}),
        ("GET", "/chat/stream", {"params": {"sessionId": sid}}),
        ("GET", "/chat/poll", {"params": {"sessionId": sid, "messageId": 1, "timeout": 1000}}),
    ]
    for verb, path, kw in cases:
        r = await c.request(verb, path, **kw)
        assert r.status_code == 400, (path, kw, r.status_code, r.text)
        body = r.json()
        assert body["error"] and "Traceback" not in r.text
    r = await c.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": "x" * 100_001})
    assert r.status_code == 413


async def test_generate_and_check_generation(chat_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(WORDS, delay=0.02))
    c = chat_app.client("alice")
    sid, mid = await new_chat(c)
    r = await c.get("/chat/generate", params={"sessionId": sid})
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["replyTo"] == mid and info["engine"] == "stream"
    running = await c.get("/chat/check_generation", params={"taskId": info["taskId"], "sessionId": sid})
    assert running.status_code == 417 and running.json()["task_status"] in (1, 2)
    busy = await c.get("/chat/generate", params={"sessionId": sid})
    # The same question again attaches to the running answer instead of starting a second one.
    assert busy.status_code == 200 and busy.json()["taskId"] == info["taskId"]
    final = await wait_done(c, sid, info["taskId"])
    assert final.status_code == 200
    message = final.json()
    assert message["content"] == "".join(WORDS) and message["status"] == "done"
    assert message["finish_reason"] == "stop" and message["completion_tokens"] == len(WORDS)
    assert message["reply_to"] == mid and message["model"] == "test-model"
    sent = scripted_provider.requests[-1].json
    assert sent["stream"] is True and sent["model"] == "test-model"
    assert sent["messages"][-1] == {"role": "user", "content": "Hello there"}


async def test_second_question_while_thinking_is_refused(chat_app: RunningApp,
                                                         scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(WORDS, delay=0.05))
    c = chat_app.client("alice")
    sid, _ = await new_chat(c)
    info = (await c.get("/chat/generate", params={"sessionId": sid})).json()
    second = await c.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": "again"})
    r = await c.get("/chat/stream", params={"sessionId": sid, "messageId": second.json()["id"]})
    assert r.status_code == 400 and r.json()["code"] == "session_already_thinking"
    await wait_done(c, sid, info["taskId"])


async def test_regenerate_replaces_the_answer(chat_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.script(openai_stream(["first"]), openai_stream(["second"]))
    c = chat_app.client("alice")
    sid, mid = await new_chat(c)
    first = (await c.get("/chat/generate", params={"sessionId": sid})).json()
    await wait_done(c, sid, first["taskId"])
    r = await c.get("/chat/regenerate", params={"sessionId": sid, "messageId": first["taskId"]})
    assert r.status_code == 200, r.text
    again = r.json()
    assert again["replyTo"] == mid and again["taskId"] != first["taskId"]
    assert (await wait_done(c, sid, again["taskId"])).json()["content"] == "second"
    contents = [m["content"] for m in (await c.get("/chat/messages", params={"sessionId": sid})).json()]
    assert contents == ["Hello there", "second"]


async def test_title_generation_streams_into_the_session(chat_app: RunningApp,
                                                         scripted_provider: ScriptedProvider) -> None:
    scripted_provider.script(openai_stream(["An answer"]), openai_stream(['"Paris ', 'trip"'], delay=0.05))
    c = chat_app.client("alice")
    sid, _ = await new_chat(c)
    await wait_done(c, sid, (await c.get("/chat/generate", params={"sessionId": sid})).json()["taskId"])
    r = await c.get("/chat/generate_title", params={"sessionId": sid})
    assert r.status_code == 200 and r.json() == {"taskId": sid}
    for _ in range(200):
        r = await c.get("/chat/check_title_generation", params={"taskId": sid, "sessionId": sid})
        if r.status_code == 200:
            break
        assert r.status_code == 417
        await asyncio.sleep(0.02)
    assert r.json() == {"sessionTitle": "Paris trip"}
    prompt = scripted_provider.requests[-1].json["messages"]
    assert "title" in prompt[0]["content"].lower() and "An answer" in prompt[1]["content"]


async def test_not_configured_is_a_clear_400(app_factory) -> None:
    app = await app_factory(TASKPROCESSING_FALLBACK="0")
    c = app.client("alice")
    sid, mid = await new_chat(c)
    for r in (await c.get("/chat/generate", params={"sessionId": sid}),
              await c.get("/chat/stream", params={"sessionId": sid, "messageId": mid})):
        assert r.status_code == 400
        assert r.json()["code"] == "not_configured" and "streaming_api_url" in r.json()["error"]


async def test_a_refused_regeneration_keeps_the_old_answer(app_factory, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(["kept"]))
    app = await app_factory(STREAMING_API_URL=scripted_provider.chat_url, MAX_STARTS_PER_MINUTE="1")
    c = app.client("alice")
    sid, _ = await new_chat(c)
    first = (await c.get("/chat/generate", params={"sessionId": sid})).json()
    await wait_done(c, sid, first["taskId"])
    r = await c.get("/chat/regenerate", params={"sessionId": sid, "messageId": first["taskId"]})
    assert r.status_code == 429 and r.headers["retry-after"]
    contents = [m["content"] for m in (await c.get("/chat/messages", params={"sessionId": sid})).json()]
    assert contents == ["Hello there", "kept"]


async def test_regeneration_refused_for_lack_of_provider_keeps_the_old_answer(
        app_factory, scripted_provider: ScriptedProvider, nextcloud) -> None:
    scripted_provider.always(openai_stream(["kept"]))
    nextcloud.add_user("alice")
    nextcloud.set_appconfig("streaming_api_url", scripted_provider.chat_url)
    nextcloud.set_appconfig("taskprocessing_fallback", "0")
    app = await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret, config_ttl=0.0)
    c = app.client("alice")
    sid, _ = await new_chat(c)
    first = (await c.get("/chat/generate", params={"sessionId": sid})).json()
    await wait_done(c, sid, first["taskId"])
    nextcloud.set_appconfig("streaming_api_url", "")  # the admin removes the provider
    r = await c.get("/chat/regenerate", params={"sessionId": sid, "messageId": first["taskId"]})
    assert r.status_code == 400 and r.json()["code"] == "not_configured"
    contents = [m["content"] for m in (await c.get("/chat/messages", params={"sessionId": sid})).json()]
    assert contents == ["Hello there", "kept"]
