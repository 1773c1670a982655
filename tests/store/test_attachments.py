"""Attachments (store/attachments.py): stored before the message, bound in its transaction, per user and session."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from assistant_stream.core.errors import InvalidParameter, NotFound
from assistant_stream.store.storage import Storage
from tests.support.storage import A, B, scalar


async def attach(storage: Storage, user: str, sid: int, name: str = "a.txt", **kw: object) -> dict:
    values = {"source": "upload", "name": name, "mime": "text/plain", "kind": "text", "size": 5, "text": "hello"}
    values.update(kw)
    return await storage.add_attachment(user, sid, **values)


async def test_bound_to_the_message_it_is_sent_with(storage: Storage) -> None:
    sid = (await storage.create_session(A, None, None))["id"]
    first = await attach(storage, A, sid, "notes.md", file_id=42, path="/notes.md")
    assert "text" not in first and first["chars"] == 5
    message = await storage.add_message(A, sid, "human", "Summarise", attachment_ids=[first["id"]])
    chips = json.loads(message["attachments"])
    assert chips == [{"id": first["id"], "name": "notes.md", "kind": "text", "mime": "text/plain", "size": 5,
                      "source": "upload", "fileId": 42, "path": "/notes.md", "chars": 5, "truncated": False}]
    stored = await storage.attachments_for([message["id"]])
    assert [(a["name"], a["text"]) for a in stored[message["id"]]] == [("notes.md", "hello")]
    with pytest.raises(NotFound):  # sent once: neither sent again nor removed alone
        await storage.add_message(A, sid, "human", "again", attachment_ids=[first["id"]])
    with pytest.raises(NotFound):
        await storage.delete_attachment(A, first["id"])


async def test_another_users_or_sessions_attachment_is_not_found(storage: Storage) -> None:
    sid_a = (await storage.create_session(A, None, None))["id"]
    sid_a2 = (await storage.create_session(A, None, None))["id"]
    sid_b = (await storage.create_session(B, None, None))["id"]
    mine = await attach(storage, A, sid_a)
    with pytest.raises(NotFound):
        await storage.add_message(B, sid_b, "human", "x", attachment_ids=[mine["id"]])
    with pytest.raises(NotFound):
        await storage.add_message(A, sid_a2, "human", "x", attachment_ids=[mine["id"]])
    with pytest.raises(NotFound):
        await attach(storage, B, sid_a)  # B cannot attach into A's session
    with pytest.raises(NotFound):
        await storage.delete_attachment(B, mine["id"])
    await storage.delete_attachment(A, mine["id"])


async def test_a_failed_message_leaves_no_half_bound_attachment(storage: Storage, storage_url: str) -> None:
    sid = (await storage.create_session(A, None, None))["id"]
    ok = await attach(storage, A, sid)
    with pytest.raises(NotFound):
        await storage.add_message(A, sid, "human", "x", attachment_ids=[ok["id"], 999_999])
    assert await scalar(storage_url, "SELECT count(*) FROM messages") == 0
    assert await scalar(storage_url, "SELECT message_id FROM attachments WHERE id = :i", i=ok["id"]) is None


async def test_at_most_ten_per_message(storage: Storage) -> None:
    sid = (await storage.create_session(A, None, None))["id"]
    ids = [(await attach(storage, A, sid, f"{i}.txt"))["id"] for i in range(11)]
    with pytest.raises(InvalidParameter):
        await storage.add_message(A, sid, "human", "x", attachment_ids=ids)


async def test_unsent_attachments_expire_and_deleting_the_session_deletes_them(storage: Storage,
                                                                             storage_url: str) -> None:
    sid = (await storage.create_session(A, None, None))["id"]
    old = await attach(storage, A, sid, "old.txt")
    engine = create_async_engine(storage_url)
    async with engine.begin() as conn:  # two days ago
        await conn.execute(text("UPDATE attachments SET created_at = created_at - 172800 WHERE id = :i"),
                           {"i": old["id"]})
    await engine.dispose()
    await attach(storage, A, sid, "new.txt")  # attaching sweeps the user's day-old unsent files
    assert await scalar(storage_url, "SELECT count(*) FROM attachments WHERE id = :i", i=old["id"]) == 0
    sent = await attach(storage, A, sid, "sent.txt", kind="image", data=b"\x89PNG", text="")
    message = await storage.add_message(A, sid, "human", "x", attachment_ids=[sent["id"]])
    assert await storage.attachment_images([sent["id"]]) == {sent["id"]: b"\x89PNG"}
    await storage.delete_session(A, sid)
    assert await storage.attachments_for([message["id"]]) == {}
    assert await scalar(storage_url, "SELECT count(*) FROM attachments") == 0


async def test_documents_switch_per_session(storage: Storage) -> None:
    sid = (await storage.create_session(A, None, None))["id"]
    assert (await storage.get_session(A, sid))["context_chat"] is False
    assert (await storage.set_context_chat(A, sid, True))["context_chat"] is True
    with pytest.raises(NotFound):
        await storage.set_context_chat(B, sid, True)
