"""Attachments from Nextcloud Files on the real Nextcloud: read over WebDAV as the calling user, never another's."""

from __future__ import annotations

import os

import httpx

from tests.support import docgen
from tests.support.nextcloud_real.client import PROXY, new_session, poll_answer
from tests.support.nextcloud_real.files import put_file
from tests.support.nextcloud_real.plugin import RealStack
from tests.support.nextcloud_real.provider import marker, messages_of


async def attach(c: httpx.AsyncClient, session_id: int, path: str) -> httpx.Response:
    """What the chat's Files picker sends for a chosen file."""
    return await c.post(f"{PROXY}/chat/attach_file", json={"sessionId": session_id, "path": path})


async def test_file_from_files_reaches_the_model_as_the_user(real_nc: RealStack) -> None:
    await real_nc.settled()
    mark = marker()
    name = f"Report-{mark}.pdf"
    await put_file(real_nc, "alice", name, docgen.pdf([[f"Quarterly report {mark}", "Revenue grew by 12 percent"]]))
    c = real_nc.as_user("alice")
    sid = await new_session(c)
    r = await attach(c, sid, f"/{name}")
    assert r.status_code == 200, r.text
    chip = r.json()
    assert (chip["source"], chip["path"], chip["name"], chip["kind"]) == ("files", f"/{name}", name, "text")
    assert isinstance(chip["fileId"], int) and chip["fileId"] > 0 and chip["chars"] > 0
    assert "Quarterly" not in r.text  # the extracted text never goes to the browser
    r = await c.put(f"{PROXY}/chat/new_message", json={"sessionId": sid, "role": "human",
                                                         "content": f"How did revenue develop? {mark}",
                                                         "attachments": [chip["id"]]})
    assert r.status_code == 200, r.text
    run = await poll_answer(c, sid, r.json()["id"])
    assert run.final["status"] == "done", run.final
    sent = [str(m.get("content")) for ex in real_nc.provider.for_marker(mark) for m in messages_of(ex.request)
            if m.get("role") == "user"]
    assert any(f'<file name="{name}">\nQuarterly report {mark}\nRevenue grew by 12 percent' in s for s in sent), sent


async def test_another_users_file_is_refused(real_nc: RealStack) -> None:
    mark = marker()
    await put_file(real_nc, "bob", f"secret-{mark}.txt", f"bob's secret {mark}".encode())
    c = real_nc.as_user("alice")
    sid = await new_session(c)
    # Bob's name for it, and ways out of alice's folder into bob's.
    for path in (f"/secret-{mark}.txt", f"/../bob/files/secret-{mark}.txt", f"../../bob/files/secret-{mark}.txt"):
        r = await attach(c, sid, path)
        assert (r.status_code, r.json()["code"]) in ((404, "not_found"), (400, "invalid_parameter")), (path, r.text)
        assert "bob's secret" not in r.text
    # Bob himself attaches it.
    bob = real_nc.as_user("bob")
    r = await attach(bob, await new_session(bob), f"/secret-{mark}.txt")
    assert r.status_code == 200, r.text


async def test_a_2_gb_file_is_refused_without_being_downloaded(real_nc: RealStack) -> None:
    # A sparse file in alice's data folder, made known to Nextcloud by a scan: 2 GB to WebDAV, no disk used.
    mark = marker()
    folder = real_nc.nc.root / "data" / "alice" / "files"
    target = folder / f"huge-{mark}.txt"
    with target.open("wb") as f:
        f.truncate(2 * 10**9)
    os.chown(target, folder.stat().st_uid, folder.stat().st_gid)
    await real_nc.nc.occ("files:scan", "--path", f"/alice/files/huge-{mark}.txt")
    c = real_nc.as_user("alice")
    sid = await new_session(c)
    r = await attach(c, sid, f"/huge-{mark}.txt")
    assert r.status_code == 413 and r.json()["code"] == "file_too_large", r.text
    assert "2.0 GB" in r.json()["error"]
    # The app is still healthy: an ordinary file attaches right after.
    await put_file(real_nc, "alice", f"ok-{mark}.md", b"# fine")
    r = await attach(c, sid, f"/ok-{mark}.md")
    assert r.status_code == 200, r.text
