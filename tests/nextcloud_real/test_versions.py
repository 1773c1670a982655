"""Issue 14 through the real proxy with the verbs the UI sends: versions, Continue, a conversation's options, own
presets; and an admin's connection whose key is stored sensitive in Nextcloud and used for the model users pick."""

from __future__ import annotations

import secrets
import sqlite3
from typing import Any

import httpx

from tests.support.nextcloud_real.client import PROXY, new_message, new_session, poll_answer, ui_verb, wait_for
from tests.support.nextcloud_real.plugin import RealStack
from tests.support.nextcloud_real.provider import marker, messages_of
from tests.support.scripted_provider import openai_stream

APP = "assistant_stream"


async def call(c: httpx.AsyncClient, path: str, body: dict[str, Any], verb: str | None = None) -> httpx.Response:
    return await c.request(verb or ui_verb(path), f"{PROXY}{path}", json=body)


async def shown(c: httpx.AsyncClient, sid: int) -> list[int]:
    return [m["id"] for m in (await c.get(f"{PROXY}/chat/messages", params={"sessionId": sid})).json()]


async def test_versions_continue_options_and_presets(real_nc: RealStack) -> None:
    await real_nc.settled()
    alice = real_nc.as_user("alice")
    mark, cut = marker(), marker()
    real_nc.provider.answer(cut, openai_stream(["Cut ", "off "], finish="length"))
    sid = await new_session(alice)
    hid = await new_message(alice, sid, f"First {mark}")
    aid = (await poll_answer(alice, sid, hid)).final["messageId"]

    # Edit: a new version of the question, answered; the old one stays one arrow away.
    r = await call(alice, "/chat/edit_message", {"sessionId": sid, "messageId": hid, "content": f"Edited {cut}"})
    assert r.status_code == 200, r.text
    edited = r.json()
    assert edited["sibling_ids"] == [hid, edited["id"]]
    run = await poll_answer(alice, sid, edited["id"])
    assert (run.final["status"], run.text) == ("done", "Cut off ")
    cut_id = run.final["messageId"]
    assert await shown(alice, sid) == [edited["id"], cut_id]
    r = await call(alice, "/chat/switch_branch", {"sessionId": sid, "messageId": hid})
    assert r.status_code == 200, r.text
    assert await shown(alice, sid) == [hid, aid]
    r = await call(alice, "/chat/switch_branch", {"sessionId": sid, "messageId": edited["id"]})
    assert r.status_code == 200 and await shown(alice, sid) == [edited["id"], cut_id]

    # Continue: the answer cut off by the length limit grows in place; the model is sent what it wrote so far.
    r = await call(alice, "/chat/continue", {"sessionId": sid, "messageId": cut_id})
    assert r.status_code == 200, r.text
    run = await poll_answer(alice, sid, edited["id"])
    assert run.final["messageId"] == cut_id and run.final["status"] == "done"
    stored = (await alice.get(f"{PROXY}/chat/message", params={"sessionId": sid, "messageId": cut_id})).json()
    assert stored["content"] == "Cut off Cut off "
    last = messages_of(real_nc.provider.for_marker(cut)[-1].request)[-1]
    assert last == {"role": "assistant", "content": "Cut off "}

    # A conversation's own system prompt reaches the model; a saved preset is listed and deleted again.
    prompt = f"Answer like a pirate {mark}"
    r = await call(alice, "/chat/session_options", {"sessionId": sid, "systemPrompt": prompt}, "PUT")
    assert r.status_code == 200 and r.json()["options"]["system_prompt"] == prompt, r.text
    hid2 = await new_message(alice, sid, f"Next {mark}")
    assert (await poll_answer(alice, sid, hid2)).final["status"] == "done"
    sent = messages_of(real_nc.provider.for_marker(f"Next {mark}")[-1].request)
    assert sent[0] == {"role": "system", "content": prompt}
    name = f"Pirate {mark}"
    r = await call(alice, "/chat/preset", {"name": name, "systemPrompt": prompt})
    assert r.status_code == 200, r.text
    own = (await alice.get(f"{PROXY}/chat/presets")).json()["own"]
    [preset] = [p for p in own if p["name"] == name]
    r = await alice.request("DELETE", f"{PROXY}/chat/preset", params={"id": preset["id"]}, json={"id": preset["id"]})
    assert r.status_code == 200, r.text
    assert name not in [p["name"] for p in (await alice.get(f"{PROXY}/chat/presets")).json()["own"]]


def _stored(real_nc: RealStack, key: str) -> tuple[str, int] | None:
    """The app config entry as Nextcloud's database holds it: (value, sensitive)."""
    db = sqlite3.connect(real_nc.nc.root / "data" / "owncloud.db")
    try:
        return db.execute("SELECT configvalue, sensitive FROM oc_appconfig_ex WHERE appid = ? AND configkey = ?",
                          (APP, key)).fetchone()
    finally:
        db.close()


async def test_an_admins_connection_key_is_sensitive_and_its_model_is_offered(real_nc: RealStack) -> None:
    await real_nc.settled()
    admin, alice = real_nc.as_admin, real_nc.as_user("alice")
    before = (await admin.get(f"{PROXY}/admin/connections")).json()["connections"]
    key, mark = "sk-lab-" + secrets.token_urlsafe(16), marker()
    lab = {"id": "lab", "name": "Lab", "url": real_nc.provider.base_url, "models": ["lab-model"], "apiKey": key}
    assert (await alice.put(f"{PROXY}/admin/connections", json={"connections": [*before, lab]})).status_code == 404
    r = await admin.put(f"{PROXY}/admin/connections", json={"connections": [*before, lab]})
    assert r.status_code == 200, r.text
    try:
        assert key not in r.text
        value, sensitive = _stored(real_nc, "connection_lab_api_key") or ("", 0)
        assert sensitive == 1 and value and key not in value  # encrypted at rest, like streaming_api_key

        async def offered() -> bool:
            groups = (await alice.get(f"{PROXY}/chat/models")).json()["connections"]
            return {"id": "lab", "name": "Lab", "models": ["lab-model"]} in groups

        await wait_for(offered, timeout=40, what="alice to be offered the lab model")
        sid = await new_session(alice)
        r = await call(alice, "/chat/session_options", {"sessionId": sid, "connection": "lab", "model": "lab-model"},
                       "PUT")
        assert r.status_code == 200, r.text
        hid = await new_message(alice, sid, f"Ask the lab {mark}")
        run = await poll_answer(alice, sid, hid)
        assert run.final["status"] == "done"
        request = real_nc.provider.for_marker(mark)[-1].request
        assert request.json["model"] == "lab-model" and request.headers["authorization"] == f"Bearer {key}"
        everything = "".join([(await admin.get(f"{PROXY}{p}")).text for p in ("/admin/connections", "/admin/status")])
        assert key not in everything and key not in (await alice.get(f"{PROXY}/chat/models")).text
        r = await call(alice, "/chat/session_options", {"sessionId": sid, "connection": "lab", "model": "not-offered"},
                       "PUT")
        assert (r.status_code, r.json()["code"]) == (400, "model_not_allowed"), r.text
    finally:
        r = await admin.put(f"{PROXY}/admin/connections", json={"connections": before})
        assert r.status_code == 200, r.text
    assert [c["id"] for c in r.json()["connections"]] == [c["id"] for c in before]
