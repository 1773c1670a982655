"""Provider faults through the whole app: each one ends the answer with a clear error event and status,
keeps the text already shown, leaves the other chats streaming, and leaks no task and no socket.

The unit-level behaviour of the provider client for the same faults is in test_provider.py; here the
fault travels the whole path: provider -> generation -> event log -> SSE -> database.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from assistant_stream.core.errors import from_code
from tests.support.appserver import API_KEY, AppFactory, RunningApp
from tests.support.chat import new_chat, read_stream, text_of
from tests.support.faults import LeakProbe, healthy, prompt_of, route_by_prompt
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.scripted_provider import (
    DROP,
    HANG,
    ScriptedProvider,
    ScriptedResponse,
    chat_chunk,
    error_response,
    sse,
)

HEALTHY_WORDS = [f"ok{i} " for i in range(15)]
HEALTHY_TEXT = "".join(HEALTHY_WORDS)
ROLE = sse(chat_chunk("", role="assistant"))
FAULT_HOST = "llm-provider.test"  # resolved by the test itself (see `resolver`), never by real DNS


@dataclass
class Fault:
    """One injected provider fault and what the user must be told."""

    response: ScriptedResponse | None  # None: the fault is in reaching the provider (DNS, refused)
    code: str
    says: tuple[str, ...]  # substrings of the error's detail (what an administrator is told)
    partial: str = ""  # text streamed before the fault, which must be kept
    upstream_closed: bool = False  # the app must hang up on the provider itself
    attempts: int = 1  # provider requests for the faulty answer (bounded retry before any text)
    not_says: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def _status_faults() -> dict[str, Fault]:
    codes = {401: "provider_auth", 403: "provider_auth", 404: "provider_not_found", 429: "provider_rate_limited",
             500: "provider_unavailable", 503: "provider_unavailable"}
    out: dict[str, Fault] = {}
    for status, code in codes.items():
        headers = {"Retry-After": "7"} if status == 429 else None
        attempts = 2 if status == 503 else 1  # 502/503 are retried once before the first token, never more
        out[f"http-{status}-json"] = Fault(
            error_response(status, {"error": {"message": f"Detail for {status}", "type": "x"}}, headers=headers),
            code, (f"HTTP {status}", f"Detail for {status}"), attempts=attempts)
        out[f"http-{status}-html"] = Fault(
            error_response(status, f"<html><head><title>{status}</title><style>h1{{}}</style></head><body>"
                                   f"<h1>Gateway says {status}</h1></body></html>", content_type="text/html",
                           headers=headers),
            code, (f"HTTP {status}", f"Gateway says {status}"), attempts=attempts, not_says=("<h1>", "h1{"))
        out[f"http-{status}-empty"] = Fault(error_response(status, b"", headers=headers), code,
                                            (f"HTTP {status}",), attempts=attempts)
    return out


FAULTS: dict[str, Fault] = {
    "drop-mid-stream": Fault(
        ScriptedResponse(body=[ROLE, sse(chat_chunk("Partial ")), sse(chat_chunk("answer")), DROP], delay=0.02),
        "provider_dropped", ("lost during the answer",), partial="Partial answer"),
    "hang-before-first-byte": Fault(
        ScriptedResponse(before=HANG), "provider_timeout", ("did not answer within 1 s",), upstream_closed=True),
    "hang-after-headers": Fault(
        ScriptedResponse(body=[HANG]), "provider_timeout", ("first byte timeout",), upstream_closed=True),
    "hang-between-chunks": Fault(
        ScriptedResponse(body=[ROLE, sse(chat_chunk("Before ")), sse(chat_chunk("the hang")), HANG]),
        "provider_timeout", ("sent nothing for 1 s", "idle timeout between chunks"), partial="Before the hang",
        upstream_closed=True),
    **_status_faults(),
    "malformed-json-chunk": Fault(
        ScriptedResponse(body=[ROLE, sse(chat_chunk("Good start ")), b"data: {\"choices\": [{\"delta\": \n\n",
                               sse(chat_chunk("never shown")), sse("[DONE]")]),
        "provider_protocol", ("malformed JSON chunk",), partial="Good start "),
    "1mb-line": Fault(
        ScriptedResponse(body=[ROLE, sse(chat_chunk("Start ")), b"data: {\"x\": \"",
                               *([b"y" * 65536] * 17), HANG]),
        "provider_limit", ("line longer than 1048576 bytes",), partial="Start ", upstream_closed=True),
    "endless-stream-over-cap": Fault(
        ScriptedResponse(body=[ROLE, *([sse(chat_chunk("z" * 100))] * 200), HANG]),
        "provider_limit", ("exceeded the limit of 3000 characters",), partial="z" * 3000, upstream_closed=True),
    "text-html-at-200": Fault(
        ScriptedResponse(body=[b"<html><body><form>Sign in to continue</form></body></html>"],
                         headers={"Content-Type": "text/html; charset=utf-8"}, framing="length"),
        "provider_protocol", ("text/html instead of an event stream", "Sign in to continue")),
    "dns-failure": Fault(None, "provider_unreachable", ("host not found", FAULT_HOST)),
    "connection-refused": Fault(None, "provider_unreachable", ("refused the connection",), attempts=2),
}


class Resolver:
    """Resolves FAULT_HOST to loopback until ``broken``: a DNS failure without any query leaving the host."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.broken = False
        self.lookups = 0

    def __call__(self, host: Any, *args: Any, **kw: Any) -> Any:
        if host in (FAULT_HOST, FAULT_HOST.encode()):
            self.lookups += 1
            if self.broken:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            host = "127.0.0.1"
        return self.real(host, *args, **kw)


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    r = Resolver(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", r)
    return r


async def _first_chunk(client: httpx.AsyncClient, params: dict[str, Any], started: asyncio.Event
                       ) -> list[tuple[int | None, dict[str, Any]]]:
    """Read a whole stream, setting ``started`` once its first text arrived."""
    from tests.support.sse import sse_events

    events: list[tuple[int | None, dict[str, Any]]] = []
    async with client.stream("GET", "/chat/stream", params=params) as r:
        assert r.status_code == 200, await r.aread()
        async for event in sse_events(r):
            events.append(event)
            if "chunk" in event[1]:
                started.set()
    return events


@pytest.mark.parametrize("name", list(FAULTS))
async def test_provider_fault_through_the_whole_app(name: str, app_factory: AppFactory,
                                                    scripted_provider: ScriptedProvider, resolver: Resolver,
                                                    nextcloud: NextcloudDouble) -> None:
    fault = FAULTS[name]
    url = f"http://{FAULT_HOST}:{scripted_provider.port}/v1/chat/completions" if name == "dns-failure" \
        else scripted_provider.chat_url
    nextcloud.set_admin("alice")  # the faulty answer is hers: she is told its detail, as an administrator
    app: RunningApp = await app_factory(
        nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret,
        STREAMING_API_URL=url, STREAMING_API_KEY=API_KEY, STREAMING_MODEL="test-model",
        REQUEST_TIMEOUT="1", CONNECT_TIMEOUT="1", MAX_ANSWER_CHARS="3000")
    # "concurrent" answers are slow enough to still be streaming when the fault hits; "healthy" ones fast.
    routes: dict[str, Any] = {"concurrent": healthy(HEALTHY_WORDS, delay=0.04), "healthy": healthy(HEALTHY_WORDS, 0)}
    if fault.response is not None:
        routes["faulty"] = fault.response
    route_by_prompt(scripted_provider, routes)
    alice, bob = app.client("alice"), app.client("bob")

    # Warm up (first connection, lazily created state, Nextcloud's word on each user: their groups count usage and
    # say who is told an error's detail), then take the baseline.
    assert (await alice.get("/chat/config")).json()["isAdmin"] is True
    assert (await bob.get("/chat/config")).json()["isAdmin"] is False
    sid, mid = await new_chat(alice, "healthy warm-up")
    assert text_of(await read_stream(alice, {"sessionId": sid, "messageId": mid})) == HEALTHY_TEXT
    probe = LeakProbe(app, url, [scripted_provider.port]).snapshot()

    # Two healthy chats (another user's and the same user's) are streaming when the fault hits.
    others = [await new_chat(bob, "concurrent for bob"), await new_chat(alice, "concurrent for alice too")]
    started = [asyncio.Event() for _ in others]
    readers = [asyncio.create_task(_first_chunk(c, {"sessionId": s, "messageId": m}, ev))
               for c, (s, m), ev in zip((bob, alice), others, started, strict=True)]
    async with asyncio.timeout(10):
        for ev in started:
            await ev.wait()
    refused_port = 0
    if name == "dns-failure":
        resolver.broken = True
    elif name == "connection-refused":
        # Stop listening; the healthy streams keep their established connections.
        scripted_provider.stop_listening()
        refused_port = scripted_provider.port
    requests_before = len(scripted_provider.requests)

    fsid, fmid = await new_chat(alice, "faulty question")
    events = await read_stream(alice, {"sessionId": fsid, "messageId": fmid})

    # The faulty answer: a clear error event (the words of its code for everyone, the cause named in the
    # administrator's detail), its text kept, stored as `error`.
    last = events[-1][1]
    assert "error" in last, (name, events[-3:])
    assert last["code"] == fault.code, (name, last)
    assert last["error"] == type(from_code(fault.code, None)).default_message, (name, last)
    detail = last["detail"]
    for part in fault.says:
        assert part in detail, (name, detail)
    for part in fault.not_says:
        assert part not in detail, (name, detail)
    assert API_KEY not in json.dumps(events)
    assert text_of(events) == fault.partial
    assert last["message"]["status"] == "error" and last["message"]["content"] == fault.partial
    stored = (await alice.get("/chat/message", params={"sessionId": fsid, "messageId": last["message"]["id"]})).json()
    assert (stored["status"], stored["content"], stored["error"]) == ("error", fault.partial, last["error"])
    assert stored["error_detail"] == detail
    check = await alice.get("/chat/check_generation", params={"taskId": stored["id"], "sessionId": fsid})
    assert check.status_code == 400 and (check.json()["error"], check.json()["detail"]) == (last["error"], detail)
    faulty_requests = [r for r in scripted_provider.requests[requests_before:] if "faulty" in prompt_of(r)]
    assert len(faulty_requests) == (fault.attempts if fault.response is not None else 0), name
    if fault.upstream_closed:
        index = next(i for i, e in enumerate(scripted_provider.exchanges) if "faulty" in prompt_of(e.request))
        assert await scripted_provider.wait_closed_by_client(index, timeout=3), name

    # The other chats were not affected.
    for reader, (s, _m), client in zip(readers, others, (bob, alice), strict=True):
        got = await asyncio.wait_for(reader, 10)
        assert text_of(got) == HEALTHY_TEXT and got[-1][1]["done"] is True, name
        assert got[-1][1]["message"]["status"] == "done"
        contents = [m["content"] for m in (await client.get("/chat/messages", params={"sessionId": s})).json()]
        assert contents[-1] == HEALTHY_TEXT
    # The session is free again: the next question is answered (by a healthy provider).
    if name == "dns-failure":
        resolver.broken = False
    if name != "connection-refused":
        r = await alice.put("/chat/new_message", json={"sessionId": fsid, "role": "human", "content": "healthy now"})
        again = await read_stream(alice, {"sessionId": fsid, "messageId": r.json()["id"]})
        assert text_of(again) == HEALTHY_TEXT

    # Nothing leaked: no task outlives its generation, no socket outlives its request.
    ports = [scripted_provider.port] + ([refused_port] if refused_port else [])
    probe.ports = ports
    await probe.assert_back()
