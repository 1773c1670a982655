""""Ask my documents": Nextcloud's context_chat through TaskProcessing (the double answers in the real shape)."""

from __future__ import annotations

import json

from tests.support.chat import wait_done
from tests.support.nextcloud_double import NextcloudDouble, context_chat_source
from tests.support.sse import sse_events


async def documents_app(app_factory, nextcloud: NextcloudDouble, **env: str):
    nextcloud.add_user("alice")
    nextcloud.add_user("admin", groups=["admin"])
    return await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret, **env)


async def test_without_context_chat_the_switch_is_refused_and_the_admin_told_why(
        app_factory, nextcloud: NextcloudDouble) -> None:
    app = await documents_app(app_factory, nextcloud)
    c = app.client("alice")
    state = (await c.get("/chat/documents")).json()
    assert state["available"] is False and "context_chat:context_chat" in state["reason"]
    sid = (await c.put("/chat/new_session", json={})).json()["session"]["id"]
    r = await c.put("/chat/session_options", json={"sessionId": sid, "contextChat": True})
    assert r.status_code == 400 and r.json()["code"] == "not_configured"
    assert "context_chat:context_chat" in r.json()["error"]
    status = (await app.client("admin").get("/admin/status")).json()
    assert status["contextChat"]["available"] is False
    assert "context_chat_backend" in status["contextChat"]["reason"]


async def test_ask_my_documents_answers_with_sources(app_factory, nextcloud: NextcloudDouble) -> None:
    nextcloud.taskprocessing.context_chat = True
    sources = [context_chat_source(nextcloud.url, 42, "Quarterly report.pdf"),
               context_chat_source(nextcloud.url, 42, "Quarterly report.pdf"),  # two chunks of one file
               context_chat_source(nextcloud.url, 7, "Notes.md")]
    nextcloud.taskprocessing.script(output="Revenue grew 12% [Quarterly report.pdf].", sources=sources, delay=0.3)
    app = await documents_app(app_factory, nextcloud)
    c = app.client("alice")
    assert (await c.get("/chat/documents")).json() == {"available": True, "reason": ""}
    sid = (await c.put("/chat/new_session", json={})).json()["session"]["id"]
    r = await c.put("/chat/session_options", json={"sessionId": sid, "contextChat": True})
    assert r.status_code == 200 and r.json()["session"]["context_chat"] is True
    mid = (await c.put("/chat/new_message", json={"sessionId": sid, "role": "human",
                                                  "content": "How did revenue develop?"})).json()["id"]
    events = []
    async with c.stream("GET", "/chat/stream", params={"sessionId": sid, "messageId": mid}) as stream:
        async for _id, event in sse_events(stream):
            events.append(event)
    assert events[0]["engine"] == "context_chat"
    assert "".join(e.get("chunk", "") for e in events) == "Revenue grew 12% [Quarterly report.pdf]."
    final = events[-1]["message"]
    assert json.loads(final["sources"]) == [{"label": "Quarterly report.pdf", "url": "/f/42", "fileId": 42},
                                            {"label": "Notes.md", "url": "/f/7", "fileId": 7}]
    task = nextcloud.taskprocessing.last()
    assert task.user == "alice" and task.type == "context_chat:context_chat"
    assert task.input == {"prompt": "How did revenue develop?", "scopeType": "none", "scopeList": [],
                          "scopeListMeta": ""}
    # Switched off again, the conversation goes back to the chat engine.
    await c.put("/chat/session_options", json={"sessionId": sid, "contextChat": False})
    await c.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": "Thanks"})
    info = (await c.get("/chat/generate", params={"sessionId": sid})).json()
    assert info["engine"] == "taskprocessing"
    assert (await wait_done(c, sid, info["taskId"])).status_code == 200


async def test_partial_results_arrive_progressively(app_factory, nextcloud: NextcloudDouble) -> None:
    nextcloud.taskprocessing.context_chat = True
    # Nextcloud 35 partial output, growing slower than the engine polls (once a second).
    nextcloud.taskprocessing.script(output=None, partial=["Fir", "st, ", "second."], delay=2.6,
                                    partial_interval=1.1, sources=[context_chat_source(nextcloud.url, 3, "a.txt")])
    app = await documents_app(app_factory, nextcloud)
    c = app.client("alice")
    sid = (await c.put("/chat/new_session", json={})).json()["session"]["id"]
    await c.put("/chat/session_options", json={"sessionId": sid, "contextChat": True})
    mid = (await c.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": "q"})).json()["id"]
    chunks = []
    async with c.stream("GET", "/chat/stream", params={"sessionId": sid, "messageId": mid}) as stream:
        async for _id, event in sse_events(stream):
            if "chunk" in event:
                chunks.append(event["chunk"])
            if "done" in event:
                assert json.loads(event["message"]["sources"])[0]["label"] == "a.txt"
    assert "".join(chunks) == "First, second." and len(chunks) >= 2
