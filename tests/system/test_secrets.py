"""The API key and APP_SECRET never leave: not in an HTTP response, an SSE event, the initial state, a log
line or an error message. Distinctive secrets are set, the app is driven through the scenarios of the
whole suite (including providers that echo the key back), and everything captured is searched.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import signal
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.appserver import AppFactory, RunningApp, appapi_headers, spawn_app
from tests.support.chat import new_chat, wait_done
from tests.support.faults import prompt_of, route_by_prompt
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.ports import free_port
from tests.support.scripted_provider import (
    DROP,
    ScriptedProvider,
    ScriptedResponse,
    chat_chunk,
    error_response,
    openai_stream,
    sse,
)
from tests.support.sse import parse_events

KEY = "sk-proj-LEAKCANARY-7d1e9b2c4f6a8e0d3b5c7a9f1e2d4c6b"
APP_SECRET = "app-secret-LEAKCANARY-5f3e1d9c7b5a3f1e9d7c5b3a1f9e7d5c"
ROOT = Path(__file__).resolve().parents[2]


def variants(secret: str) -> list[str]:
    """The forms a secret could take on its way out: as is, URL-quoted, JSON-escaped, in base64 (alone
    or as AppAPI's "user:secret"), and its distinctive middle part alone (a truncated echo)."""
    out = {secret, urllib.parse.quote(secret, safe=""), json.dumps(secret)[1:-1], secret[8:40]}
    for prefix in ("", "alice:", "admin:", ":"):
        out.add(base64.b64encode((prefix + secret).encode()).decode().rstrip("="))
    return sorted(out)


class Haystack:
    """Everything the outside world got to see, labelled by where it came from."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, where: str, text: str) -> None:
        self.items.append((where, text))

    def response(self, r: httpx.Response, body: str | None = None) -> None:
        headers = "\n".join(f"{k}: {v}" for k, v in r.headers.items())
        self.add(f"{r.request.method} {r.request.url.path} -> {r.status_code}", headers + "\n" + (body or r.text))

    def leaks(self) -> list[str]:
        found = []
        for secret in (KEY, APP_SECRET):
            for form in variants(secret):
                found += [f"{form[:12]}... in {where}" for where, text in self.items if form in text]
        return found


def echoing_provider_faults() -> dict[str, ScriptedResponse]:
    """Provider answers that put the key into what they return (the provider never sees APP_SECRET)."""
    role = sse(chat_chunk("", role="assistant"))
    return {
        "echo-401": error_response(401, {"error": {"message": f"Incorrect API key provided: {KEY}.",
                                                    "type": "invalid_request_error", "code": "invalid_api_key"}}),
        "echo-403-html": error_response(403, f"<html><body>Forbidden for key {KEY}</body></html>",
                                        content_type="text/html"),
        "echo-404": error_response(404, {"detail": f"model not found for Bearer {KEY}"}),
        "echo-429": error_response(429, {"error": f"quota of {KEY} exhausted"}, headers={"Retry-After": "1"}),
        "echo-500-text": error_response(500, f"upstream said: Authorization: Bearer {KEY}"),
        "echo-inband": ScriptedResponse(body=[role, sse(chat_chunk("partial ")),
                                              sse({"error": {"message": f"key {KEY} revoked mid-stream"}})]),
        "echo-event-error": ScriptedResponse(body=[role, f"event: error\ndata: bad key {KEY}\n\n".encode()]),
        "echo-malformed": ScriptedResponse(body=[role, f"data: {{not json {KEY}\n\n".encode()]),
        "echo-html-200": ScriptedResponse(body=[f"<html>login with {KEY}</html>".encode()],
                                          headers={"Content-Type": "text/html"}, framing="length"),
        "echo-drop": ScriptedResponse(body=[role, sse(chat_chunk("text then drop")), DROP]),
    }


@pytest.fixture
def canary_nextcloud() -> Iterator[NextcloudDouble]:
    """A Nextcloud double registered with the distinctive APP_SECRET."""
    double = NextcloudDouble(app_secret=APP_SECRET)
    double.start()
    yield double
    double.stop()


def client(app: RunningApp, user: str, secret: str = APP_SECRET) -> httpx.AsyncClient:
    c = httpx.AsyncClient(base_url=app.url, headers=appapi_headers(user, secret), timeout=20, trust_env=False)
    app.clients.append(c)
    return c


async def stream_text(c: httpx.AsyncClient, hay: Haystack, params: dict[str, Any]) -> list[dict[str, Any]]:
    async with c.stream("GET", "/chat/stream", params=params) as r:
        body = (await r.aread()).decode()
    hay.response(r, body)
    return [payload for _id, payload in parse_events(body)]


async def test_secrets_never_leave_the_app_in_process(
        app_factory: AppFactory, canary_nextcloud: NextcloudDouble, scripted_provider: ScriptedProvider,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level: httpx, httpcore, nc_py_api, uvicorn, ours
    nc = canary_nextcloud
    nc.set_admin("admin")
    nc.set_appconfig("streaming_api_key", KEY, sensitive=True)
    faults = echoing_provider_faults()
    route_by_prompt(scripted_provider, {**faults, "fine": openai_stream(["a ", "fine ", "answer"])})
    # The test connection lists models, then streams a probe ("Say OK.") that is refused echoing the key.
    scripted_provider.on("GET", "/v1/models", error_response(401, {"error": {"message": f"bad key {KEY}"}}))
    route_by_prompt(scripted_provider, {"Say OK": faults["echo-401"]})
    app = await app_factory(nextcloud_url=nc.url, APP_SECRET=APP_SECRET, config_ttl=0.2,
                            STREAMING_API_URL=scripted_provider.chat_url,
                            STREAMING_PUBLIC_URL="https://cloud.example.com/assistant-stream")
    hay = Haystack()
    appapi, alice, admin = client(app, ""), client(app, "alice"), client(app, "admin")

    # AppAPI's lifecycle: init, enable (publishes the initial state and the admin form), heartbeat.
    for r in (await appapi.post("/init"), await appapi.put("/enabled", params={"enabled": 1}),
              await app.anonymous().get("/heartbeat")):
        hay.response(r)
        assert r.status_code == 200, r.text
    async with asyncio.timeout(10):
        while nc.init_status["init"] != 100:
            await asyncio.sleep(0.02)
    hay.add("initial state", json.dumps({"/".join(k): v for k, v in nc.initial_states.items()}, ensure_ascii=False))
    hay.add("settings form", json.dumps(nc.settings_forms, ensure_ascii=False))
    assert nc.initial_states and nc.settings_forms

    # A good answer, read every way a client can.
    for c in (alice, admin):
        r = await c.get("/chat/config")
        hay.response(r)
    assert r.json()["isAdmin"] is True
    sid, mid = await new_chat(alice, "fine question")
    events = await stream_text(alice, hay, {"sessionId": sid, "messageId": mid})
    assert events[-1]["done"] is True
    answer = events[0]["messageId"]
    for r in (await alice.get("/chat/poll", params={"sessionId": sid, "messageId": mid, "timeout": 0}),
              await alice.get("/chat/poll", params={"sessionId": sid, "taskId": answer, "timeout": 0}),
              await alice.get("/chat/check_generation", params={"sessionId": sid, "taskId": answer}),
              await alice.get("/chat/messages", params={"sessionId": sid}),
              await alice.get("/chat/sessions"),
              await alice.get("/chat/check_session", params={"sessionId": sid}),
              await alice.get("/openapi.json")):
        hay.response(r)
    token = await alice.post("/chat/stream_token", json={"sessionId": sid, "messageId": mid})
    hay.response(token)
    r = await app.anonymous().get("/chat/stream", params={"sessionId": sid, "messageId": mid,
                                                          "token": token.json()["token"]})
    hay.response(r)
    assert r.status_code == 200

    # Providers that echo the key back, before and during an answer: every error path a user can see.
    for name in faults:
        fsid, fmid = await new_chat(alice, f"{name} question")
        events = await stream_text(alice, hay, {"sessionId": fsid, "messageId": fmid})
        assert "error" in events[-1], (name, events[-1])
        failed = events[-1]["message"]["id"]
        for r in (await alice.get("/chat/check_generation", params={"sessionId": fsid, "taskId": failed}),
                  await alice.get("/chat/poll", params={"sessionId": fsid, "taskId": failed, "timeout": 0}),
                  await alice.get("/chat/message", params={"sessionId": fsid, "messageId": failed}),
                  await alice.get("/chat/generate", params={"sessionId": fsid})):
            hay.response(r)
    # The title generation fails the same way.
    r = await alice.get("/chat/generate_title", params={"sessionId": fsid})
    hay.response(r)
    for _ in range(100):
        r = await alice.get("/chat/check_title_generation", params={"sessionId": fsid, "taskId": fsid})
        if r.status_code != 417:
            break
        await asyncio.sleep(0.02)
    hay.response(r)

    # Admin views: the key only as "set"; the connection test's summary with the echoed key removed.
    status = await admin.get("/admin/status")
    hay.response(status)
    assert status.json()["settings"]["streaming_api_key"] == {"value": "set", "source": "appconfig"}
    test = await admin.post("/admin/test_connection")
    hay.response(test)
    assert test.json()["ok"] is False and test.json()["checks"]["key_accepted"] is False
    for r in (await alice.get("/admin/status"), await alice.post("/admin/test_connection")):
        hay.response(r)
        assert r.status_code == 404

    # Wrong secrets, including ones that contain the real one: refused without echoing either.
    wrong = [APP_SECRET + "x", APP_SECRET[:-1], "x" + APP_SECRET, APP_SECRET.upper(), ""]
    for secret in wrong:
        for verb, path in (("GET", "/chat/sessions"), ("PUT", "/enabled"), ("GET", "/chat/stream")):
            r = await client(app, "alice", secret).request(verb, path, params={"sessionId": 1, "messageId": 1})
            hay.response(r)
            assert r.status_code == 401
    # Nextcloud gone: what the app reports about it names no secret either.
    nc.down()
    app.services.config.invalidate()  # the settings cache expires: the next read finds Nextcloud gone
    for r in (await appapi.put("/enabled", params={"enabled": 1}), await client(app, "bob").get("/chat/config"),
              await admin.get("/admin/status")):
        hay.response(r)
    nc.up()
    for r in (await appapi.put("/enabled", params={"enabled": 0}),):
        hay.response(r)

    hay.add("log", caplog.text)
    hay.add("Nextcloud log (AppAPI log endpoint)", json.dumps(nc.logs))
    # The app's calls into Nextcloud, except app config, where the key is legitimately stored, and the
    # AppAPI authentication header, which legitimately carries APP_SECRET to Nextcloud.
    for call in nc.calls:
        if "/ex-app/config" not in call.path:
            hay.add(f"call to Nextcloud {call.method} {call.path}", json.dumps(call.params) + json.dumps(
                {k: v for k, v in call.headers.items() if k != "authorization-app-api"}))
    # What the provider received, but the Authorization header (where the key belongs).
    for req in scripted_provider.requests:
        hay.add(f"provider request {req.path}", req.body.decode() + json.dumps(
            {k: v for k, v in req.headers.items() if k != "authorization"}))

    # The test really put the secrets in play: used where they belong, echoed at the app, logged around.
    assert any(req.headers.get("authorization") == f"Bearer {KEY}" for req in scripted_provider.requests)
    assert sum(KEY in "".join(p.decode() if isinstance(p, bytes) else "" for p in f.body)
               for f in faults.values()) >= 8
    assert "echo-401" in "".join(prompt_of(r) for r in scripted_provider.requests)
    assert len(caplog.records) > 50 and any(r.levelno == logging.DEBUG for r in caplog.records)
    assert len(hay.items) > 100
    leaks = hay.leaks()
    assert not leaks, leaks[:20]


# --- a real process: its stderr/stdout at DEBUG ----------------------------------------------------


async def spawn_debug(tmp_path: Path, env_extra: dict[str, str], port: int) -> asyncio.subprocess.Process:
    return await spawn_app(tmp_path, port, {"APP_SECRET": APP_SECRET, "LOG_LEVEL": "DEBUG", **env_extra},
                           merge_output=True)


@pytest.fixture
async def drained() -> AsyncIterator[list[asyncio.Task[bytes]]]:
    tasks: list[asyncio.Task[bytes]] = []
    yield tasks
    for t in tasks:
        t.cancel()


async def test_secrets_never_reach_the_process_output_at_debug(
        tmp_path: Path, scripted_provider: ScriptedProvider, drained: list[asyncio.Task[bytes]]) -> None:
    faults = echoing_provider_faults()
    route_by_prompt(scripted_provider, {**faults, "fine": openai_stream(["fine"])})
    port = free_port()
    proc = await spawn_debug(tmp_path, {"STREAMING_API_URL": scripted_provider.chat_url, "STREAMING_API_KEY": KEY,
                                        "STREAMING_PUBLIC_URL": "https://cloud.example.com/s"}, port)
    assert proc.stdout is not None
    output = asyncio.create_task(proc.stdout.read())  # read all along: a full pipe would block the app
    drained.append(output)
    hay = Haystack()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=appapi_headers("alice", APP_SECRET),
                                     trust_env=False, timeout=20) as c:
            sid, mid = await new_chat(c, "fine question")
            events = await stream_text(c, hay, {"sessionId": sid, "messageId": mid})
            assert events[-1]["done"] is True
            token = (await c.post("/chat/stream_token", json={"sessionId": sid, "messageId": mid})).json()["token"]
            async with httpx.AsyncClient(trust_env=False) as anon:
                r = await anon.get(f"http://127.0.0.1:{port}/chat/stream",
                                   params={"sessionId": sid, "messageId": mid, "token": token})
                assert r.status_code == 200
                # The parameter's name percent-encoded (the server decodes it to "token"): still
                # recognised, and still kept out of the access log (issue 16, defect 6).
                for query in (f"token=&tok%65n={token}", f"tok%65n={token}", f"%74%6f%6b%65%6e={token}",
                              f"TOKEN={token}&token={token}"):
                    r = await anon.get(f"http://127.0.0.1:{port}/chat/stream?sessionId={sid}&messageId={mid}&{query}")
                    assert r.status_code == 200, (query, r.status_code)
            for name in faults:
                fsid, fmid = await new_chat(c, f"{name} question")
                events = await stream_text(c, hay, {"sessionId": fsid, "messageId": fmid})
                task = events[-1]["message"]["id"]
                hay.response(await wait_done(c, fsid, task))
            for secret in (APP_SECRET + "x", APP_SECRET[:-1]):
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False,
                                             headers=appapi_headers("alice", secret)) as bad:
                    hay.response(await bad.get("/chat/sessions"))
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) in (0, -signal.SIGTERM)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
    text = (await asyncio.wait_for(output, 10)).decode(errors="replace")
    hay.add("process output", text)
    # It did log at DEBUG, including the failures, the refused logins and the access log with the URL.
    assert "DEBUG" in text and "authentication failed" in text and "rejected the API key" in text
    assert "/chat/stream?" in text and "token=***" in text and token not in text
    leaks = hay.leaks()
    assert not leaks, leaks[:20]
