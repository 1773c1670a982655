"""ProviderClient (providers/transport.py): the request, stream_options, retries before the first token, timeouts,
cancellation, and the key never leaving in an error."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time

import pytest

from assistant_stream.core import errors
from assistant_stream.core.error_render import render_http, render_sse
from assistant_stream.core.events import ProviderEvent, ReasoningDelta, TextDelta, Usage
from assistant_stream.providers.config import ProviderConfig
from assistant_stream.providers.diagnostics import diagnose
from assistant_stream.providers.transport import ProviderClient
from tests.support.provider import MSGS, collect, collect_until_error, text
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
    assert type(exc) is errors.ProviderDropped
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
