"""Talking to the chat API as a browser does: start a chat, read an answer's stream, wait for it to end."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx

from tests.support.sse import Event, sse_events


async def new_chat(client: httpx.AsyncClient, text: str = "Hello there", *, base: str = "") -> tuple[int, int]:
    """A new session with one human message: (session id, message id). ``base``: a proxy's path to the app."""
    r = await client.put(f"{base}/chat/new_session", json={"title": None, "timestamp": 1_700_000_000})
    assert r.status_code == 200, r.text
    sid = r.json()["session"]["id"]
    r = await client.put(f"{base}/chat/new_message", json={"sessionId": sid, "role": "human", "content": text,
                                                           "timestamp": 1_700_000_001, "firstHumanMessage": True})
    assert r.status_code == 200, r.text
    return sid, r.json()["id"]


async def wait_done(client: httpx.AsyncClient, sid: int, task_id: int) -> httpx.Response:
    """check_generation until it stops answering 417 (running)."""
    for _ in range(400):
        r = await client.get("/chat/check_generation", params={"taskId": task_id, "sessionId": sid})
        if r.status_code != 417:
            return r
        await asyncio.sleep(0.025)
    raise AssertionError("generation did not finish")


async def read_stream(client: httpx.AsyncClient, params: dict[str, Any], *, headers: dict[str, str] | None = None,
                      stop_after_chunks: int | None = None) -> list[Event]:
    """The events of /chat/stream; ``stop_after_chunks``: hang up then, as a closing browser tab does."""
    events: list[Event] = []
    chunks = 0
    async with client.stream("GET", "/chat/stream", params=params, headers=headers) as r:
        assert r.status_code == 200, await r.aread()
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache" and r.headers["x-accel-buffering"] == "no"
        async for event in sse_events(r):
            events.append(event)
            chunks += "chunk" in event[1]
            if stop_after_chunks is not None and chunks >= stop_after_chunks:
                break  # leaving the block closes the connection: a browser tab closing
    return events


def text_of(events: Sequence[tuple[object, dict[str, Any]]]) -> str:
    """The answer's text in (id or arrival time, payload) events."""
    return "".join(e["chunk"] for _, e in events if "chunk" in e)
