"""Provider failures mapped to typed errors (providers/errors.py): in-band errors, HTTP statuses, connection errors."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from assistant_stream.core import errors
from assistant_stream.core.events import Finish, TextDelta, Usage
from assistant_stream.providers.config import ProviderConfig
from assistant_stream.providers.errors import error_detail
from assistant_stream.providers.transport import ProviderClient
from tests.support.provider import collect, collect_until_error, stream
from tests.support.scripted_provider import (
    DROP,
    ScriptedProvider,
    ScriptedResponse,
    chat_chunk,
    error_response,
    sse,
)

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


@pytest.mark.parametrize("before", [[sse(chat_chunk("", role="assistant")), sse(chat_chunk("The first half"))],
                                    [sse(chat_chunk(None, reasoning_content="Let me think"))]])
async def test_a_connection_closed_mid_answer_is_dropped_not_unreachable(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient, before: list[bytes]
) -> None:
    """Issue #13: the provider answered, then the connection broke (no terminating chunk): its own code, not
    "could not be reached"; the diagnosis names where and how, for the administrator."""
    scripted_provider.always(ScriptedResponse(body=[*before, DROP]))
    got, exc = await collect_until_error(provider_client, scripted_provider.config(retries_before_first_token=2))
    assert got and type(exc) is errors.ProviderDropped and exc.partial is True
    assert (exc.code, exc.status, exc.kind) == ("provider_dropped", 502, "lost")
    assert type(exc).default_message == "The connection to the AI provider broke off during the answer"
    assert "lost during the answer" in exc.message and scripted_provider.base_url.split("://")[1] in exc.message
    assert len(scripted_provider.requests) == 1  # something was shown: never retried


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
