"""Process and dependency faults test_process.py does not cover: the database locked or gone for a
while, Nextcloud unreachable, and SIGTERM while a browser is attached to the stream.

(SIGKILL + restart and SIGTERM without readers are in test_process.py.)
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from assistant_stream.store.storage import Storage
from tests.support.appserver import API_KEY, APP_SECRET, AppFactory, RunningApp, appapi_headers, spawn_with_provider
from tests.support.chat import new_chat, read_stream, text_of, wait_done
from tests.support.faults import TcpProxy, healthy, route_by_prompt
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.ports import free_port
from tests.support.scripted_provider import ScriptedProvider
from tests.support.sse import sse_events

WORDS = [f"d{i} " for i in range(30)]
TEXT = "".join(WORDS)


def assert_storage_error(r: httpx.Response, cause: str | None) -> None:
    """503 with a stable code and a Retry-After: a clear, retryable error. ``cause``: what the detail an
    administrator gets names (None: a user who is none is told nothing more)."""
    assert r.status_code == 503, (r.status_code, r.text)
    body = r.json()
    assert body["code"] == "storage_unavailable" and "try again" in body["error"], body
    assert body.get("detail") is None if cause is None else f"({cause})" in body["detail"], body
    assert r.headers["retry-after"] == "2"
    assert "sqlite" not in r.text.lower() and "asyncpg" not in r.text.lower() and "Traceback" not in r.text


# --- SQLite locked by another process ------------------------------------------------------------


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # 5 s per try in production; 200 ms keeps "locked for longer than all retries" a one-second test.
    monkeypatch.setitem(Storage.__init__.__kwdefaults__, "busy_timeout_ms", 200)


async def test_sqlite_locked_briefly_is_retried_and_locked_long_is_a_clear_error(
        app_factory: AppFactory, tmp_path: Path, short_busy_timeout: None, nextcloud: NextcloudDouble) -> None:
    nextcloud.set_admin("alice")  # told the cause
    app = await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret)
    alice = app.client("alice")
    sid, _ = await new_chat(alice, "first")
    db = sqlite3.connect(tmp_path / "data" / "assistant_stream.db", isolation_level=None, timeout=5)
    try:
        # Locked for a moment (a backup tool, a manual sqlite3 shell): the write waits and succeeds.
        db.execute("BEGIN EXCLUSIVE")
        pending = asyncio.create_task(alice.put("/chat/new_message", json={
            "sessionId": sid, "role": "human", "content": "written after the lock"}))
        await asyncio.sleep(0.3)
        db.execute("COMMIT")
        assert (await pending).status_code == 200

        # Locked for longer than every retry: a clear 503, and nothing of the request is in the database.
        db.execute("BEGIN EXCLUSIVE")
        r = await alice.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": "lost?"})
        assert_storage_error(r, "locked")
        r = await alice.put("/chat/new_session", json={"title": "never created"})
        assert_storage_error(r, "locked")
        # Reads go on meanwhile (WAL): the user still sees the conversation.
        assert (await alice.get("/chat/messages", params={"sessionId": sid})).status_code == 200
        db.execute("COMMIT")
    finally:
        db.close()
    contents = [m["content"] for m in (await alice.get("/chat/messages", params={"sessionId": sid})).json()]
    assert contents == ["first", "written after the lock"]
    assert [s["title"] for s in (await alice.get("/chat/sessions")).json()] == ["first"]


async def test_a_failure_between_two_writes_of_one_request_leaves_nothing_half_written(
        chat_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    """new_message with firstHumanMessage (message + title) and regenerate (new version placed and shown) are
    each one transaction: a database error in the second write rolls back the first."""
    route_by_prompt(scripted_provider, {"question": healthy(["an ", "answer"])})
    alice = chat_app.client("alice")
    r = await alice.put("/chat/new_session", json={"title": "kept"})
    sid = r.json()["session"]["id"]
    failing: list[str] = []

    @event.listens_for(chat_app.services.storage.engine.sync_engine, "before_cursor_execute")
    def fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if any(statement.lstrip().upper().startswith(prefix) for prefix in failing):
            raise OperationalError(statement, None, Exception("I/O error (injected)"))

    failing[:] = ["UPDATE SESSIONS SET TITLE"]
    r = await alice.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": "question",
                                                   "firstHumanMessage": True})
    assert_storage_error(r, None)  # alice is no administrator: the cause is not hers to read
    failing[:] = []
    assert (await alice.get("/chat/messages", params={"sessionId": sid})).json() == []
    assert (await alice.get("/chat/sessions")).json()[0]["title"] == "kept"

    # A complete answer, then a regeneration whose new answer cannot be written: the old one stays.
    mid = (await alice.put("/chat/new_message", json={"sessionId": sid, "role": "human",
                                                      "content": "question"})).json()["id"]
    first = await read_stream(alice, {"sessionId": sid, "messageId": mid})
    answer_id = first[-1][1]["message"]["id"]
    failing[:] = ["INSERT INTO MESSAGES"]
    r = await alice.get("/chat/regenerate", params={"sessionId": sid, "messageId": answer_id})
    assert_storage_error(r, None)
    failing[:] = []
    messages = (await alice.get("/chat/messages", params={"sessionId": sid})).json()
    assert [(m["id"], m["content"]) for m in messages] == [(mid, "question"), (answer_id, "an answer")]
    assert chat_app.services.generations.active == 0
    event.remove(chat_app.services.storage.engine.sync_engine, "before_cursor_execute", fail)


# --- PostgreSQL gone for a while -------------------------------------------------------------------


@pytest.fixture
async def pg_proxy(storage_url_pg: str) -> Any:
    port = int(storage_url_pg.rsplit(":", 1)[1].split("/", 1)[0])
    proxy = await TcpProxy(port).up()
    yield proxy, storage_url_pg.replace(f":{port}/", f":{proxy.port}/")
    await proxy.down()


async def test_postgresql_unreachable_for_a_while(app_factory: AppFactory, pg_proxy: Any,
                                                  scripted_provider: ScriptedProvider,
                                                  nextcloud: NextcloudDouble) -> None:
    proxy, url = pg_proxy
    nextcloud.set_admin("alice")  # told the cause
    # A provider is configured, so that starting an answer asks the database first (not Nextcloud).
    app = await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret, DATABASE_URL=url,
                            STREAMING_API_URL=scripted_provider.chat_url, STREAMING_API_KEY=API_KEY)
    alice = app.client("alice")
    sid, _ = await new_chat(alice, "before the outage")
    await proxy.down()
    for r in (await alice.get("/chat/sessions"),
              await alice.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": "lost?"}),
              await alice.get("/chat/generate", params={"sessionId": sid})):
        assert_storage_error(r, "cannot connect")
    await proxy.up()
    # Back without a restart (the pool's dead connections are replaced); nothing was half-written.
    contents = [m["content"] for m in (await alice.get("/chat/messages", params={"sessionId": sid})).json()]
    assert contents == ["before the outage"]
    r = await alice.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": "after"})
    assert r.status_code == 200


async def test_database_gone_when_an_answer_ends_the_answer_is_saved_once_it_is_back(
        app_factory: AppFactory, pg_proxy: Any, scripted_provider: ScriptedProvider) -> None:
    proxy, url = pg_proxy
    route_by_prompt(scripted_provider, {"question": healthy(WORDS, delay=0.05)})
    app = await app_factory(DATABASE_URL=url, STREAMING_API_URL=scripted_provider.chat_url,
                            STREAMING_API_KEY=API_KEY, save_interval=0.2)
    alice = app.client("alice")
    sid, mid = await new_chat(alice, "question")
    events: list[tuple[int | None, dict[str, Any]]] = []
    async with alice.stream("GET", "/chat/stream", params={"sessionId": sid, "messageId": mid}) as r:
        async for item in sse_events(r):
            events.append(item)
            if sum("chunk" in e for _, e in events) == 5:
                await proxy.down()  # the database vanishes in the middle of the answer
    # The text kept streaming; the end could not be saved, and the reader was told so.
    assert text_of(events) == TEXT
    last = events[-1][1]
    assert last["code"] == "storage_unavailable" and "database is unavailable" in last["error"]
    answer_id = events[0][1]["messageId"]
    await asyncio.sleep(0.5)
    await proxy.up()
    # Once the database is back the complete answer is saved, exactly once, as it really ended.
    final = await wait_done(alice, sid, answer_id)
    message = final.json()
    assert final.status_code == 200 and message["status"] == "done" and message["content"] == TEXT
    again = await read_stream(alice, {"sessionId": sid, "messageId": mid})
    assert text_of(again) == TEXT
    messages = (await alice.get("/chat/messages", params={"sessionId": sid})).json()
    assert [(m["role"], m["status"]) for m in messages] == [("human", "done"), ("assistant", "done")]
    assert len(scripted_provider.requests) == 1


# --- Nextcloud unreachable -----------------------------------------------------------------------


async def _nc_app(app_factory: AppFactory, nextcloud: NextcloudDouble) -> RunningApp:
    return await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret, config_ttl=0.1)


def _nc_client(app: RunningApp, nextcloud: NextcloudDouble, user: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=app.url, headers=appapi_headers(user, nextcloud.app_secret), timeout=20,
                               trust_env=False)
    app.clients.append(client)
    return client


async def test_nextcloud_unreachable_settings_come_from_the_last_read(
        app_factory: AppFactory, nextcloud: NextcloudDouble, scripted_provider: ScriptedProvider) -> None:
    route_by_prompt(scripted_provider, {"question": healthy(["from ", "cache"])})
    nextcloud.set_appconfig("streaming_api_url", scripted_provider.chat_url)
    nextcloud.set_appconfig("streaming_api_key", API_KEY, sensitive=True)
    nextcloud.set_appconfig("streaming_model", "model-from-nextcloud")
    app = await _nc_app(app_factory, nextcloud)
    alice = _nc_client(app, nextcloud, "alice")
    sid, mid = await new_chat(alice, "question")
    assert text_of(await read_stream(alice, {"sessionId": sid, "messageId": mid})) == "from cache"
    nextcloud.down()
    app.services.config.invalidate()  # the settings cache expires: the next read finds Nextcloud gone
    sid2, mid2 = await new_chat(alice, "question again")
    events = await read_stream(alice, {"sessionId": sid2, "messageId": mid2})
    assert text_of(events) == "from cache" and events[0][1]["model"] == "model-from-nextcloud"
    sent = scripted_provider.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {API_KEY}" and sent.json["model"] == "model-from-nextcloud"
    config = (await alice.get("/chat/config")).json()
    assert config["engine"] == "stream" and config["isAdmin"] is False


async def test_nextcloud_unreachable_taskprocessing_reports_a_clear_error(
        app_factory: AppFactory, nextcloud: NextcloudDouble) -> None:
    nextcloud.taskprocessing.script(output="Answer from Nextcloud", delay=0.05)
    app = await _nc_app(app_factory, nextcloud)
    alice, bob = _nc_client(app, nextcloud, "alice"), _nc_client(app, nextcloud, "bob")
    sid, mid = await new_chat(alice, "question")
    ok = await read_stream(alice, {"sessionId": sid, "messageId": mid})
    assert text_of(ok) == "Answer from Nextcloud" and ok[0][1]["engine"] == "taskprocessing"
    bsid, bmid = await new_chat(bob, "question")
    nextcloud.down()
    # Alice's engine was known to work a moment ago: the answer starts, and fails with a clear error.
    sid2, mid2 = await new_chat(alice, "question again")
    events = await read_stream(alice, {"sessionId": sid2, "messageId": mid2})
    last = events[-1][1]
    assert last["code"] == "nextcloud_error" and "Nextcloud could not be reached" in last["error"]
    assert last["message"]["status"] == "error" and last["message"]["error"] == last["error"]
    # Bob's availability was never checked: the request itself is refused with the same clear error.
    r = await bob.get("/chat/stream", params={"sessionId": bsid, "messageId": bmid})
    assert r.status_code == 502 and r.json()["code"] == "nextcloud_error"
    assert "Nextcloud could not be reached" in r.json()["error"]
    for text in (r.text, str(events)):
        assert nextcloud.app_secret not in text
    nextcloud.up()
    r = await bob.get("/chat/stream", params={"sessionId": bsid, "messageId": bmid})
    assert r.status_code == 200 and "Answer from Nextcloud" in r.text


# --- SIGTERM with a browser attached --------------------------------------------------------------


async def test_sigterm_lets_an_attached_reader_receive_the_whole_answer(
        tmp_path: Path, scripted_provider: ScriptedProvider) -> None:
    words = [f"t{i} " for i in range(40)]
    scripted_provider.always(healthy(words, delay=0.05))  # 2 s: well within the grace period
    port = free_port()
    proc = await spawn_with_provider(tmp_path, scripted_provider.chat_url, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=appapi_headers("alice"),
                                     trust_env=False, timeout=30) as c:
            sid, mid = await new_chat(c)
            events: list[tuple[int | None, dict[str, Any]]] = []
            async with c.stream("GET", "/chat/stream", params={"sessionId": sid, "messageId": mid}) as r:
                async for item in sse_events(r):
                    events.append(item)
                    if len(events) == 3:
                        proc.send_signal(signal.SIGTERM)
            assert text_of(events) == "".join(words)
            assert events[-1][1]["done"] is True and events[-1][1]["message"]["status"] == "done"
            assert await asyncio.wait_for(proc.wait(), 40) in (0, -signal.SIGTERM)
            stderr = (await proc.stderr.read()).decode()
            assert APP_SECRET not in stderr and "Traceback" not in stderr
            proc = await spawn_with_provider(tmp_path, scripted_provider.chat_url, port)
            message = (await c.get("/chat/messages", params={"sessionId": sid})).json()[-1]
            assert (message["status"], message["content"]) == ("done", "".join(words))
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
