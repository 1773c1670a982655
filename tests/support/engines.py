"""An engine for the chat layer's own tests: yields the events it is given (the real engines have theirs)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from assistant_stream.core.errors import AppError
from assistant_stream.core.events import ChatMessage, ProviderEvent
from assistant_stream.core.settings import Settings


@dataclass
class ListEngine:
    """Implements chat.engines.Engine: the events in order, ``delay`` seconds apart, then ``error`` if set."""

    events: Sequence[ProviderEvent]
    delay: float = 0.0
    error: AppError | None = None
    name: str = "stream"
    gate: asyncio.Event | None = None  # when set, the engine waits for it before its first event
    hold: asyncio.Event | None = None  # when set, the engine waits for it after its last event
    prompts: list[list[ChatMessage]] = field(default_factory=list)
    closed: int = 0

    async def stream(self, user_id: str, messages: list[ChatMessage]) -> AsyncIterator[ProviderEvent]:
        self.prompts.append(messages)
        try:
            if self.gate is not None:
                await self.gate.wait()
            for event in self.events:
                if self.delay:
                    await asyncio.sleep(self.delay)
                yield event
            if self.hold is not None:
                await self.hold.wait()
            if self.error is not None:
                raise self.error
        finally:
            self.closed += 1


def always(engine: ListEngine):  # type: ignore[no-untyped-def]
    """An engine_for that picks ``engine`` for everyone."""
    async def engine_for(_settings: Settings, _user: str, _plan: object = None) -> ListEngine:
        return engine

    return engine_for
