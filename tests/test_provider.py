"""ProviderClient against a scripted loopback server: every providers.md item and every error class."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from typing import Any

import pytest

from assistant_stream.chat.prompt import build_messages
from assistant_stream.core import errors
from assistant_stream.core.errors import render_http, render_sse
from assistant_stream.core.events import ChatMessage, Finish, ProviderEvent, ReasoningDelta, TextDelta, Usage
from assistant_stream.providers.config import ProviderConfig
from assistant_stream.providers.diagnostics import diagnose
from assistant_stream.providers.endpoint import resolve_endpoint
from assistant_stream.providers.errors import error_detail
from assistant_stream.providers.transport import ProviderClient
from tests.scripted_provider import (
    DROP,
    HANG,
    ScriptedProvider,
    ScriptedResponse,
    Sleep,
    chat_chunk,
    error_response,
    openai_stream,
    sse,
)

MSGS = [ChatMessage("user", "Hi")]


async def collect(
    client: ProviderClient, config: ProviderConfig, messages: list[ChatMessage] | None = None
) -> list[ProviderEvent]:
    return [ev async for ev in client.stream_chat(config, messages or MSGS)]


async def collect_until_error(
    client: ProviderClient, config: ProviderConfig
) -> tuple[list[ProviderEvent], errors.ProviderError]:
    got: list[ProviderEvent] = []
    with pytest.raises(errors.ProviderError) as ei:
        async for ev in client.stream_chat(config, MSGS):
            got.append(ev)
    return got, ei.value


def text(events: list[ProviderEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def reasoning(events: list[ProviderEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, ReasoningDelta))


def finishes(events: list[ProviderEvent]) -> list[str | None]:
    return [e.reason for e in events if isinstance(e, Finish)]


def stream(*objs: Any, line_ending: str = "\n", **kw: Any) -> ScriptedResponse:
    return ScriptedResponse(body=[sse(o, line_ending) for o in objs], **kw)


# --- the normal case --------------------------------------------------------------------------------


async def test_streams_text_finish_usage_and_sends_openai_request(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(openai_stream(["Hel", "lo", " wörld"]))
    events = await collect(
        provider_client,
        scripted_provider.config(max_tokens=64, temperature=0.2),
        [ChatMessage("system", "Be brief"), ChatMessage("user", "Hi")],
    )
    assert events == [TextDelta("Hel"), TextDelta("lo"), TextDelta(" wörld"), Finish("stop"), Usage(7, 3, 10)]
    req = scripted_provider.requests[0]
    assert req.method == "POST" and req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer test-key"
    assert req.headers["accept"] == "text/event-stream"
    assert req.json == {
        "model": "test-model",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}],
        "max_tokens": 64,
        "temperature": 0.2,
    }


async def test_optional_params_omitted_and_base_url_accepted(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(openai_stream(["ok"]))
    events = await collect(provider_client, scripted_provider.config(url=scripted_provider.base_url + "/"))
    assert text(events) == "ok"
    body = scripted_provider.requests[0].json
    assert "max_tokens" not in body and "temperature" not in body
    assert scripted_provider.requests[0].path == "/v1/chat/completions"


async def test_deltas_arrive_as_they_are_sent(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    # Relaying token by token: the first delta must be yielded long before the stream ends.
    scripted_provider.script(openai_stream(["a", "b", "c"], delay=0.15))
    t0 = time.monotonic()
    first_at = None
    async for ev in provider_client.stream_chat(scripted_provider.config(), MSGS):
        if isinstance(ev, TextDelta) and first_at is None:
            first_at = time.monotonic() - t0
    total = time.monotonic() - t0
    assert first_at is not None and first_at < 0.3 < total


# --- providers.md 1-4: framing ----------------------------------------------------------------------


@pytest.mark.parametrize("line_ending", ["\n", "\r", "\r\n"])
async def test_1_line_endings_and_single_byte_pieces(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient, line_ending: str
) -> None:
    resp = openai_stream(["h\u00e9", "\u20ac\U0001f600", "!"], line_ending=line_ending)
    raw = b"".join(p for p in resp.body if isinstance(p, bytes))
    # Every byte its own TCP send (and HTTP chunk): line ends and UTF-8 characters split everywhere.
    resp.body = [raw[i : i + 1] for i in range(len(raw))]
    scripted_provider.script(resp)
    events = await collect(provider_client, scripted_provider.config())
    assert text(events) == "h\u00e9\u20ac\U0001f600!"
    assert finishes(events) == ["stop"]


async def test_2_comments_and_bare_data_ignored(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(
        ScriptedResponse(
            body=[
                b": OPENROUTER PROCESSING\n\n",
                b"data:\n\n",
                sse(chat_chunk("A")),
                b": ping - 2024\n\n",
                sse(chat_chunk("B", finish_reason="stop")),
                sse("[DONE]"),
            ]
        )
    )
    events = await collect(provider_client, scripted_provider.config())
    assert events == [TextDelta("A"), TextDelta("B"), Finish("stop")]


async def test_3_data_without_space_and_extra_fields(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    chunk = json.dumps(chat_chunk("x"))
    scripted_provider.script(
        ScriptedResponse(body=[f"id: 1\nretry: 100\nfoo: bar\ndata:{chunk}\n\n".encode(), b"data:[DONE]\n\n"])
    )
    assert text(await collect(provider_client, scripted_provider.config())) == "x"


async def test_3_multi_line_data_joined(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    # Pretty-printed JSON over several data lines is one event.
    pretty = json.dumps(chat_chunk("multi"), indent=1).split("\n")
    body = "".join(f"data: {line}\n" for line in pretty) + "\n"
    scripted_provider.script(ScriptedResponse(body=[body.encode(), sse("[DONE]")]))
    assert text(await collect(provider_client, scripted_provider.config())) == "multi"


async def test_4_done_without_blank_line_connection_close(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    # llama.cpp: "data: [DONE]" is the last thing, no blank line; body ended by closing.
    scripted_provider.script(ScriptedResponse(framing="close", body=[sse(chat_chunk("hi")), b"data: [DONE]"]))
    events = await collect(provider_client, scripted_provider.config())
    assert events == [TextDelta("hi"), Finish(None)]


async def test_4_eof_without_done_after_text_is_fine(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    # Ollama may just end: the last event even lacks its blank line.
    scripted_provider.script(
        ScriptedResponse(body=[sse(chat_chunk("one ")), b"data: " + json.dumps(chat_chunk("two")).encode()])
    )
    events = await collect(provider_client, scripted_provider.config())
    assert text(events) == "one two"
    assert finishes(events) == [None]


async def test_4_eof_without_anything_is_an_error(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(ScriptedResponse(body=[b": just a comment\n\n"]))
    _, exc = await collect_until_error(provider_client, scripted_provider.config())
    assert type(exc) is errors.ProviderProtocolError
    assert "without sending an answer" in exc.message


async def test_4_events_after_done_are_ignored(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(stream(chat_chunk("a"), "[DONE]", chat_chunk("IGNORED")))
    assert text(await collect(provider_client, scripted_provider.config())) == "a"


# --- 5: include_usage --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rejection",
    [
        error_response(
            400,
            {
                "error": {
                    "message": "Unrecognized request argument supplied: stream_options",
                    "type": "invalid_request_error",
                }
            },
        ),
        error_response(400, "extra field include_usage not permitted"),
        error_response(
            422, {"detail": [{"loc": ["body", "stream_options"], "msg": "extra fields not permitted"}]}
        ),
    ],
)
async def test_5_include_usage_rejected_retried_without_and_remembered(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient, rejection: ScriptedResponse
) -> None:
    scripted_provider.script(rejection, openai_stream(["a"], usage=False), openai_stream(["b"], usage=False))
    config = scripted_provider.config()
    assert text(await collect(provider_client, config)) == "a"
    assert text(await collect(provider_client, config)) == "b"
    bodies = [r.json for r in scripted_provider.requests]
    assert len(bodies) == 3
    assert bodies[0]["stream_options"] == {"include_usage": True}
    assert "stream_options" not in bodies[1] and "stream_options" not in bodies[2]


async def test_5_other_400_is_not_retried(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(error_response(400, {"error": {"message": "context length exceeded"}}))
    _, exc = await collect_until_error(provider_client, scripted_provider.config())
    assert type(exc) is errors.ProviderError
    assert "context length exceeded" in exc.message and "HTTP 400" in exc.message
    assert len(scripted_provider.requests) == 1


async def test_5_usage_null_on_chunks_and_usage_chunk_last(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(openai_stream(["x", "y"]))
    events = await collect(provider_client, scripted_provider.config())
    assert [e for e in events if isinstance(e, Usage)] == [Usage(7, 2, 9)]


# --- 6, 7: empty choices, role-only first chunk, finish in its own chunk ------------------------------


async def test_6_azure_prompt_filter_chunk_with_empty_choices(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(
        stream(
            {
                "choices": [],
                "created": 0,
                "id": "",
                "model": "",
                "object": "",
                "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
            },
            {"choices": [{"index": 0}]},  # a choice without delta
            {"id": "x"},  # no choices key at all
            chat_chunk("ok", finish_reason="stop"),
            "[DONE]",
        )
    )
    events = await collect(provider_client, scripted_provider.config())
    assert events == [TextDelta("ok"), Finish("stop")]


async def test_7_role_only_chunks_and_separate_finish(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(
        stream(
            chat_chunk("", role="assistant"),
            chat_chunk(None, role="assistant"),
            chat_chunk("Hi"),
            chat_chunk(""),
            chat_chunk(finish_reason="stop"),
            "[DONE]",
        )
    )
    events = await collect(provider_client, scripted_provider.config())
    # No empty TextDelta, the finish of its own chunk is reported once.
    assert events == [TextDelta("Hi"), Finish("stop")]


# --- 8: reasoning -----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_8_reasoning_fields(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient, field: str
) -> None:
    scripted_provider.script(
        stream(
            chat_chunk(None, role="assistant"),
            chat_chunk(None, **{field: "Let me "}),
            chat_chunk(None, **{field: "think."}),
            chat_chunk("Answer"),
            chat_chunk(finish_reason="stop"),
            "[DONE]",
        )
    )
    events = await collect(provider_client, scripted_provider.config())
    assert events == [
        ReasoningDelta("Let me "),
        ReasoningDelta("think."),
        TextDelta("Answer"),
        Finish("stop"),
    ]


async def test_8_think_tags_split_across_chunks(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    pieces = ["\n <th", "ink>Let", " me </th", "i", "nk>\n\nThe ", "answer <think> stays", "</think> text"]
    scripted_provider.script(
        stream(*[chat_chunk(p) for p in pieces], chat_chunk(finish_reason="stop"), "[DONE]")
    )
    events = await collect(provider_client, scripted_provider.config())
    assert reasoning(events) == "Let me "
    assert text(events) == "The answer <think> stays</think> text"
    assert all(e.text for e in events if isinstance(e, (TextDelta, ReasoningDelta)))
    assert events[-1] == Finish("stop")


@pytest.mark.parametrize(
    "pieces, want_reasoning, want_text",
    [
        (["<think>", "abc", "</think>", "x"], "abc", "x"),
        (["<", "t", "h", "i", "n", "k", ">", "a", "<", "/", "think", ">", "b"], "a", "b"),
        (["Hi <think>not reasoning</think>"], "", "Hi <think>not reasoning</think>"),
        (["<thought>"], "", "<thought>"),
        (["<thi"], "", "<thi"),  # the answer ended undecided: it was text
        (["<think>never closed"], "never closed", ""),
        (["   "], "", "   "),
    ],
)
async def test_8_think_splitter_cases(
    scripted_provider: ScriptedProvider,
    provider_client: ProviderClient,
    pieces: list[str],
    want_reasoning: str,
    want_text: str,
) -> None:
    scripted_provider.script(stream(*[chat_chunk(p) for p in pieces], "[DONE]"))
    events = await collect(provider_client, scripted_provider.config())
    assert (reasoning(events), text(events)) == (want_reasoning, want_text)
    assert finishes(events) == [None]


# --- 9: errors before and during the stream ------------------------------------------------------------


async def test_9_json_error_before_stream(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(
        error_response(
            400, {"error": {"message": "model is required", "type": "invalid_request_error", "code": None}}
        )
    )
    _, exc = await collect_until_error(provider_client, scripted_provider.config())
    assert "model is required" in exc.message


async def test_9_inband_error_then_done(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    # vLLM: HTTP 200, then data: {"error": ...}, then [DONE].
    scripted_provider.script(
        stream(
            chat_chunk("Partial"),
            {"error": {"message": "CUDA out of memory", "type": "InternalServerError", "code": 500}},
            "[DONE]",
        )
    )
    got, exc = await collect_until_error(provider_client, scripted_provider.config())
    assert got == [TextDelta("Partial")]
    assert type(exc) is errors.ProviderError
    assert "CUDA out of memory" in exc.message and exc.partial is True


async def test_9_inband_error_string_form(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(stream({"error": "upstream went away"}))
    _, exc = await collect_until_error(provider_client, scripted_provider.config())
    assert "upstream went away" in exc.message and exc.partial is False


async def test_9_event_error(scripted_provider: ScriptedProvider, provider_client: ProviderClient) -> None:
    scripted_provider.script(
        ScriptedResponse(
            body=[sse(chat_chunk("x")), b'event: error\ndata: {"error": {"message": "overloaded"}}\n\n']
        )
    )
    got, exc = await collect_until_error(provider_client, scripted_provider.config())
    assert got == [TextDelta("x")]
    assert "overloaded" in exc.message and exc.partial


async def test_9_event_error_plain_text(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(ScriptedResponse(body=[b"event: error\ndata: something broke\n\n"]))
    _, exc = await collect_until_error(provider_client, scripted_provider.config())
    assert "something broke" in exc.message


async def test_9_mock_llm_auth_error_at_200_without_done(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(
        stream({"error": {"message": "Invalid API key", "type": "authentication_error", "code": 401}})
    )
    _, exc = await collect_until_error(provider_client, scripted_provider.config())
    assert isinstance(exc, errors.ProviderAuthError)
    assert "Invalid API key" in exc.message


async def test_9_non_streamed_json_completion_is_accepted(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    # A server that ignores stream=true and answers in one JSON document still gives an answer.
    scripted_provider.script(
        error_response(
            200,
            {
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": "Whole"},
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1},
            },
        )
    )
    events = await collect(provider_client, scripted_provider.config())
    assert events == [TextDelta("Whole"), Finish("stop"), Usage(1, 1, 2)]


# --- 10: finish reasons -----------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["stop", "length", "content_filter", "tool_calls", "function_call"])
async def test_10_finish_reasons(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient, reason: str
) -> None:
    scripted_provider.script(openai_stream(["t"], finish=reason))
    events = await collect(provider_client, scripted_provider.config())
    assert finishes(events) == [reason]
    assert events.index(Finish(reason)) > events.index(TextDelta("t"))


# --- 11: Azure and URL/auth handling -----------------------------------------------------------------


async def test_11_azure_api_key_header_and_api_version(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(openai_stream(["az"]))
    url = (
        f"http://127.0.0.1:{scripted_provider.port}/openai/deployments/gpt-4o/chat/completions"
        "?api-version=2024-10-21"
    )
    events = await collect(provider_client, scripted_provider.config(url=url, api_key="azkey123"))
    assert text(events) == "az"
    req = scripted_provider.requests[0]
    assert req.path == "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
    assert req.headers["api-key"] == "azkey123"
    assert "authorization" not in req.headers


def test_11_url_resolution() -> None:
    e = resolve_endpoint("https://res.openai.azure.com/openai/deployments/d1?api-version=2024-10-21", "k123")
    assert e.azure and e.headers == {"api-key": "k123"}
    assert (
        e.chat_url
        == "https://res.openai.azure.com/openai/deployments/d1/chat/completions?api-version=2024-10-21"
    )
    assert e.models_url is None
    e = resolve_endpoint("https://res.cognitiveservices.azure.com", "k123")
    assert e.azure and e.chat_url == "https://res.cognitiveservices.azure.com/openai/v1/chat/completions"
    e = resolve_endpoint("https://api.openai.com/v1", "sk-x")
    assert not e.azure and e.headers == {"Authorization": "Bearer sk-x"}
    assert e.chat_url == "https://api.openai.com/v1/chat/completions"
    assert e.models_url == "https://api.openai.com/v1/models"
    e = resolve_endpoint("http://localhost:11434", "")
    assert e.chat_url == "http://localhost:11434/v1/chat/completions" and e.headers == {}
    e = resolve_endpoint("http://localhost:8080/v1/chat/completions/", "NOT-NEEDED")
    assert e.chat_url == "http://localhost:8080/v1/chat/completions" and e.headers == {}
    assert e.models_url == "http://localhost:8080/v1/models"
    with pytest.raises(ValueError):
        resolve_endpoint("localhost:8080", "")


@pytest.mark.parametrize("key", ["", "not-needed", "Not-Needed"])
async def test_no_auth_header_without_real_key(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient, key: str
) -> None:
    scripted_provider.script(openai_stream(["k"]))
    await collect(provider_client, scripted_provider.config(api_key=key))
    headers = scripted_provider.requests[0].headers
    assert "authorization" not in headers and "api-key" not in headers


# --- 12: keep-alive comments keep an idle stream alive ------------------------------------------------


async def test_12_heartbeat_comments_reset_idle_timeout(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    beats: list[Any] = [sse(chat_chunk("a"))]
    for _ in range(6):
        beats += [Sleep(0.15), b": ping\n\n"]
    beats += [sse(chat_chunk("b", finish_reason="stop")), sse("[DONE]")]
    scripted_provider.script(ScriptedResponse(body=beats))
    events = await collect(provider_client, scripted_provider.config(idle_timeout=0.4))
    assert text(events) == "ab"


# --- HTTP status errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_errors(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient, status: int
) -> None:
    scripted_provider.script(
        error_response(
            status,
            {
                "error": {
                    "message": "Incorrect API key provided",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            },
        )
    )
    _, exc = await collect_until_error(
        provider_client, scripted_provider.config(retries_before_first_token=3)
    )
    assert type(exc) is errors.ProviderAuthError
    assert "rejected the API key" in exc.message and f"HTTP {status}" in exc.message
    assert "Incorrect API key provided" in exc.message
    assert len(scripted_provider.requests) == 1  # not retried


async def test_404_names_url_and_model(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(error_response(404, {"error": "model 'nope' not found"}))
    _, exc = await collect_until_error(provider_client, scripted_provider.config(model="nope"))
    assert type(exc) is errors.ProviderNotFound
    assert "'nope'" in exc.message and "/v1/chat/completions" in exc.message and "not found" in exc.message


@pytest.mark.parametrize(
    "header, expected", [({"Retry-After": "7"}, 7.0), ({"retry-after-ms": "1500"}, 1.5), ({}, None)]
)
async def test_429_retry_after(
    scripted_provider: ScriptedProvider,
    provider_client: ProviderClient,
    header: dict[str, str],
    expected: float | None,
) -> None:
    scripted_provider.script(
        error_response(429, {"error": {"message": "Rate limit reached"}}, headers=header)
    )
    _, exc = await collect_until_error(provider_client, scripted_provider.config())
    assert isinstance(exc, errors.ProviderRateLimited)
    assert exc.retry_after == expected
    assert "Rate limit reached" in exc.message
    assert len(scripted_provider.requests) == 1


async def test_429_retry_after_http_date(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    from email.utils import formatdate

    scripted_provider.script(
        error_response(429, "", headers={"Retry-After": formatdate(time.time() + 30, usegmt=True)})
    )
    _, exc = await collect_until_error(provider_client, scripted_provider.config())
    assert isinstance(exc, errors.ProviderRateLimited)
    assert exc.retry_after is not None and 25 < exc.retry_after <= 31


HTML_503 = (
    "<html><head><title>503 Service Temporarily Unavailable</title><style>body{color:red}</style>"
    "</head><body><center><h1>503 Service Temporarily Unavailable</h1></center><hr>"
    "<center>nginx</center></body></html>"
)


@pytest.mark.parametrize("status", [500, 503])
@pytest.mark.parametrize(
    "body, content_type, expected",
    [
        ({"error": {"message": "Model is loading", "type": "server_error"}}, None, "Model is loading"),
        ({"detail": "Internal Server Error: boom"}, None, "Internal Server Error: boom"),
        (
            HTML_503,
            "text/html",
            "503 Service Temporarily Unavailable 503 Service Temporarily Unavailable nginx",
        ),
        ("", None, ""),
    ],
)
async def test_5xx_bodies(
    scripted_provider: ScriptedProvider,
    provider_client: ProviderClient,
    status: int,
    body: Any,
    content_type: str | None,
    expected: str,
) -> None:
    scripted_provider.always(error_response(status, body, content_type=content_type))
    _, exc = await collect_until_error(
        provider_client, scripted_provider.config(retries_before_first_token=0)
    )
    assert type(exc) is errors.ProviderUnavailable
    assert f"HTTP {status}" in exc.message
    assert expected in exc.message
    assert "<" not in exc.message and "color:red" not in exc.message
    assert len(exc.message) < 300


def test_error_detail_truncated_to_200() -> None:

    assert len(error_detail(b"x" * 5000)) == 200
    assert error_detail(b'{"error": {"message": "  a \\n b  "}}') == "a b"
    assert error_detail(b'{"message": "m"}') == "m"
    assert error_detail(b"<p>a &amp; b</p>") == "a & b"


# --- retries ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first", [error_response(503, "busy"), error_response(502, "bad gateway"), ScriptedResponse(body=[DROP])]
)
async def test_retry_before_first_token(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient, first: ScriptedResponse
) -> None:
    scripted_provider.script(first, openai_stream(["second try"]))
    events = await collect(provider_client, scripted_provider.config(retries_before_first_token=1))
    assert text(events) == "second try"
    assert len(scripted_provider.requests) == 2


async def test_retries_are_bounded(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.always(error_response(503, "busy"))
    _, exc = await collect_until_error(
        provider_client, scripted_provider.config(retries_before_first_token=2)
    )
    assert isinstance(exc, errors.ProviderUnavailable)
    assert len(scripted_provider.requests) == 3
    scripted_provider.exchanges.clear()
    _, exc = await collect_until_error(
        provider_client, scripted_provider.config(retries_before_first_token=0)
    )
    assert len(scripted_provider.requests) == 1


async def test_500_is_not_retried(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(error_response(500, "boom"), openai_stream(["never"]))
    _, exc = await collect_until_error(
        provider_client, scripted_provider.config(retries_before_first_token=1)
    )
    assert isinstance(exc, errors.ProviderUnavailable)
    assert len(scripted_provider.requests) == 1


async def test_no_retry_after_text(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(
        ScriptedResponse(body=[sse(chat_chunk("Hello")), DROP]), openai_stream(["again"])
    )
    got, exc = await collect_until_error(
        provider_client, scripted_provider.config(retries_before_first_token=3)
    )
    assert got == [TextDelta("Hello")]
    assert isinstance(exc, errors.ProviderConnectError)
    assert exc.partial is True and "lost during the answer" in exc.message
    await asyncio.sleep(0.3)
    assert len(scripted_provider.requests) == 1


async def test_no_retry_after_reasoning(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(
        ScriptedResponse(body=[sse(chat_chunk(None, reasoning="hmm")), DROP]), openai_stream(["again"])
    )
    got, exc = await collect_until_error(
        provider_client, scripted_provider.config(retries_before_first_token=3)
    )
    assert got == [ReasoningDelta("hmm")] and exc.partial is True
    assert len(scripted_provider.requests) == 1


# --- connection errors ------------------------------------------------------------------------------


async def test_connection_refused(provider_client: ProviderClient) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    config = ProviderConfig(
        url=f"http://127.0.0.1:{port}/v1", api_key="k", model="m", retries_before_first_token=1
    )
    t0 = time.monotonic()
    _, exc = await collect_until_error(provider_client, config)
    assert type(exc) is errors.ProviderConnectError
    assert "refused" in exc.message and f"127.0.0.1:{port}" in exc.message
    assert time.monotonic() - t0 < 2


async def test_dns_failure(provider_client: ProviderClient) -> None:
    config = ProviderConfig(
        url="http://no-such-provider.invalid/v1", api_key="k", model="m", retries_before_first_token=3
    )
    t0 = time.monotonic()
    _, exc = await collect_until_error(provider_client, config)
    assert type(exc) is errors.ProviderConnectError
    assert "host not found" in exc.message and "no-such-provider.invalid" in exc.message
    assert time.monotonic() - t0 < 2  # a DNS failure is not retried


async def test_tls_failure(provider_client: ProviderClient) -> None:
    async def plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain_http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        config = ProviderConfig(url=f"https://127.0.0.1:{port}/v1", api_key="k", model="m")
        _, exc = await collect_until_error(provider_client, config)
    finally:
        server.close()
    assert type(exc) is errors.ProviderConnectError
    assert exc.message.startswith("TLS")


# --- timeouts ---------------------------------------------------------------------------------------


async def test_hang_before_first_byte(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.always(ScriptedResponse(before=HANG))
    t0 = time.monotonic()
    _, exc = await collect_until_error(provider_client, scripted_provider.config(first_byte_timeout=0.3))
    assert type(exc) is errors.ProviderTimeout
    assert "first byte" in exc.message
    assert time.monotonic() - t0 < 1.5
    assert await scripted_provider.wait_closed_by_client(0)


async def test_headers_then_hang_is_first_byte_timeout(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(ScriptedResponse(body=[HANG]))
    _, exc = await collect_until_error(
        provider_client, scripted_provider.config(first_byte_timeout=0.3, idle_timeout=10)
    )
    assert type(exc) is errors.ProviderTimeout and "first byte" in exc.message


async def test_hang_between_chunks(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(ScriptedResponse(body=[sse(chat_chunk("so far")), HANG]))
    t0 = time.monotonic()
    got, exc = await collect_until_error(provider_client, scripted_provider.config(idle_timeout=0.3))
    assert got == [TextDelta("so far")]
    assert type(exc) is errors.ProviderTimeout
    assert "idle" in exc.message and exc.partial is True
    assert time.monotonic() - t0 < 1.5
    assert await scripted_provider.wait_closed_by_client()


async def test_connect_timeout(provider_client: ProviderClient) -> None:
    # A listening socket that never accepts, its backlog filled: the kernel drops further SYNs, so the
    # TCP handshake never completes.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            s.connect(("127.0.0.1", port))
        fillers.append(s)
    await asyncio.sleep(0.05)
    config = ProviderConfig(url=f"http://127.0.0.1:{port}/v1", api_key="k", model="m", connect_timeout=0.3,
                            first_byte_timeout=5, retries_before_first_token=1)
    t0 = time.monotonic()
    try:
        _, exc = await collect_until_error(provider_client, config)
    finally:
        for s in [*fillers, server]:
            s.close()
    assert type(exc) is errors.ProviderTimeout
    assert "connect timeout" in exc.message
    assert time.monotonic() - t0 < 1.5  # a timeout is not retried


# --- protocol and limits ------------------------------------------------------------------------------


async def test_drop_mid_stream_after_text(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(ScriptedResponse(body=[sse(chat_chunk("Hel")), sse(chat_chunk("lo")), DROP]))
    got, exc = await collect_until_error(provider_client, scripted_provider.config())
    assert text(got) == "Hello"
    assert isinstance(exc, errors.ProviderConnectError) and exc.partial is True


async def test_malformed_json_chunk(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(ScriptedResponse(body=[sse(chat_chunk("ok")), b'data: {"choices": [\n\n']))
    got, exc = await collect_until_error(provider_client, scripted_provider.config())
    assert got == [TextDelta("ok")]
    assert type(exc) is errors.ProviderProtocolError and "malformed JSON" in exc.message and exc.partial


async def test_non_object_json_chunk(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(stream([1, 2, 3]))
    _, exc = await collect_until_error(provider_client, scripted_provider.config())
    assert type(exc) is errors.ProviderProtocolError


async def test_line_over_limit(scripted_provider: ScriptedProvider, provider_client: ProviderClient) -> None:
    big = b"data: " + b"x" * 1_100_000  # never ends its line
    scripted_provider.script(ScriptedResponse(body=[big[i : i + 65536] for i in range(0, len(big), 65536)]))
    _, exc = await collect_until_error(provider_client, scripted_provider.config())
    assert type(exc) is errors.ProviderLimitExceeded and "1048576 bytes" in exc.message
    assert await scripted_provider.wait_closed_by_client()


async def test_endless_stream_over_max_answer_chars(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    piece = sse(chat_chunk("y" * 100))
    scripted_provider.script(ScriptedResponse(body=[piece] * 2000 + [HANG]))
    got, exc = await collect_until_error(provider_client, scripted_provider.config(max_answer_chars=5000))
    assert type(exc) is errors.ProviderLimitExceeded and exc.partial is True
    assert len(text(got)) == 5000
    assert await scripted_provider.wait_closed_by_client()


async def test_html_at_200(scripted_provider: ScriptedProvider, provider_client: ProviderClient) -> None:
    scripted_provider.script(
        error_response(
            200,
            "<html><title>Nextcloud login</title><body>x</body></html>",
            content_type="text/html; charset=utf-8",
        )
    )
    _, exc = await collect_until_error(provider_client, scripted_provider.config())
    assert type(exc) is errors.ProviderProtocolError
    assert "text/html" in exc.message and "Nextcloud login" in exc.message and "<title>" not in exc.message


# --- cancellation -----------------------------------------------------------------------------------


async def test_consumer_aclose_closes_upstream(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(
        ScriptedResponse(body=[sse(chat_chunk("first")), Sleep(0.05), sse(chat_chunk("second")), HANG])
    )
    agen = provider_client.stream_chat(scripted_provider.config(), MSGS)
    assert await anext(agen) == TextDelta("first")
    await agen.aclose()
    assert await scripted_provider.wait_closed_by_client(timeout=1.0)
    assert not scripted_provider.exchanges[0].completed


async def test_task_cancel_closes_upstream(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(ScriptedResponse(body=[sse(chat_chunk("first")), HANG]))
    got: list[ProviderEvent] = []

    async def consume() -> None:
        async for ev in provider_client.stream_chat(scripted_provider.config(), MSGS):
            got.append(ev)

    task = asyncio.create_task(consume())
    for _ in range(200):
        if got:
            break
        await asyncio.sleep(0.01)
    assert got == [TextDelta("first")]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await scripted_provider.wait_closed_by_client(timeout=1.0)


async def test_connection_reused_after_done(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.always(openai_stream(["r"]))
    for _ in range(3):
        assert text(await collect(provider_client, scripted_provider.config())) == "r"
    assert scripted_provider.connections == 1


# --- the API key never leaks ----------------------------------------------------------------------------

SECRET = "sk-DISTINCTIVE-4f9c2e7a1b"


def assert_no_secret(exc: errors.AppError) -> None:
    for rendered in (
        str(exc),
        repr(exc),
        exc.message,
        json.dumps(render_http(exc).body),
        json.dumps(render_sse(exc)),
        " ".join(map(str, exc.args)),
    ):
        assert SECRET not in rendered
        assert "DISTINCTIVE" not in rendered


@pytest.mark.parametrize(
    "resp",
    [
        error_response(
            401,
            {"error": {"message": f"Incorrect API key provided: {SECRET}.", "type": "invalid_request_error"}},
        ),
        error_response(
            403, f"<html><body>Forbidden for Bearer {SECRET}</body></html>", content_type="text/html"
        ),
        error_response(500, f"upstream got Authorization: Bearer {SECRET}"),
        error_response(400, {"detail": f"bad key {SECRET}"}),
        error_response(200, f"<html>{SECRET}</html>", content_type="text/html"),
        ScriptedResponse(body=[sse({"error": {"message": f"key {SECRET} is invalid"}})]),
        ScriptedResponse(body=[f"event: error\ndata: denied {SECRET}\n\n".encode()]),
        ScriptedResponse(body=[f"data: {{not json {SECRET}\n\n".encode()]),
    ],
)
async def test_api_key_never_in_errors(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient, resp: ScriptedResponse
) -> None:
    scripted_provider.always(resp)
    _, exc = await collect_until_error(
        provider_client, scripted_provider.config(api_key=SECRET, retries_before_first_token=0)
    )
    assert_no_secret(exc)
    assert "[redacted]" in exc.message
    assert scripted_provider.requests[0].headers["authorization"] == f"Bearer {SECRET}"


async def test_api_key_never_in_connection_errors(provider_client: ProviderClient) -> None:
    config = ProviderConfig(
        url=f"http://no-such-host.invalid/v1/chat/completions?key={SECRET}", api_key=SECRET, model="m"
    )
    _, exc = await collect_until_error(provider_client, config)
    assert_no_secret(exc)
    report = await diagnose(provider_client, config)
    assert SECRET not in report.summary and "DISTINCTIVE" not in report.summary


# --- test_connection --------------------------------------------------------------------------------

MODELS = {
    "object": "list",
    "data": [{"id": "test-model", "object": "model"}, {"id": "other", "object": "model"}],
}


async def test_connection_all_good(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.on("GET", "/v1/models", error_response(200, MODELS))
    scripted_provider.script(openai_stream(["OK"]))
    report = await diagnose(provider_client, scripted_provider.config())
    assert report.ok is True
    assert report.checks == {"reachable": True, "key_accepted": True, "model_exists": True, "streams": True}
    assert "reachable" in report.summary and "'test-model' exists" in report.summary
    assert report.summary.endswith(".") and "but" not in report.summary
    probe = next(r for r in scripted_provider.requests if r.method == "POST").json
    assert 1 <= probe["max_tokens"] <= 5 and probe["stream"] is True


async def test_connection_key_rejected(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    denied = error_response(401, {"error": {"message": "Invalid key"}})
    scripted_provider.on("GET", "/v1/models", denied).always(denied)
    report = await diagnose(provider_client, scripted_provider.config())
    assert report.ok is False
    assert report.checks["reachable"] is True and report.checks["key_accepted"] is False
    assert report.checks["streams"] is False
    assert "rejected the API key" in report.summary and "reachable" in report.summary


async def test_connection_model_missing(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.on("GET", "/v1/models", error_response(200, MODELS))
    scripted_provider.always(error_response(404, {"error": {"message": "model 'ghost' not found"}}))
    report = await diagnose(provider_client, scripted_provider.config(model="ghost"))
    assert report.ok is False
    assert report.checks == {"reachable": True, "key_accepted": True, "model_exists": False, "streams": False}
    assert "'ghost'" in report.summary and "not found" in report.summary


async def test_connection_no_models_endpoint(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.on("GET", "/v1/models", error_response(404, "Not Found"))
    scripted_provider.script(openai_stream(["OK"]))
    report = await diagnose(provider_client, scripted_provider.config())
    assert report.ok is True
    assert report.checks["model_exists"] is None and report.checks["streams"] is True


async def test_connection_unreachable(provider_client: ProviderClient) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    report = await diagnose(provider_client,
        ProviderConfig(url=f"http://127.0.0.1:{port}/v1", api_key="k", model="m")
    )
    assert report.ok is False and report.checks["reachable"] is False
    assert "refused" in report.summary


async def test_connection_stream_broken(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.on("GET", "/v1/models", error_response(200, MODELS))
    scripted_provider.always(error_response(200, "<html>login</html>", content_type="text/html"))
    report = await diagnose(provider_client, scripted_provider.config())
    assert report.ok is False and report.checks["streams"] is False and report.checks["model_exists"] is True
    assert "text/html" in report.summary


# --- build_messages ---------------------------------------------------------------------------------


def test_build_messages_roles_and_system_prompt() -> None:
    msgs = build_messages([("human", "a"), ("assistant", "b"), ("human", "c")], "sys", 10, 1000)
    assert msgs == [
        ChatMessage("system", "sys"),
        ChatMessage("user", "a"),
        ChatMessage("assistant", "b"),
        ChatMessage("user", "c"),
    ]
    assert build_messages([("human", "x")], None, 10, 100) == [ChatMessage("user", "x")]
    assert build_messages([("human", "x")], "  ", 10, 100) == [ChatMessage("user", "x")]


def test_build_messages_max_messages_keeps_most_recent() -> None:
    history = [("human", f"q{i}") if i % 2 == 0 else ("assistant", f"a{i}") for i in range(10)]
    # Ends with a9 after the last user message q8: both kept, the older a7 would start with the assistant.
    msgs = build_messages(history, None, 3, 1000)
    assert [m.content for m in msgs] == ["q8", "a9"]
    msgs = build_messages(history, None, 4, 1000)
    assert [m.content for m in msgs] == ["q6", "a7", "q8", "a9"]
    msgs = build_messages(history, None, 1, 1000)
    assert [m.content for m in msgs] == ["q8"]
    msgs = build_messages(history[:9], None, 3, 1000)  # ends with q8
    assert [m.content for m in msgs] == ["q6", "a7", "q8"]


def test_build_messages_max_chars_drops_oldest() -> None:
    history = [
        ("human", "a" * 50),
        ("assistant", "b" * 50),
        ("human", "c" * 50),
        ("assistant", "d" * 50),
        ("human", "e" * 50),
    ]
    msgs = build_messages(history, None, 100, 160)
    assert [m.content[0] for m in msgs] == ["c", "d", "e"]
    msgs = build_messages(history, None, 100, 120)  # "d" + "e" fit, but never start with the assistant
    assert [m.content[0] for m in msgs] == ["e"]


def test_build_messages_long_last_user_message_truncated() -> None:
    msgs = build_messages([("human", "old"), ("human", "START" + "x" * 1000 + "END")], None, 10, 100)
    assert len(msgs) == 1
    assert len(msgs[0].content) == 100
    assert msgs[0].content.startswith("START") and msgs[0].content.endswith("END")


def test_build_messages_unknown_roles_skipped() -> None:
    assert build_messages([("tool", "t"), ("human", "x")], None, 10, 100) == [ChatMessage("user", "x")]
