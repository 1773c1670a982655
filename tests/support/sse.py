"""Server-Sent Events as the tests read them, decoded by the app's own SSEDecoder (the only SSE parser here)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from assistant_stream.providers.sse import ServerSentEvent, SSEDecoder

Event = tuple[int | None, dict[str, Any]]  # (id, JSON payload)


def _event(sse: ServerSentEvent) -> Event:
    return (int(sse.id) if sse.id is not None else None), json.loads(sse.data)


async def sse_events(response: httpx.Response) -> AsyncIterator[Event]:
    """(id, payload) for each event of an SSE response, in order, as the bytes arrive (comments skipped)."""
    decoder = SSEDecoder()
    async for chunk in response.aiter_bytes():
        for sse in decoder.feed(chunk):
            yield _event(sse)
    for sse in decoder.flush():
        yield _event(sse)


def parse_events(body: str | bytes) -> list[Event]:
    """The events of a whole SSE body."""
    decoder = SSEDecoder()
    raw = body.encode() if isinstance(body, str) else body
    return [_event(sse) for sse in [*decoder.feed(raw), *decoder.flush()]]
