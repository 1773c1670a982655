"""Our client against llama.cpp's llama-server with a tiny random-weight model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from assistant_stream.core.events import ChatMessage, Finish, TextDelta, Usage
from assistant_stream.providers.config import ProviderConfig
from assistant_stream.providers.diagnostics import diagnose
from assistant_stream.providers.transport import ProviderClient
from tests.support.interop import Server
from tests.support.provider import collect, text

MSGS = [ChatMessage("user", "Tell me about the quick brown fox.")]


@pytest.fixture
async def client() -> AsyncIterator[ProviderClient]:
    c = ProviderClient(trust_env=False)
    yield c
    await c.aclose()


def config(server: Server, **kw: object) -> ProviderConfig:
    values: dict[str, object] = {"url": server.base_url, "api_key": server.api_key, "model": "any-name",
                                 "first_byte_timeout": 30, "idle_timeout": 30, "temperature": 0.0,
                                 "max_tokens": 24}
    values.update(kw)
    return ProviderConfig(**values)  # type: ignore[arg-type]


async def test_streamed_text_equals_non_streamed_answer(llama_server: Server, client: ProviderClient) -> None:
    events = await collect(client, config(llama_server), MSGS)
    streamed = text(events)
    async with httpx.AsyncClient(trust_env=False) as http:
        r = await http.post(f"{llama_server.base_url}/chat/completions", timeout=30, json={
            "model": "any-name", "messages": [{"role": m.role, "content": m.content} for m in MSGS],
            "temperature": 0.0, "max_tokens": 24, "stream": False})
    r.raise_for_status()
    whole = r.json()["choices"][0]["message"]["content"]
    assert streamed and streamed == whole
    assert sum(isinstance(e, TextDelta) for e in events) > 3  # token by token, not one piece
    assert [e.reason for e in events if isinstance(e, Finish)] == ["length"]
    usage = [e for e in events if isinstance(e, Usage)]
    assert usage and usage[-1].completion_tokens == 24  # llama-server honours include_usage


async def test_parallel_streams(llama_server: Server, client: ProviderClient) -> None:
    results = await asyncio.gather(*[collect(client, config(llama_server), MSGS) for _ in range(4)])
    texts = {text(r) for r in results}
    assert len(texts) == 1 and next(iter(texts))  # greedy decoding: the same answer every time


async def test_cancel_frees_the_slot(llama_server: Server, client: ProviderClient) -> None:
    # Stop after the first delta; the server must notice and still serve the next requests promptly.
    for _ in range(3):
        agen = client.stream_chat(config(llama_server, max_tokens=400), MSGS)
        async for ev in agen:
            if isinstance(ev, TextDelta):
                break
        await agen.aclose()
    events = await asyncio.wait_for(collect(client, config(llama_server), MSGS), 20)
    assert text(events)


async def test_connection_check(llama_server: Server, client: ProviderClient) -> None:
    report = await diagnose(client, config(llama_server))
    assert report.ok, report.summary
    assert report.checks["reachable"] and report.checks["streams"]
    assert report.checks["model_exists"] is not False  # llama-server lists the file name, answers any name
