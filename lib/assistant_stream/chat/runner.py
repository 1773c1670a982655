"""Running one generation: read the engine, append to the event log, save the end shielded from cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from ..core.errors import AppError, GenerationFailed, ProviderTimeout, StorageUnavailable
from ..core.estimate import estimate_prompt
from ..core.events import ChatMessage, Finish, ProviderEvent, ReasoningDelta, Sources, TextDelta, Usage
from ..core.text import clean_text
from .answer import AnswerView
from .engines import Engine
from .eventlog import EventLog
from .generation import Generation
from .persistence import AnswerSaver

log = logging.getLogger(__name__)


class Runner:
    """Runs generations as tasks of their own: they end the same way whether anyone reads them or not."""

    def __init__(self, eventlog: EventLog, saver: AnswerSaver, on_end: Callable[[Generation], None]) -> None:
        self._log = eventlog
        self._saver = saver
        self._on_end = on_end  # the manager's bookkeeping, called once the end is saved and announced
        self._finishing: set[asyncio.Future[None]] = set()

    def launch(self, gen: Generation, engine: Engine, messages: list[ChatMessage]) -> None:
        # What the prompt costs, in case the provider reports no usage (chat/usage.py counts it then).
        gen.prompt_estimate = estimate_prompt((m.content for m in messages), sum(len(m.images) for m in messages))
        self._log.open(gen.key)
        self._log.append(gen.key, "started", AnswerView.started(gen))
        # A continued answer: a reader from the start gets its text so far first, as if it had streamed.
        if gen.reasoning:
            self._log.append(gen.key, "reasoning", gen.reasoning)
        if gen.text:
            self._log.append(gen.key, "chunk", gen.text)
        gen.task = asyncio.create_task(self._run(gen, engine, messages), name=f"generation-{gen.key}")

    async def wait_finishing(self, timeout: float) -> None:
        """Wait for final saves in progress (they run shielded from cancellation)."""
        if self._finishing:
            await asyncio.wait(self._finishing, timeout=timeout)

    async def _run(self, gen: Generation, engine: Engine, messages: list[ChatMessage]) -> None:
        stream = engine.stream(gen.user_id, messages)
        try:
            async with asyncio.timeout(gen.deadline):
                await self._consume(gen, stream)
            gen.status = "done"
        except TimeoutError:
            gen.status = "error"
            gen.error = ProviderTimeout(f"The answer took longer than {gen.deadline:g} s and was cut off",
                                        partial=gen.chunks > 0)
        except asyncio.CancelledError:
            gen.status = "cancelled" if gen.stop_requested else "interrupted"
        except AppError as exc:
            gen.status = "error"
            gen.error = exc
        except Exception:
            log.exception("Generation %s failed unexpectedly", gen.key)
            gen.status = "error"
            gen.error = AppError("The answer failed because of an internal error")
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()  # type: ignore[attr-defined]
            # Shielded: a cancelled task must still save what it has and tell its readers.
            finishing = asyncio.ensure_future(self._finish(gen))
            self._finishing.add(finishing)
            finishing.add_done_callback(self._finishing.discard)
            await asyncio.shield(finishing)

    async def _consume(self, gen: Generation, stream: AsyncIterator[ProviderEvent]) -> None:
        append = self._log.append
        async for event in stream:
            if isinstance(event, TextDelta):
                now = time.monotonic()
                if gen.first_token_at is None:
                    gen.first_token_at = now
                gen.last_token_at = now
                text = clean_text(event.text)  # where model text enters: streamed == stored == replayed
                gen.chunks += 1
                gen.text_parts.append(text)
                gen.text_len += len(text)
                gen.dirty = True
                append(gen.key, "chunk", text)
            elif isinstance(event, ReasoningDelta):
                if gen.first_reasoning_at is None:
                    gen.first_reasoning_at = time.monotonic()
                text = clean_text(event.text)
                gen.reasoning_parts.append(text)
                gen.reasoning_len += len(text)
                gen.dirty = True
                append(gen.key, "reasoning", text)
            elif isinstance(event, Usage):
                gen.usage = event
            elif isinstance(event, Finish):
                gen.finish_reason = event.reason
            elif isinstance(event, Sources):
                gen.sources = event.items

    async def _finish(self, gen: Generation) -> None:
        try:
            if gen.kind == "answer":
                gen.final_message = await self._saver.save_final(gen)
            else:
                await self._saver.save_title(gen)
        except AppError as exc:
            log.error("Could not save generation %s: %s", gen.key, exc.message)
            if gen.kind == "answer" and isinstance(exc, StorageUnavailable):
                self._saver.keep_unsaved(gen)
            if gen.status != "error":
                gen.status, gen.error = "error", exc
        finally:
            if gen.status == "error" and gen.error is None:
                gen.error = GenerationFailed()
            if gen.status == "error" and gen.error is not None:
                # What an admin looks for first; the message names the cause and never holds a secret.
                log.info("Generation %s failed (%s): %s", gen.key, gen.error.code, gen.error.message)
            self._log.append(gen.key, "error" if gen.status == "error" else "done",
                             AnswerView.of_generation(gen, ended=True))
            self._log.close(gen.key)
            gen.finished = True
            gen.ended.set()
            self._on_end(gen)
