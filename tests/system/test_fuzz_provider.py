"""Property-based fuzzing of the provider stream (issue 16): hypothesis builds OpenAI-style event streams
(event shapes, chunk boundaries, line endings, encodings, faults) that a scripted provider sends over
loopback; the app must deliver exactly the intended text to a streaming and a long-polling reader and
store it, or end with a clear error naming the fault: never a 5xx, never a hang.

The intended text is a small model of what a provider means: JSON string values, UTF-8 decoded with
replacement (WHATWG event streams), without NUL and with lone surrogates replaced (what any database
keeps). ``FUZZ_EXAMPLES`` / ``FUZZ_SEED`` run it longer or differently than CI's fixed examples.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tests.support.appserver import API_KEY, AppFactory, RunningApp
from tests.support.chat import new_chat
from tests.support.faults import prompt_of
from tests.support.scripted_provider import DROP, RecordedRequest, ScriptedProvider, ScriptedResponse
from tests.support.sse import sse_events

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
SEED = os.environ.get("FUZZ_SEED")
_SURROGATE = re.compile("[\ud800-\udfff]")
# The clear errors a broken stream may end in (anything else, e.g. internal_error, fails the property).
FAULT_CODES = {"drop": "provider_dropped", "malformed": "provider_protocol", "error": "provider_error"}


def clean(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text.replace("\x00", ""))


# --- the stream model ---------------------------------------------------------------------------------

# A string value is written as atoms: text (JSON-escaped, ASCII-only or raw UTF-8), a \\uXXXX escape of a
# surrogate (alone or forming a pair with the next atom), or bytes that are not UTF-8 at all.
_BAD_UTF8 = [b"\xff", b"\x80", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf0\x9f\x98", b"\xc0\xaf"]
_CHARS = st.characters(exclude_categories=("Cs",))  # all planes, controls and NUL included
_ATOM = st.one_of(
    st.tuples(st.just("text"), st.text(_CHARS, min_size=1, max_size=8), st.booleans()),
    st.tuples(st.just("surrogate"), st.integers(0xD800, 0xDFFF), st.booleans()),
    st.tuples(st.just("bad"), st.sampled_from(_BAD_UTF8), st.booleans()),
)


def literal(atoms: list[tuple[str, Any, bool]]) -> bytes:
    """The bytes of a JSON string literal made of ``atoms`` (quotes included)."""
    out = [b'"']
    for kind, value, ascii_only in atoms:
        if kind == "text":
            out.append(json.dumps(value, ensure_ascii=ascii_only)[1:-1].encode())
        elif kind == "surrogate":
            out.append(f"\\u{value:04x}".encode())
        else:
            out.append(value)
    out.append(b'"')
    return b"".join(out)


def meant(raw_literal: bytes) -> str:
    """What a string literal means once decoded the way an event stream is (UTF-8 with replacement)."""
    return clean(json.loads(raw_literal.decode("utf-8", "replace")))


def chunk(delta: bytes, finish: str | None = None) -> bytes:
    reason = b"null" if finish is None else json.dumps(finish).encode()
    return (b'{"id":"chatcmpl-fuzz","object":"chat.completion.chunk","created":1700000000,"model":"m",'
            b'"choices":[{"index":0,"delta":' + delta + b',"logprobs":null,"finish_reason":' + reason + b"}]}")


@dataclass
class Stream:
    events: list[bytes] = field(default_factory=list)  # SSE lines of each event, without the line ends
    text: str = ""
    reasoning: str = ""
    fault: str | None = None
    shapes: Counter[str] = field(default_factory=Counter)


@st.composite
def streams(draw: st.DrawFn) -> tuple[Stream, bytes, dict[str, Any]]:
    s = Stream()

    def data(payload: bytes, *, multiline: bool = False) -> bytes:
        if multiline and b'"choices":' in payload:
            # One event in two data: lines, split where JSON allows whitespace (joined with "\n").
            head, _, tail = payload.partition(b'"choices":')
            return b"data: " + head + b'"choices":\ndata:' + tail
        return b"data: " + payload

    if draw(st.booleans()):
        s.events.append(data(chunk(b'{"role":"assistant","content":""}')))
        s.shapes["role"] += 1
    # The first text starts with a letter: a leading "<think>" (reasoning) or whitespace-only start is
    # the think splitter's business (test_provider.py), not this property's.
    first = literal([("text", "A", True), *draw(st.lists(_ATOM, max_size=4))])
    s.events.append(data(chunk(b'{"content":' + first + b"}")))
    s.text += meant(first)
    for _ in range(draw(st.integers(0, 12))):
        shape = draw(st.sampled_from(["content", "content", "content", "reasoning", "null", "comment", "named",
                                      "id", "usage", "empty-choices", "unknown-field"]))
        s.shapes[shape] += 1
        if shape == "content":
            lit = literal(draw(st.lists(_ATOM, min_size=1, max_size=6)))
            s.events.append(data(chunk(b'{"content":' + lit + b"}"), multiline=draw(st.booleans())))
            s.text += meant(lit)
        elif shape == "reasoning":
            lit = literal(draw(st.lists(_ATOM, min_size=1, max_size=4)))
            name = draw(st.sampled_from([b"reasoning_content", b"reasoning"]))
            s.events.append(data(chunk(b'{"' + name + b'":' + lit + b"}")))
            s.reasoning += meant(lit)
        elif shape == "null":
            s.events.append(data(chunk(b'{"content":null}')))
        elif shape == "comment":
            s.events.append(b": keep-alive " + draw(st.sampled_from([b"", b"ping", b"\xff\xfe"])))
        elif shape == "named":
            s.events.append(b"event: ping\ndata: {\"type\": \"ping\"}")
        elif shape == "id":
            s.events.append(b"id: " + str(draw(st.integers(0, 10**6))).encode() + b"\nretry: 3000\n"
                            + data(chunk(b'{"content":""}')))
        elif shape == "usage":
            s.events.append(data(b'{"id":"x","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,'
                                 b'"total_tokens":7}}'))
        elif shape == "empty-choices":
            s.events.append(data(b'{"id":"x","object":"chat.completion.chunk","choices":[]}'))
        else:
            s.events.append(data(chunk(b'{"content":"","tool_calls":null,"refusal":null,"x":[1,{"y":2}]}')))
    end = draw(st.sampled_from(["done", "done", "finish-eof", "drop", "malformed", "error"]))
    s.shapes["end-" + end] += 1
    if end in ("done", "finish-eof"):
        s.events.append(data(chunk(b"{}", finish=draw(st.sampled_from(["stop", "length"])))))
        if end == "done":
            s.events.append(b"data: [DONE]")
    elif end == "malformed":
        s.events.append(b'data: {"choices": [{"delta": {"content": "never')
        s.fault = FAULT_CODES["malformed"]
    elif end == "error":
        s.events.append(b'data: {"error": {"message": "the model fell over", "type": "server_error"}}')
        s.fault = FAULT_CODES["error"]
    else:
        s.fault = FAULT_CODES["drop"]
    newline = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    body = b"".join(e.replace(b"\n", newline) + newline + newline for e in s.events)
    if draw(st.booleans()):
        body = b"\xef\xbb\xbf" + body  # a UTF-8 BOM: allowed at the very start of an event stream
    framing = draw(st.sampled_from(["chunked", "chunked", "close"]))
    compress = framing == "chunked" and end != "drop" and draw(st.integers(0, 5)) == 0
    headers = {"Content-Type": "text/event-stream"}
    if compress:
        body = gzip.compress(body, 6)
        headers["Content-Encoding"] = "gzip"
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(body) - 1)), max_size=40))))
    pieces: list[Any] = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True) if body[a:b]]
    if end == "drop":
        pieces.append(DROP)
    s.shapes["gzip" if compress else framing] += 1
    return s, body, {"body": pieces, "headers": headers, "framing": framing}


# --- running one example through the app ----------------------------------------------------------


async def poll_all(c: httpx.AsyncClient, sid: int, mid: int) -> tuple[str, str, dict[str, Any]]:
    text = reasoning = ""
    cursor = rcursor = 0
    while True:
        r = await c.get("/chat/poll", params={"sessionId": sid, "messageId": mid, "cursor": cursor,
                                              "rcursor": rcursor, "timeout": 5})
        assert r.status_code == 200, (r.status_code, r.text[:300])
        body = r.json()
        text += body["text"]
        reasoning += body["reasoning"]
        cursor, rcursor = body["cursor"], body["rcursor"]
        if body["done"]:
            return text, reasoning, body


async def read_all(c: httpx.AsyncClient, sid: int, mid: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with c.stream("GET", "/chat/stream", params={"sessionId": sid, "messageId": mid}) as r:
        assert r.status_code == 200, (r.status_code, await r.aread())
        async for _id, event in sse_events(r):
            events.append(event)
    return events


@pytest.fixture
async def fuzz_app(app_factory: AppFactory, scripted_provider: ScriptedProvider) -> tuple[RunningApp, dict]:
    scripts: dict[str, ScriptedResponse] = {}

    def pick(request: RecordedRequest) -> ScriptedResponse:
        return scripts[prompt_of(request)]

    scripted_provider._next = pick  # type: ignore[method-assign]
    app = await app_factory(STREAMING_API_URL=scripted_provider.chat_url, STREAMING_API_KEY=API_KEY,
                            STREAMING_MODEL="m", MAX_STARTS_PER_MINUTE="0", REQUEST_TIMEOUT="10")
    return app, scripts


TOTALS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report() -> Any:
    yield
    if TOTALS["examples"]:
        print(f"\nprovider stream fuzz: {dict(sorted(TOTALS.items()))}")


def _settings(f: Any) -> Any:
    f = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=SEED is None,
                 suppress_health_check=list(HealthCheck))(f)
    return seed(int(SEED))(f) if SEED is not None else f


@_settings
@given(example=streams())
async def test_any_provider_stream_arrives_exactly_or_ends_in_a_clear_error(
        fuzz_app: tuple[RunningApp, dict[str, ScriptedResponse]], caplog: pytest.LogCaptureFixture,
        example: tuple[Stream, bytes, dict[str, Any]]) -> None:
    app, scripts = fuzz_app
    stream, _body, response = example
    key = f"fuzz-{len(scripts)}"
    scripts[key] = ScriptedResponse(**response)
    TOTALS.update(stream.shapes)
    TOTALS["examples"] += 1
    caplog.set_level(logging.ERROR, logger="assistant_stream")
    c = app.client("fuzzer")
    sid, mid = await new_chat(c, key)
    async with asyncio.timeout(30):  # a hang fails here instead of stalling the suite
        events, (polled, polled_reasoning, final) = await asyncio.gather(read_all(c, sid, mid),
                                                                         poll_all(c, sid, mid))
    last = events[-1]
    streamed = "".join(e.get("chunk", "") for e in events)
    streamed_reasoning = "".join(e.get("reasoning", "") for e in events)
    stored = await c.get("/chat/message", params={"sessionId": sid, "messageId": last["message"]["id"]})
    assert stored.status_code == 200, stored.text
    message = stored.json()
    if stream.fault is None:
        assert last.get("done") is True, (last, stream.events)
        assert message["status"] == "done"
        assert streamed == stream.text, (streamed, stream.text)
        assert streamed_reasoning == stream.reasoning
    else:
        assert last.get("code") == stream.fault, (last, stream.events[-2:])
        assert message["status"] == "error" and final["status"] == "error"
        assert final["code"] in (stream.fault, "generation_failed"), final
        # The text before the fault is kept, exactly (a dropped connection may lose nothing either).
        assert streamed == stream.text, (streamed, stream.text)
    # Every reader, and the database, agree on every character.
    assert (polled, polled_reasoning) == (streamed, streamed_reasoning)
    assert (message["content"], message["reasoning"]) == (streamed, streamed_reasoning)
    assert last["message"]["content"] == streamed
    assert not [r for r in caplog.records if "nexpected" in r.getMessage()], caplog.text[-2000:]


def test_the_generator_covers_every_shape() -> None:
    """The property above is only as good as what it is fed: every shape, end and framing must occur."""
    seen: Counter[str] = Counter()

    @settings(max_examples=300, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(example=streams())
    def collect(example: tuple[Stream, bytes, dict[str, Any]]) -> None:
        seen.update(example[0].shapes)

    collect()
    for shape in ("role", "content", "reasoning", "null", "comment", "named", "id", "usage", "empty-choices",
                  "unknown-field", "end-done", "end-finish-eof", "end-drop", "end-malformed", "end-error",
                  "gzip", "close", "chunked"):
        assert seen[shape] > 0, (shape, seen)
