"""Every route the UI calls, through the real stock AppAPI proxy with an app password, as the browser sends it."""

from __future__ import annotations

import asyncio

from tests.support.nextcloud_real.client import PROXY, new_message, new_session, poll_answer, ui_verb
from tests.support.nextcloud_real.plugin import RealStack
from tests.support.nextcloud_real.provider import marker


async def test_session_and_message_routes(real_nc: RealStack) -> None:
    c = real_nc.as_user("alice")
    await real_nc.settled()
    mark = marker()
    sid = await new_session(c)
    r = await c.get(f"{PROXY}/chat/sessions")
    assert r.status_code == 200 and sid in [s["id"] for s in r.json()]
    hid = await new_message(c, sid, f"Say hello {mark}")
    run = await poll_answer(c, sid, hid)
    assert run.final["status"] == "done" and run.text == "Hello from the scripted provider."
    aid = run.final["messageId"]

    r = await c.get(f"{PROXY}/chat/messages", params={"sessionId": sid})
    assert r.status_code == 200
    assert [(m["role"], m["content"]) for m in r.json()] == [
        ("human", f"Say hello {mark}"), ("assistant", "Hello from the scripted provider.")]
    r = await c.get(f"{PROXY}/chat/message", params={"sessionId": sid, "messageId": aid})
    assert r.status_code == 200 and r.json()["status"] == "done"
    r = await c.get(f"{PROXY}/chat/check_session", params={"sessionId": sid})
    assert r.status_code == 200 and r.json()["messageTaskId"] is None
    r = await c.get(f"{PROXY}/chat/check_generation", params={"sessionId": sid, "taskId": aid})
    assert r.status_code == 200 and r.json()["content"] == "Hello from the scripted provider."
    r = await c.get(f"{PROXY}/chat/config")
    assert r.status_code == 200 and r.json()["delivery"]["mode"] == "poll"

    # Title: the UI starts it with POST and polls check_title_generation.
    r = await c.post(f"{PROXY}/chat/generate_title", json={"sessionId": sid})
    assert r.status_code == 200, r.text
    title = None
    for _ in range(100):
        r = await c.get(f"{PROXY}/chat/check_title_generation", params={"sessionId": sid, "taskId": sid})
        if r.status_code == 200:
            title = r.json()["sessionTitle"]
            break
        assert r.status_code == 417, r.text
        await asyncio.sleep(0.1)
    assert title == "Scripted title"

    # Regenerate (GET, as the UI sends it) writes a new version of the answer, shown instead of the old one,
    # which is kept one arrow away; generate (POST) answers the last question.
    r = await c.get(f"{PROXY}/chat/regenerate", params={"sessionId": sid, "messageId": aid})
    assert r.status_code == 200, r.text
    new_aid = r.json()["messageId"]
    assert new_aid != aid
    again = await poll_answer(c, sid, hid)
    assert again.text == "Hello from the scripted provider."
    r = await c.get(f"{PROXY}/chat/message", params={"sessionId": sid, "messageId": aid})
    assert r.status_code == 200 and r.json()["sibling_ids"] == [aid, new_aid]
    r = await c.get(f"{PROXY}/chat/messages", params={"sessionId": sid})
    assert [m["id"] for m in r.json()] == [hid, new_aid]

    hid2 = await new_message(c, sid, f"And again {mark}")
    r = await c.post(f"{PROXY}/chat/generate", json={"sessionId": sid})
    assert r.status_code == 200, r.text
    assert (await poll_answer(c, sid, hid2)).final["status"] == "done"

    # Stop after the end is a no-op that still answers the message.
    r = await c.post(f"{PROXY}/chat/stop", json={"sessionId": sid, "messageId": hid2})
    assert r.status_code == 200 and r.json()["message"]["status"] == "done"


async def test_rename_uses_a_verb_the_real_proxy_routes(real_nc: RealStack) -> None:
    """Issue 11 defect 1: the UI renamed with PATCH, which AppAPI's proxy refuses (405) before the app sees it."""
    c = real_nc.as_user("alice")
    sid = await new_session(c, "Old title")
    verb = ui_verb("/chat/update_session")
    r = await c.request(verb, f"{PROXY}/chat/update_session", json={"sessionId": sid, "title": "New title"})
    assert r.status_code == 200, f"{verb} /chat/update_session through the proxy: {r.status_code}"
    r = await c.get(f"{PROXY}/chat/sessions")
    assert {s["id"]: s["title"] for s in r.json()}[sid] == "New title"


async def test_patch_never_reaches_the_app(real_nc: RealStack) -> None:
    """The platform fact behind defect 1: the stock proxy answers PATCH itself, 405 with an HTML page."""
    c = real_nc.as_user("alice")
    sid = await new_session(c, "Keep me")
    r = await c.patch(f"{PROXY}/chat/update_session", json={"sessionId": sid, "title": "Changed"})
    assert r.status_code == 405
    assert r.headers["content-type"].startswith("text/html")
    r = await c.get(f"{PROXY}/chat/sessions")
    assert {s["id"]: s["title"] for s in r.json()}[sid] == "Keep me"


async def test_delete_message_and_session(real_nc: RealStack) -> None:
    c = real_nc.as_user("alice")
    await real_nc.settled()
    sid = await new_session(c)
    hid = await new_message(c, sid, f"Delete me {marker()}")
    aid = (await poll_answer(c, sid, hid)).final["messageId"]
    # As src/api.js sends them: the ids in the body and in the query string.
    r = await c.request("DELETE", f"{PROXY}/chat/delete_message", json={"sessionId": sid, "messageId": aid},
                        params={"sessionId": sid, "messageId": aid})
    assert r.status_code == 200, r.text
    r = await c.get(f"{PROXY}/chat/messages", params={"sessionId": sid})
    assert [m["id"] for m in r.json()] == [hid]
    r = await c.request("DELETE", f"{PROXY}/chat/delete_session", json={"sessionId": sid}, params={"sessionId": sid})
    assert r.status_code == 200, r.text
    r = await c.get(f"{PROXY}/chat/sessions")
    assert sid not in [s["id"] for s in r.json()]
    r = await c.get(f"{PROXY}/chat/messages", params={"sessionId": sid})
    assert r.status_code == 404


async def test_static_bundle_through_the_proxy(real_nc: RealStack) -> None:
    """The script and style AppAPI puts on the embedded page load through the proxy for a user."""
    c = real_nc.as_user("alice")
    for path, kind in (("js/assistant_stream-main.js", "javascript"), ("js/assistant_stream-main.css", "css")):
        r = await c.get(f"{PROXY}/{path}")
        assert r.status_code == 200, path
        assert kind in r.headers["content-type"]
        assert len(r.content) > 1000
