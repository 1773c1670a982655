"""Export to Files on the real Nextcloud: written over WebDAV as the user, read back by that user, never elsewhere."""

from __future__ import annotations

import json
import re

import httpx

from tests.support.nextcloud_real.client import PROXY, new_message, new_session, poll_answer
from tests.support.nextcloud_real.plugin import RealStack
from tests.support.nextcloud_real.provider import marker

FOLDER = "Chat exports"
PROPFIND_FILEID = (b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
                   b"<d:prop><oc:fileid/></d:prop></d:propfind>")


def dav(user: str, path: str) -> str:
    return f"/remote.php/dav/files/{user}/{path.lstrip('/')}"


async def export(c: httpx.AsyncClient, session_id: int, fmt: str = "markdown") -> httpx.Response:
    """What the conversation's export menu sends for "Save to Files"."""
    return await c.post(f"{PROXY}/chat/export_to_files", json={"sessionId": session_id, "format": fmt})


async def file_id(c: httpx.AsyncClient, user: str, path: str) -> int:
    r = await c.request("PROPFIND", dav(user, path), content=PROPFIND_FILEID, headers={"Depth": "0"})
    assert r.status_code == 207, r.text[:300]
    match = re.search(r"<oc:fileid>(\d+)</oc:fileid>", r.text)
    assert match, r.text[:300]
    return int(match.group(1))


async def dav_names(c: httpx.AsyncClient, user: str, folder: str) -> list[str]:
    """The names in ``folder`` of ``user``'s files ([] when it does not exist)."""
    r = await c.request("PROPFIND", dav(user, folder), headers={"Depth": "1"})
    if r.status_code == 404:
        return []
    assert r.status_code == 207, r.text[:300]
    hrefs = re.findall(r"<d:href>([^<]+)</d:href>", r.text)
    return sorted(httpx.URL(h).path.rstrip("/").rsplit("/", 1)[-1] for h in hrefs[1:])


async def test_a_conversation_is_saved_into_the_users_files_and_read_back(real_nc: RealStack) -> None:
    await real_nc.settled()
    alice = real_nc.as_user("alice")
    mark = marker()
    sid = await new_session(alice)
    hid = await new_message(alice, sid, f"What is in the report? {mark}")
    assert (await poll_answer(alice, sid, hid)).final["status"] == "done"
    r = await alice.put(f"{PROXY}/chat/update_session", json={"sessionId": sid, "title": f"Export {mark}"})
    assert r.status_code == 200, r.text  # a title the user gave: the file is named after it

    r = await export(alice, sid)
    assert r.status_code == 200, r.text
    saved = r.json()
    assert saved["path"].startswith(f"/{FOLDER}/") and saved["path"].endswith(".md"), saved
    assert saved["name"] == saved["path"].rsplit("/", 1)[-1] and mark in saved["name"]
    # Read back over WebDAV as alice: the active branch as Markdown, the question and the provider's answer.
    got = await alice.get(dav("alice", saved["path"]))
    assert got.status_code == 200, got.status_code
    text = got.text
    assert f"What is in the report? {mark}" in text and "Hello from the scripted provider." in text
    # The link's id is the file's own (WebDAV's oc:fileid), so /f/<fileId> opens it.
    assert saved["fileId"] == await file_id(alice, "alice", saved["path"])

    # Never over an existing file: a second export takes the next free name; JSON is JSON.
    again = (await export(alice, sid, "json")).json()
    assert again["path"] != saved["path"] and again["path"].endswith(".json")
    data = json.loads((await alice.get(dav("alice", again["path"]))).text)
    assert [m["role"] for m in data["messages"]] == ["human", "assistant"]
    assert data["messages"][0]["content"] == f"What is in the report? {mark}"
    twice = (await export(alice, sid)).json()
    assert twice["path"] not in (saved["path"], again["path"])
    if twice["name"].replace(" (2)", "") == saved["name"]:  # the same minute: the same name, numbered
        assert twice["path"].endswith(" (2).md")
    assert (await alice.get(dav("alice", saved["path"]))).text == text  # the first one is untouched


async def test_nobody_exports_into_someone_elses_files(real_nc: RealStack) -> None:
    await real_nc.settled()
    alice, bob = real_nc.as_user("alice"), real_nc.as_user("bob")
    mark = marker()
    sid = await new_session(alice, f"Alice only {mark}")
    hid = await new_message(alice, sid, f"Private {mark}")
    assert (await poll_answer(alice, sid, hid)).final["status"] == "done"
    before = await dav_names(alice, "alice", FOLDER)
    bobs_before = await dav_names(bob, "bob", FOLDER)

    # Bob cannot export alice's conversation: not into his Files, and certainly not into hers.
    for fmt in ("markdown", "json"):
        r = await export(bob, sid, fmt)
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), r.text
        assert mark not in r.text
    assert await dav_names(alice, "alice", FOLDER) == before
    assert await dav_names(bob, "bob", FOLDER) == bobs_before

    # His own conversation lands in his own Files, which alice cannot read.
    bsid = await new_session(bob, f"Bob's {mark}")
    bhid = await new_message(bob, bsid, f"Bob asks {mark}")
    assert (await poll_answer(bob, bsid, bhid)).final["status"] == "done"
    saved = (await export(bob, bsid)).json()
    assert (await bob.get(dav("bob", saved["path"]))).status_code == 200
    assert await dav_names(alice, "alice", FOLDER) == before
    assert (await alice.get(dav("bob", saved["path"]))).status_code in (401, 403, 404)
