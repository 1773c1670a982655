"""Generation: the live state of one answer (or title) being written, independent of who reads it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Literal

from ..core.errors import AppError
from ..core.events import Source, Usage
from ..core.limits import STOP_WAIT
from ..store.values import Record

GenerationKind = Literal["answer", "title"]
# A speed needs a measurable stretch: an answer that arrives in one burst (a buffering upstream, a cached reply)
# has its chunks microseconds apart, and tokens divided by that is nonsense (issue 11: "57516.4 tokens/s").
MIN_RATE_INTERVAL = 0.25  # seconds between the first and the last chunk
MIN_RATE_CHUNKS = 3  # text chunks received


def answer_key(message_id: int) -> str:
    """The event log key of an answer."""
    return f"m{message_id}"


def title_key(session_id: int) -> str:
    """The event log key of a session's title generation."""
    return f"t{session_id}"


@dataclass(eq=False)
class Generation:
    """One answer (or title) being generated. ``key`` names its event log."""

    key: str
    kind: GenerationKind
    user_id: str
    session_id: int
    message_id: int | None  # the assistant message (None for a title)
    reply_to: int | None  # the human message answered
    model: str
    engine: str
    deadline: float = 900.0  # seconds the whole answer may take
    connection: str | None = None  # the connection whose model writes it (None: TaskProcessing, a title)
    # A continued answer: its text so far (the first part of ``text``) and the tokens already spent on it.
    prefix_len: int = 0
    base_usage: Usage | None = None
    started_at: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None
    first_reasoning_at: float | None = None  # the model began to think (shown as "Thought for N s")
    last_token_at: float | None = None
    text_parts: list[str] = field(default_factory=list)
    reasoning_parts: list[str] = field(default_factory=list)
    text_len: int = 0
    reasoning_len: int = 0
    chunks: int = 0
    status: str = "generating"
    finish_reason: str | None = None
    usage: Usage | None = None
    sources: tuple[Source, ...] = ()  # the documents an "Ask my documents" answer was drawn from
    error: AppError | None = None
    final_message: Record | None = None
    stop_requested: bool = False
    dirty: bool = False
    finished: bool = False  # saved and announced: readers may now rely on the database
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # set with ``finished``
    task: asyncio.Task[None] | None = None
    token: str = ""  # the coordinator's name for this start (its slot in the user's limits)
    prompt_estimate: int = 0  # tokens of the prompt sent, estimated (counted when the provider reports none)

    @property
    def text(self) -> str:
        if len(self.text_parts) > 1:
            # Join once and keep the result: readers and the saver ask for the whole text often.
            self.text_parts = ["".join(self.text_parts)]
        return self.text_parts[0] if self.text_parts else ""

    @property
    def reasoning(self) -> str:
        if len(self.reasoning_parts) > 1:
            self.reasoning_parts = ["".join(self.reasoning_parts)]
        return self.reasoning_parts[0] if self.reasoning_parts else ""

    def thinking_ms(self) -> int | None:
        """How long the model reasoned before its first word (until now or its end if no word came)."""
        if self.first_reasoning_at is None:
            return None
        end = self.first_token_at if self.first_token_at is not None else (self.last_token_at or time.monotonic())
        return max(0, round((end - self.first_reasoning_at) * 1000))

    @property
    def total_usage(self) -> Usage | None:
        """The tokens of the whole answer: a continued answer adds this run's to those spent before."""
        if self.base_usage is None or self.usage is None:
            return self.usage or self.base_usage
        return Usage(*(None if a is None and b is None else (a or 0) + (b or 0) for a, b in zip(
            (self.base_usage.prompt_tokens, self.base_usage.completion_tokens, self.base_usage.total_tokens),
            (self.usage.prompt_tokens, self.usage.completion_tokens, self.usage.total_tokens), strict=True)))

    def start_from(self, text: str, reasoning: str, usage: Usage | None) -> None:
        """Continue an answer: its text and reasoning so far come first, its tokens count on."""
        self.text_parts, self.text_len, self.prefix_len = ([text], len(text), len(text)) if text else ([], 0, 0)
        self.reasoning_parts, self.reasoning_len = ([reasoning], len(reasoning)) if reasoning else ([], 0)
        self.base_usage = usage

    @property
    def live(self) -> bool:
        return self.status == "generating"

    async def wait_ended(self, timeout: float) -> None:
        """Until the end is saved and announced. That step is shielded from cancellation and may still run
        once the task is done (a stop that lands while the final save is under way must wait for it and
        answer with the row it writes, never with the "generating" one it is about to replace)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ended.wait(), timeout)

    async def cancel(self, *, stop: bool) -> None:
        """Cancel the task (``stop``: the user asked, it ends as cancelled) and wait until its end is saved."""
        assert self.task is not None
        self.stop_requested = stop
        self.task.cancel()
        await asyncio.wait([self.task], timeout=10)
        await self.wait_ended(STOP_WAIT)

    @property
    def running(self) -> bool:
        """Its task still runs (it can be stopped)."""
        return self.task is not None and not self.task.done()

    def tokens_per_second(self) -> float | None:
        """Completion tokens (the provider's count when given, else chunks) per second of streaming.

        None when there is nothing to measure: fewer than MIN_RATE_CHUNKS chunks, or all of them within
        MIN_RATE_INTERVAL seconds (one burst).
        """
        if self.first_token_at is None or self.last_token_at is None or self.chunks < MIN_RATE_CHUNKS:
            return None
        tokens = (self.usage.completion_tokens if self.usage and self.usage.completion_tokens else None) \
            or self.chunks
        elapsed = self.last_token_at - self.first_token_at
        if elapsed < MIN_RATE_INTERVAL or tokens < 2:
            return None
        # The first token opens the interval, so it does not count as produced inside it.
        return round((tokens - 1) / elapsed, 2)
