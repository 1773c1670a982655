"""Our client against a real LiteLLM proxy: mock_response streams and relaying a scripted upstream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from assistant_stream.core import errors
from assistant_stream.core.events import ChatMessage, Finish, ReasoningDelta, TextDelta, Usage
from assistant_stream.providers.config import ProviderConfig
from assistant_stream.providers.diagnostics import diagnose
from assistant_stream.providers.transport import ProviderClient
from tests.support.interop import MASTER_KEY, MOCK_TEXT, Server
from tests.support.provider import collect, text
from tests.support.scripted_provider import ScriptedResponse, chat_chunk, openai_stream, sse

MSGS = [ChatMessage("user", "Hello?")]


@pytest.fixture
async def client() -> AsyncIterator[ProviderClient]:
    c = ProviderClient(trust_env=False)
    yield c
    await c.aclose()


def config(server: Server, model: str, **kw: object) -> ProviderConfig:
    return ProviderConfig(url=server.base_url, api_key=server.api_key, model=model, first_byte_timeout=30,
                          **kw)  # type: ignore[arg-type]


async def test_mock_response_assembled_exactly(litellm_proxy: Server, client: ProviderClient) -> None:
    events = await collect(client, config(litellm_proxy, "mock"), MSGS)
    assert text(events) == MOCK_TEXT
    assert sum(isinstance(e, TextDelta) for e in events) > 5  # it really streamed in pieces
    assert [e.reason for e in events if isinstance(e, Finish)] == ["stop"]


async def test_concurrent_streams(litellm_proxy: Server, client: ProviderClient) -> None:
    results = await asyncio.gather(*[collect(client, config(litellm_proxy, "mock"), MSGS) for _ in range(10)])
    assert all(text(r) == MOCK_TEXT for r in results)


async def test_wrong_key_is_rejected_without_leaking_it(litellm_proxy: Server, client: ProviderClient) -> None:
    # LiteLLM without a database cannot look up virtual keys: a key other than the master key gets
    # HTTP 400 "No connected db." (not 401); with a database it would be 401 -> ProviderAuthError.
    bad = ProviderConfig(url=litellm_proxy.base_url, api_key="sk-wrong-key-123456", model="mock")
    with pytest.raises(errors.ProviderError) as ei:
        await collect(client, bad, MSGS)
    assert isinstance(ei.value, errors.ProviderAuthError) or "HTTP 400" in ei.value.message
    assert "sk-wrong-key-123456" not in str(ei.value) and ei.value.partial is False


async def test_unknown_model_is_reported(litellm_proxy: Server, client: ProviderClient) -> None:
    with pytest.raises(errors.ProviderError) as ei:
        await collect(client, config(litellm_proxy, "no-such-model"), MSGS)
    assert "no-such-model" in ei.value.message
    assert MASTER_KEY not in ei.value.message


async def test_relay_of_scripted_upstream(litellm_proxy: Server, client: ProviderClient) -> None:
    upstream = litellm_proxy.relay
    assert upstream is not None
    pieces = ["Re", "layed ", "through ", "Lite", "LLM ", "é€😀"]
    upstream.always(openai_stream(pieces, delay=0.01))
    events = await collect(client, config(litellm_proxy, "relay"), MSGS)
    assert text(events) == "".join(pieces)
    req = upstream.requests[-1]
    assert req.json["stream"] is True and req.json["model"] == "upstream-model"
    assert req.headers["authorization"] == "Bearer upstream-key"


async def test_relay_reasoning_content(litellm_proxy: Server, client: ProviderClient) -> None:
    upstream = litellm_proxy.relay
    assert upstream is not None
    upstream.always(ScriptedResponse(body=[
        sse(chat_chunk(None, role="assistant", reasoning_content="Thinking it over. ")),
        sse(chat_chunk("Answer.")), sse(chat_chunk(finish_reason="stop")), sse("[DONE]")]))
    events = await collect(client, config(litellm_proxy, "relay"), MSGS)
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "Thinking it over. "
    assert text(events) == "Answer."


async def test_relay_upstream_error_becomes_provider_error(litellm_proxy: Server, client: ProviderClient) -> None:
    upstream = litellm_proxy.relay
    assert upstream is not None
    upstream.always(ScriptedResponse(status=503, headers={"Content-Type": "application/json"}, framing="length",
                                     body=[b'{"error": {"message": "upstream overloaded"}}']))
    with pytest.raises(errors.ProviderError) as ei:
        await collect(client, config(litellm_proxy, "relay", retries_before_first_token=0), MSGS)
    assert ei.value.partial is False


async def test_usage_reported(litellm_proxy: Server, client: ProviderClient) -> None:
    upstream = litellm_proxy.relay
    assert upstream is not None
    upstream.always(openai_stream(["a", "b"]))
    events = await collect(client, config(litellm_proxy, "relay"), MSGS)
    usage = [e for e in events if isinstance(e, Usage)]
    assert usage and usage[-1].completion_tokens >= 1


async def test_connection_check(litellm_proxy: Server, client: ProviderClient) -> None:
    report = await diagnose(client, config(litellm_proxy, "mock"))
    assert report.ok, report.summary
    assert report.checks == {"reachable": True, "key_accepted": True, "model_exists": True, "streams": True}
