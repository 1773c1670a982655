"""Hostile input: schemathesis against the app's own OpenAPI schema (with valid AppAPI auth), then the
inputs a fuzzer rarely builds on its own: sizes at and past every limit, ids that are not ids, Unicode
edge cases, and Markdown/HTML/template injection, which the API must store and return verbatim.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.appserver import API_KEY, AppFactory, RunningApp, appapi_headers
from tests.support.chat import new_chat, read_stream, text_of, wait_done
from tests.support.faults import prompt_of, route_by_prompt
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.scripted_provider import ScriptedProvider, openai_stream

EXAMPLES_PER_OPERATION = 30  # per generation mode; ~1,400 requests, well under two minutes
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ_USER = "fuzzer"


@dataclass
class FuzzStats:
    inputs: int = 0
    server_errors: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    operations: int = 0
    unsendable: int = 0
    real_id_passes: int = 0
    failures: list[str] = field(default_factory=list)


def _fuzz(schema_dict: dict[str, Any], base_url: str, headers: dict[str, str]) -> FuzzStats:
    """Runs in a worker thread (schemathesis calls are blocking; the app lives on the test's loop)."""
    stats = FuzzStats()
    schema = schemathesis.openapi.from_dict(schema_dict)
    # httpx rather than schemathesis' own requests transport: nc_py_api's urllib3-future replaces the
    # urllib3 that requests would use, and schemathesis' connection bookkeeping fails on it.
    http = httpx.Client(timeout=35, trust_env=False)
    for result in schema.get_all_operations():
        operation = result.ok()
        stats.operations += 1
        # Three passes: valid input, invalid input, and valid input aimed at a real conversation (the
        # ids fixed to a fresh session with a question and its answer, everything else generated).
        passes: list[tuple[GenerationMode, dict[str, Any] | None]] = [
            (GenerationMode.POSITIVE, None), (GenerationMode.NEGATIVE, None), (GenerationMode.POSITIVE, {})]
        for mode, fixed in passes:
            if fixed is not None:
                names = {p.name for p in operation.query}
                fixed = {k: v for k, v in _real_conversation(http, base_url, headers).items() if k in names}
                if not fixed:
                    continue
                stats.real_id_passes += 1

            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode, query=fixed))
            def run(case: schemathesis.Case) -> None:
                try:
                    response = _send(http, case.as_transport_kwargs(base_url=base_url, headers=headers))
                except httpx.InvalidURL:
                    stats.unsendable += 1  # a query over httpx's 64 KB URL limit: no client can send it
                    return
                stats.inputs += 1
                stats.statuses[response.status_code] += 1
                if response.status_code >= 500:
                    stats.server_errors += 1
                try:
                    case.validate_response(response, checks=CHECKS)
                except FailureGroup as exc:  # collected, so one run reports every mismatch at once
                    # run() is called right below, in the same iteration: `mode` is the current one.
                    stats.failures.append(f"{case.operation.label} [{mode.value}]: {str(exc)[:1500]}")  # noqa: B023

            try:
                run()
            except Unsatisfiable:
                # Nothing can be invalid about a route without parameters (GET /chat/sessions).
                assert mode is GenerationMode.NEGATIVE and not operation.query and not operation.body, operation.label
    http.close()
    return stats


def _real_conversation(http: httpx.Client, base_url: str, headers: dict[str, str]) -> dict[str, int]:
    """A fresh session with a question and its finished answer: {sessionId, messageId, taskId}."""
    sid = http.put(f"{base_url}/chat/new_session", json={"title": "fuzz"}, headers=headers).json()["session"]["id"]
    mid = http.put(f"{base_url}/chat/new_message", json={"sessionId": sid, "role": "human", "content": "q"},
                   headers=headers).json()["id"]
    task = http.get(f"{base_url}/chat/generate", params={"sessionId": sid}, headers=headers).json()["taskId"]
    for _ in range(400):
        if http.get(f"{base_url}/chat/check_generation", params={"taskId": task, "sessionId": sid},
                    headers=headers).status_code != 417:
            break
        time.sleep(0.01)
    return {"sessionId": sid, "messageId": mid, "taskId": task}


def _send(http: httpx.Client, kw: dict[str, Any]) -> httpx.Response:
    """Send schemathesis' requests-style keyword arguments with httpx."""
    request: dict[str, Any] = {"headers": kw.get("headers"), "params": kw.get("params")}
    if "json" in kw:
        request["json"] = kw["json"]
    elif isinstance(kw.get("data"), bytes | str):
        request["content"] = kw["data"]
    elif kw.get("data") is not None:
        request["data"] = kw["data"]
    return http.request(kw["method"], kw["url"], **request)


async def test_schemathesis_no_5xx_and_every_response_matches_the_schema(
        app_factory: AppFactory, scripted_provider: ScriptedProvider, caplog: pytest.LogCaptureFixture,
        nextcloud: NextcloudDouble) -> None:
    caplog.set_level(logging.ERROR, logger="assistant_stream")
    scripted_provider.always(openai_stream(["fuzzed ", "answer"]))
    # A Nextcloud that answers (the double): routes that read the user's files ask it (and get 404s).
    nextcloud.add_user(FUZZ_USER)
    app: RunningApp = await app_factory(
        nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret,
        STREAMING_API_URL=scripted_provider.chat_url, STREAMING_API_KEY=API_KEY,
        STREAMING_PUBLIC_URL="https://cloud.example.com/assistant-stream", MAX_STARTS_PER_MINUTE="0")
    c = app.client(FUZZ_USER)
    # Real data under small ids, which the fuzzer's integers hit often: sessions with a question and
    # an answer, so routes get past "not found" into their real work.
    for i in range(4):
        sid, _mid = await new_chat(c, f"seed question {i}")
        task = (await c.get("/chat/generate", params={"sessionId": sid})).json()["taskId"]
        await wait_done(c, sid, task)
    schema_dict = (await c.get("/openapi.json")).json()
    # It writes into the user's Files: with no Nextcloud here its right answer is 502 nextcloud_error (checked in
    # tests/web/test_api_export.py); tests/nextcloud_real saves into a real Nextcloud.
    del schema_dict["paths"]["/chat/export_to_files"]
    began = time.monotonic()
    stats = await asyncio.to_thread(_fuzz, schema_dict, app.url, appapi_headers(FUZZ_USER, app.environ["APP_SECRET"]))
    elapsed = time.monotonic() - began
    print(f"\nschemathesis: {stats.operations} operations ({stats.real_id_passes} also on real ids), "
          f"{stats.inputs} inputs ({stats.unsendable} unsendable) "
          f"in {elapsed:.0f}s, "
          f"5xx={stats.server_errors}, statuses={dict(sorted(stats.statuses.items()))}")
    assert stats.operations == len([1 for d in schema_dict["paths"].values() for _ in d])
    assert stats.inputs >= stats.operations * 10
    assert stats.server_errors == 0
    assert not stats.failures, "\n\n".join(stats.failures[:10])
    # Nothing unexpected was logged either (an "Unexpected error" is a 500 the client never saw, e.g.
    # in a stream that had already started).
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text[-3000:]
    assert stats.statuses[200] > 0 and stats.statuses[400] > 0


# --- hand-made hostile input ------------------------------------------------------------------------


@pytest.fixture
async def hostile_app(app_factory: AppFactory, scripted_provider: ScriptedProvider) -> RunningApp:
    return await app_factory(STREAMING_API_URL=scripted_provider.chat_url, STREAMING_API_KEY=API_KEY)


async def test_sizes_at_and_past_every_limit(hostile_app: RunningApp) -> None:
    c = hostile_app.client("alice")
    sid, _ = await new_chat(c)
    ok = await c.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": "x" * 100_000})
    assert ok.status_code == 200 and len(ok.json()["content"]) == 100_000
    for r in (await c.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": "x" * 100_001}),
              await c.put("/chat/new_session", json={"title": "t" * 501}),
              await c.patch("/chat/update_session", json={"sessionId": sid, "title": "t" * 501}),
              await c.put("/chat/new_message", content=b'{"sessionId": 1, "content": "' + b"y" * 300_000 + b'"}',
                          headers={"content-type": "application/json"})):
        assert r.status_code == 413 and r.json()["code"] in ("too_long", "too_large"), r.text[:200]
    assert (await c.put("/chat/new_session", json={"title": "t" * 500})).status_code == 200
    # A query string parameter over its limit too.
    assert (await c.put("/chat/new_session", params={"title": "t" * 501})).status_code == 413
    messages = (await c.get("/chat/messages", params={"sessionId": sid, "limit": 200})).json()
    assert [len(m["content"]) for m in messages] == [len("Hello there"), 100_000]


@pytest.mark.parametrize("value", [
    "abc", "1.5", "1e3", "0x10", "-1", "0", "", " ", "\u00b2", "\u0663", "\uff11", "1_000", "+1",
    "99999999999999999999",
    str(2**53), "9" * 400, "nan", "Infinity", "null", "[1]", "%00", "1\x00",
])
async def test_ids_that_are_not_ids_are_400(hostile_app: RunningApp, value: str) -> None:
    c = hostile_app.client("alice")
    for verb, path, params in (("GET", "/chat/messages", {"sessionId": value}),
                               ("GET", "/chat/message", {"sessionId": 1, "messageId": value}),
                               ("GET", "/chat/stream", {"sessionId": value, "messageId": 1}),
                               ("GET", "/chat/poll", {"sessionId": 1, "messageId": value, "timeout": 0}),
                               ("GET", "/chat/check_generation", {"sessionId": 1, "taskId": value})):
        r = await c.request(verb, path, params=params)
        assert r.status_code == 400, (path, value, r.status_code, r.text)
        assert r.json()["code"] in ("invalid_parameter", "missing_parameter"), r.json()


@pytest.mark.parametrize("body", [
    {"sessionId": True}, {"sessionId": 1.5}, {"sessionId": [1]}, {"sessionId": {"id": 1}}, {"sessionId": "1; DROP"},
    {"sessionId": 2**53}, {"sessionId": -(2**63)}, {"sessionId": 10**400},
])
async def test_json_ids_that_are_not_ids_are_400(hostile_app: RunningApp, body: dict[str, Any]) -> None:
    c = hostile_app.client("alice")
    r = await c.request("DELETE", "/chat/delete_session", content=json.dumps(body),
                        headers={"content-type": "application/json"})
    assert r.status_code == 400, (body, r.status_code, r.text)


async def test_ids_beyond_the_database_are_400_not_500(hostile_app: RunningApp) -> None:
    c = hostile_app.client("alice")
    for value in (2**31, 2**53 - 1):  # ids are 32-bit columns: the API refuses what cannot exist
        r = await c.get("/chat/messages", params={"sessionId": value})
        assert r.status_code == 400 and r.json()["code"] == "invalid_parameter", r.text
        assert "2147483647" in r.json()["error"]
    r = await c.get("/chat/messages", params={"sessionId": 2**31 - 1})  # the largest id: simply not there
    assert r.status_code == 404, r.text


async def test_cursors_limits_and_timeouts_out_of_range(hostile_app: RunningApp) -> None:
    c = hostile_app.client("alice")
    sid, mid = await new_chat(c)
    for params in ({"limit": 0}, {"limit": 201}, {"limit": 10**12}, {"limit": -1}, {"cursor": -1},
                   {"cursor": -(10**9)}, {"cursor": "x"}):
        r = await c.get("/chat/messages", params={"sessionId": sid, **params})
        assert r.status_code == 400, (params, r.text)
    for params in ({"timeout": -1}, {"timeout": 31}, {"timeout": "nan"}, {"timeout": "inf"}, {"cursor": -5},
                   {"rcursor": -5}):
        r = await c.get("/chat/poll", params={"sessionId": sid, "messageId": mid, **params})
        assert r.status_code == 400, (params, r.text)
    for params in ({"lastEventId": -1}, {"lastEventId": "x"}, {"title": "maybe"}):
        r = await c.get("/chat/stream", params={"sessionId": sid, "messageId": mid, **params})
        assert r.status_code == 400, (params, r.text)
    # A cursor far past the end is simply "nothing new", not an error.
    assert (await c.get("/chat/messages", params={"sessionId": sid, "cursor": 2**31 - 1})).json() == []
    assert (await c.get("/chat/messages", params={"sessionId": sid, "cursor": 2**31})).status_code == 400
    # Last-Event-ID is a header the browser replays verbatim: garbage there is ignored, never a 500.
    for header in (b"\xb2", b"-1", b"abc", b"9" * 40, b"1e3"):
        r = await c.get("/chat/stream", params={"sessionId": sid, "messageId": mid},
                        headers=[(b"Last-Event-ID", header)])
        assert r.status_code == 200 and "data:" in r.text, header


UNICODE = [
    "emoji 👩‍👩‍👧‍👦 🏳️‍🌈 and flags 🇫🇷",
    "RTL مرحبا بالعالم mixed with LTR",
    "combining e\u0301 and Z\u0336\u0336\u0336algo",
    "zero\u200bwidth\u200d joiner\ufeff BOM inside",
    "line\u2028separator\u2029paragraph",
    "astral \U0001d54f\U0001d538\U0001d544 and CJK \u4f60\u597d\uff0c\u4e16\u754c",
    "tabs\tand\r\nCRLF\nnewlines",
    "\uff26\uff35\uff2c\uff2c\uff37\uff29\uff24\uff34\uff28 and \u00bd \u00b2 \u0663",
]

INJECTION = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(document.cookie)>",
    "[click me](javascript:alert(1)) and ![img](https://evil.example/x.png)",
    "```html\n<iframe src=\"https://evil.example\"></iframe>\n```",
    "{{7*7}} ${7*7} <%= 7*7 %> #{7*7}",
    "'; DROP TABLE messages; -- \" OR 1=1",
    "</script><script>alert('sse')</script>\n\ndata: {\"done\": true}\n\nid: 999",
    "\" onmouseover=\"alert(1)\" data-x=\"",
]


@pytest.mark.parametrize("text", UNICODE + INJECTION)
async def test_text_is_stored_and_returned_verbatim(hostile_app: RunningApp, scripted_provider: ScriptedProvider,
                                                    text: str) -> None:
    # The provider answers with the same hostile text, split mid-way: it must come back out verbatim too.
    half = len(text) // 2
    route_by_prompt(scripted_provider, {"": openai_stream([text[:half], text[half:]])})
    c = hostile_app.client("alice")
    title = text[:500]
    s = await c.put("/chat/new_session", json={"title": title})
    assert s.status_code == 200 and s.headers["content-type"].startswith("application/json")
    sid = s.json()["session"]["id"]
    m = await c.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": text})
    assert m.status_code == 200
    expected = text.strip()  # the one normalisation: surrounding whitespace of a message is trimmed
    assert m.json()["content"] == expected
    assert (await c.get("/chat/sessions")).json()[0]["title"] == title
    stored = (await c.get("/chat/message", params={"sessionId": sid, "messageId": m.json()["id"]})).json()
    assert stored["content"] == expected
    events = await read_stream(c, {"sessionId": sid, "messageId": m.json()["id"]})
    # Exactly the events the app sent (the injected "data:"/"id:" lines stayed inside a JSON string).
    assert [next(iter(e)) for _, e in events] == ["started", *["chunk"] * (len(events) - 2), "done"]
    assert text_of(events) == text and events[-1][1]["message"]["content"] == text
    assert prompt_of(scripted_provider.requests[-1]) == expected


async def test_lone_surrogates_and_nul(hostile_app: RunningApp) -> None:
    c = hostile_app.client("alice")
    sid, _ = await new_chat(c)
    # JSON can carry a lone UTF-16 surrogate, which no database can store: replaced, not a 500.
    r = await c.put("/chat/new_message", content=b'{"sessionId": %d, "role": "human", "content": "a\\ud800b"}' % sid,
                    headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["content"] == "a\ufffdb"
    r = await c.put("/chat/new_session", content=b'{"title": "\\udfff"}', headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["session"]["title"] == "\ufffd"
    r = await c.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": "nul\x00inside"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_parameter"
    for raw in (b"\xff\xfe garbage", b'{"sessionId": 1', b"[]", b'"string"', b"null", b"{" * 100_000):
        r = await c.put("/chat/new_message", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["code"] == "invalid_json", raw[:20]


async def test_injected_text_in_a_failed_answer_is_inert_too(app_factory: AppFactory, nextcloud: NextcloudDouble,
                                                             scripted_provider: ScriptedProvider) -> None:
    from tests.support.scripted_provider import error_response

    route_by_prompt(scripted_provider, {"": error_response(400, {"error": {"message": INJECTION[0]}})})
    app = await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret,
                            STREAMING_API_URL=scripted_provider.chat_url, STREAMING_API_KEY=API_KEY)
    for user, admin in (("alice", False), ("admin", True)):
        c = app.client(user)
        sid, mid = await new_chat(c)
        events = await read_stream(c, {"sessionId": sid, "messageId": mid})
        assert events[-1][1]["code"] == "provider_error"
        check = await c.get("/chat/check_generation",
                            params={"taskId": events[-1][1]["message"]["id"], "sessionId": sid})
        assert check.status_code == 400 and check.headers["content-type"].startswith("application/json")
        if not admin:  # the provider's words never reach a user who is no administrator
            assert INJECTION[0] not in json.dumps(events) and INJECTION[0] not in check.text
            continue
        # An administrator gets them only inside a JSON string of the error event.
        assert INJECTION[0] in events[-1][1]["detail"] and INJECTION[0] in check.json()["detail"]
        assert httpx.Response(200, content=check.content).json()["detail"] == events[-1][1]["detail"]
