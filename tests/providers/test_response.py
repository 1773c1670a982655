"""Reading a provider response (providers/response.py): streaming, framing, keep-alives, protocol and size limits."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from assistant_stream.core import errors
from assistant_stream.core.events import ChatMessage, Finish, TextDelta, Usage
from assistant_stream.providers.transport import ProviderClient
from tests.support.provider import MSGS, collect, collect_until_error, finishes, stream, text
from tests.support.scripted_provider import (
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

# --- protocol and limits ------------------------------------------------------------------------------


async def test_drop_mid_stream_after_text(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(ScriptedResponse(body=[sse(chat_chunk("Hel")), sse(chat_chunk("lo")), DROP]))
    got, exc = await collect_until_error(provider_client, scripted_provider.config())
    assert text(got) == "Hello"
    assert type(exc) is errors.ProviderDropped and exc.partial is True and exc.code == "provider_dropped"


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
    # HANG: the provider is still sending when the client gives up, so giving up must close the connection.
    scripted_provider.script(ScriptedResponse(body=[*(big[i : i + 65536] for i in range(0, len(big), 65536)), HANG]))
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
