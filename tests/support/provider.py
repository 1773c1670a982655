"""Calling ProviderClient in tests: collect an answer's events, or the events before its error."""

from __future__ import annotations

from typing import Any

import pytest

from assistant_stream.core import errors
from assistant_stream.core.events import ChatMessage, Finish, ProviderEvent, ReasoningDelta, TextDelta
from assistant_stream.providers.config import ProviderConfig
from assistant_stream.providers.transport import ProviderClient
from tests.support.scripted_provider import ScriptedResponse, sse

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

