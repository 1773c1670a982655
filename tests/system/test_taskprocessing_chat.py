"""Without streaming_api_url, chat runs through Nextcloud's TaskProcessing (the double), end to end."""

from __future__ import annotations

from tests.support.chat import new_chat, wait_done
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.sse import sse_events


async def fallback_app(app_factory, nextcloud: NextcloudDouble):
    nextcloud.add_user("alice")
    return await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret)


async def test_generate_and_poll_through_taskprocessing(app_factory, nextcloud: NextcloudDouble) -> None:
    nextcloud.taskprocessing.script(output="Bonjour from Nextcloud AI", delay=0.3)
    app = await fallback_app(app_factory, nextcloud)
    c = app.client("alice")
    sid, mid = await new_chat(c, "Say hello in French")
    info = (await c.get("/chat/generate", params={"sessionId": sid})).json()
    assert info["engine"] == "taskprocessing" and info["replyTo"] == mid
    running = await c.get("/chat/check_generation", params={"taskId": info["taskId"], "sessionId": sid})
    assert running.status_code == 417
    final = await wait_done(c, sid, info["taskId"])
    assert final.status_code == 200 and final.json()["content"] == "Bonjour from Nextcloud AI"
    task = nextcloud.taskprocessing.last()
    # Scheduled as the user, with the chat task's input shape.
    assert task.user == "alice" and task.type == "core:text2text:chat" and task.app_id == "assistant_stream"
    assert task.input["input"] == "Say hello in French" and isinstance(task.input["system_prompt"], str)


async def test_stream_and_long_poll_work_the_same_for_both_engines(app_factory, nextcloud: NextcloudDouble) -> None:
    nextcloud.taskprocessing.script(output=None, partial=["Un ", "deux ", "trois"], delay=0.4, partial_interval=0.1)
    app = await fallback_app(app_factory, nextcloud)
    c = app.client("alice")
    sid, mid = await new_chat(c)
    text = ""
    async with c.stream("GET", "/chat/stream", params={"sessionId": sid, "messageId": mid}) as r:
        assert r.status_code == 200
        async for _id, event in sse_events(r):
            text += event.get("chunk", "")
            if "done" in event:
                assert event["message"]["content"] == "Un deux trois"
    assert text == "Un deux trois"
    _, second = await new_chat(c, "again")
    cursor, polled = 0, ""
    sid2 = (await c.get("/chat/sessions")).json()[0]["id"]
    for _ in range(100):
        body = (await c.get("/chat/poll", params={"sessionId": sid2, "messageId": second, "cursor": cursor,
                                                  "timeout": 5})).json()
        polled += body["text"]
        cursor = body["cursor"]
        if body["done"]:
            break
    assert polled == "Un deux trois"


async def test_failed_task_is_a_clear_error(app_factory, nextcloud: NextcloudDouble) -> None:
    nextcloud.taskprocessing.script(output=None, error="The model crashed", delay=0.1)
    nextcloud.taskprocessing.expose_error_message = True
    app = await fallback_app(app_factory, nextcloud)
    nextcloud.set_admin("alice")
    for user, admin in (("alice", True), ("bob", False)):
        c = app.client(user)
        sid, _ = await new_chat(c)
        info = (await c.get("/chat/generate", params={"sessionId": sid})).json()
        r = await wait_done(c, sid, info["taskId"])
        assert r.status_code == 400 and r.json()["message"]["status"] == "error"
        # Nextcloud's own words are the administrator's detail; everyone is told the AI provider failed.
        assert r.json()["error"] == "The AI provider failed" and ("The model crashed" in r.text) is admin


async def test_no_provider_anywhere_is_a_400_naming_both_options(app_factory, nextcloud: NextcloudDouble) -> None:
    nextcloud.taskprocessing.available = False
    app = await fallback_app(app_factory, nextcloud)
    c = app.client("alice")
    sid, _ = await new_chat(c)
    r = await c.get("/chat/generate", params={"sessionId": sid})
    assert r.status_code == 400 and r.json()["code"] == "not_configured"
    assert "streaming_api_url" in r.json()["error"] and "text processing" in r.json()["error"]


async def test_nextcloud_unreachable_is_reported_clearly(app_factory, nextcloud: NextcloudDouble) -> None:
    app = await fallback_app(app_factory, nextcloud)
    c = app.client("alice")
    sid, _ = await new_chat(c)
    nextcloud.down()
    try:
        r = await c.get("/chat/generate", params={"sessionId": sid})
        assert r.status_code in (400, 502)
        assert r.json()["code"] in ("nextcloud_error", "not_configured")
        assert "Nextcloud" in r.json()["error"]
    finally:
        nextcloud.up()
    # Once Nextcloud is back, the same session works: the outage was not remembered as "no provider".
    info = (await c.get("/chat/generate", params={"sessionId": sid})).json()
    assert (await wait_done(c, sid, info["taskId"])).json()["content"] == "Hello from Nextcloud"
