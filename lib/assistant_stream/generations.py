"""Generations: background tasks that read an engine and write the event log and the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .chat.prompt import build_prompt
from .core.errors import (
    AppError,
    MessageNotFound,
    NotFound,
    NothingToTitle,
    ProviderTimeout,
    RateLimited,
    SessionBusy,
    ShuttingDown,
    StorageUnavailable,
    TooManyGenerations,
    render_sse,
)
from .core.events import ChatMessage, Finish, ProviderEvent, ReasoningDelta, TextDelta, Usage
from .core.settings import ConfigStore, Settings
from .eventlog import MemoryEventLog

log = logging.getLogger(__name__)

TITLE_PROMPT = (
    "Write a short title (at most 6 words) for the conversation below. "
    "Reply with the title only, without quotes or punctuation at the end."
)
TITLE_MAX_CHARS = 120


class Engine(Protocol):
    """Something that turns a conversation into a stream of events (a provider, TaskProcessing)."""

    name: str

    def stream(self, user_id: str, messages: list[ChatMessage]) -> AsyncIterator[ProviderEvent]: ...


@dataclass(eq=False)
class Generation:
    """One answer (or title) being generated. ``key`` names its event log."""

    key: str
    kind: str  # "answer" or "title"
    user_id: str
    session_id: int
    message_id: int | None  # the assistant message (None for a title)
    reply_to: int | None  # the human message answered
    model: str
    engine: str
    deadline: float = 900.0  # seconds the whole answer may take
    started_at: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None
    last_token_at: float | None = None
    text_parts: list[str] = field(default_factory=list)
    reasoning_parts: list[str] = field(default_factory=list)
    text_len: int = 0
    reasoning_len: int = 0
    chunks: int = 0
    status: str = "generating"
    finish_reason: str | None = None
    usage: Usage | None = None
    error: AppError | None = None
    final_message: dict[str, Any] | None = None
    stop_requested: bool = False
    dirty: bool = False
    finished: bool = False  # saved and announced: readers may now rely on the database
    task: asyncio.Task[None] | None = None

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

    @property
    def live(self) -> bool:
        return self.status == "generating"

    def tokens_per_second(self) -> float | None:
        """Completion tokens (the provider's count when given, else chunks) per second of streaming."""
        if self.first_token_at is None or self.last_token_at is None:
            return None
        tokens = (self.usage.completion_tokens if self.usage and self.usage.completion_tokens else None) \
            or self.chunks
        elapsed = self.last_token_at - self.first_token_at
        if elapsed <= 0 or tokens < 2:
            return None
        # The first token opens the interval, so it does not count as produced inside it.
        return round((tokens - 1) / elapsed, 2)

    def usage_dict(self) -> dict[str, int | None] | None:
        if self.usage is None:
            return None
        return {"prompt_tokens": self.usage.prompt_tokens, "completion_tokens": self.usage.completion_tokens,
                "total_tokens": self.usage.total_tokens}


class GenerationManager:
    """Starts, tracks, stops and persists generations; one per session, a few per user."""

    def __init__(self, *, storage: Any, config: ConfigStore, eventlog: MemoryEventLog,
                 engine_for: Callable[[Settings, str], Any], save_interval: float = 1.0,
                 shutdown_grace: float = 10.0) -> None:
        self._storage = storage
        self._config = config
        self._log = eventlog
        self._engine_for = engine_for  # async (settings, user_id) -> Engine; raises NotConfigured
        self._save_interval = save_interval
        self._shutdown_grace = shutdown_grace
        self._by_key: dict[str, Generation] = {}
        self._by_session: dict[int, Generation] = {}  # answers only
        self._titles: dict[int, Generation] = {}
        self._per_user: dict[str, int] = defaultdict(int)
        self._starts: dict[str, deque[float]] = defaultdict(deque)
        self._saver: asyncio.Task[None] | None = None
        self._finishing: set[asyncio.Future[None]] = set()
        # Answers that ended while the database was unavailable, by message id, with the status and
        # error they really ended with: the save loop writes them once the database answers again.
        self._unsaved: dict[int, tuple[Generation, str, AppError | None]] = {}
        self._start_lock = asyncio.Lock()
        self._closing = False

    # --- lifecycle -------------------------------------------------------------------------------

    def start_background(self) -> None:
        self._saver = asyncio.create_task(self._save_loop(), name="generation-saver")

    async def shutdown(self) -> None:
        """Let generations finish within the grace period, then save the rest as interrupted."""
        self._closing = True
        tasks = [g.task for g in self._by_key.values() if g.task is not None]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=self._shutdown_grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        if self._finishing:
            # Final saves run shielded from cancellation; the database must outlive them.
            await asyncio.wait(self._finishing, timeout=10)
        await self._save_unsaved()  # a last try; what still fails is marked interrupted at the next start
        if self._saver is not None:
            self._saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._saver

    @property
    def active(self) -> int:
        return len(self._by_key)

    # --- look-ups --------------------------------------------------------------------------------

    def get(self, key: str) -> Generation | None:
        return self._by_key.get(key)

    def for_message(self, message_id: int) -> Generation | None:
        unsaved = self._unsaved.get(message_id)
        return self._by_key.get(answer_key(message_id)) or (unsaved[0] if unsaved else None)

    def for_session(self, session_id: int) -> Generation | None:
        return self._by_session.get(session_id)

    def title_for(self, session_id: int) -> Generation | None:
        return self._titles.get(session_id)

    # --- starting --------------------------------------------------------------------------------

    async def answer(self, user_id: str, session_id: int, human_message_id: int | None = None
                     ) -> Generation | dict[str, Any]:
        """The answer to a human message: a live generation, the stored answer, or a new generation.

        Idempotent, so a reconnecting browser attaches instead of starting a second answer.
        """
        await self._storage.get_session(user_id, session_id)
        if human_message_id is None:
            human = await self._storage.last_human_message(user_id, session_id)
        else:
            human = await self._storage.get_message(user_id, session_id, human_message_id)
            if human["role"] != "human":
                raise MessageNotFound("Message not found: messageId must be the user's message")
        async with self._start_lock:  # check-then-start must not interleave for one session
            live = self._by_session.get(session_id)
            if live is not None and live.reply_to == human["id"]:
                return live
            existing = await self._storage.answer_to(user_id, session_id, human["id"])
            if existing is not None and existing["status"] != "generating":
                return existing
            if existing is not None and existing["id"] in self._unsaved:
                # It ended and only its final save waits for the database: never answer twice.
                return self._unsaved[existing["id"]][0]
            if live is not None:
                raise SessionBusy()
            return await self._start_answer(user_id, session_id, human)

    async def regenerate(self, user_id: str, session_id: int, message_id: int) -> Generation:
        message = await self._storage.get_message(user_id, session_id, message_id)
        if message["role"] != "assistant" or message["reply_to"] is None:
            raise MessageNotFound("Message not found: messageId must be an assistant answer")
        human = await self._storage.get_message(user_id, session_id, message["reply_to"])
        async with self._start_lock:
            if session_id in self._by_session:
                raise SessionBusy()
            return await self._start_answer(user_id, session_id, human, replaces=message_id)

    async def title(self, user_id: str, session_id: int) -> Generation:
        await self._storage.get_session(user_id, session_id)
        async with self._start_lock:
            live = self._titles.get(session_id)
            if live is not None and not live.finished:
                return live
            settings = await self._config.get()
            # A title costs a provider request like an answer: it counts against the start rate (not
            # against the concurrent answers, so a title never waits for the user's other chats).
            self._check_limits(user_id, settings, concurrency=False)
            engine = await self._engine_for(settings, user_id)
            messages = await self._storage.list_messages(user_id, session_id, 4, 0)
            convo = "\n\n".join(f"{m['role']}: {m['content'][:2000]}" for m in messages if m["content"])
            if not convo:
                raise NothingToTitle()
            prompt = [ChatMessage("system", TITLE_PROMPT), ChatMessage("user", convo)]
            gen = Generation(key=title_key(session_id), kind="title", user_id=user_id, session_id=session_id,
                             message_id=None, reply_to=None, model=settings.streaming_model, engine=engine.name,
                             deadline=settings.answer_timeout)
            self._titles[session_id] = gen
            self._starts[user_id].append(time.monotonic())
            self._launch(gen, engine, prompt)
            return gen

    async def _start_answer(self, user_id: str, session_id: int, human: dict[str, Any], *,
                            replaces: int | None = None) -> Generation:
        settings = await self._config.get()
        self._check_limits(user_id, settings)
        engine = await self._engine_for(settings, user_id)
        history = await self._storage.history(session_id, human["id"] + 1, max(1, settings.history_length))
        messages = build_prompt(history, settings)
        model = settings.streaming_model if engine.name == "stream" else "nextcloud"
        # The old answer of a regeneration goes in the same transaction as the new one is created, and
        # only once nothing can refuse the new answer: a refused or failed regeneration keeps the old one.
        message = await self._storage.add_message(user_id, session_id, "assistant", "", None,
                                                  status="generating", reply_to=human["id"], model=model,
                                                  replaces=replaces)
        gen = Generation(key=answer_key(message["id"]), kind="answer", user_id=user_id, session_id=session_id,
                         message_id=message["id"], reply_to=human["id"], model=model, engine=engine.name,
                         deadline=settings.answer_timeout)
        self._by_session[session_id] = gen
        self._per_user[user_id] += 1
        self._starts[user_id].append(time.monotonic())
        self._launch(gen, engine, messages)
        return gen

    def _check_limits(self, user_id: str, settings: Settings, *, concurrency: bool = True) -> None:
        if self._closing:
            raise ShuttingDown()
        if concurrency and self._per_user[user_id] >= max(1, settings.max_concurrent_per_user):
            raise TooManyGenerations(f"You already have {self._per_user[user_id]} answers being generated; "
                                     "wait for one to finish", retry_after=5)
        window = self._starts[user_id]
        now = time.monotonic()
        while window and now - window[0] > 60:
            window.popleft()
        if settings.max_starts_per_minute and len(window) >= settings.max_starts_per_minute:
            raise RateLimited("Too many answers started in the last minute; try again shortly",
                              retry_after=60 - (now - window[0]))

    def _launch(self, gen: Generation, engine: Engine, messages: list[ChatMessage]) -> None:
        self._by_key[gen.key] = gen
        self._log.open(gen.key)
        self._log.append(gen.key, "started", {"started": True, "messageId": gen.message_id,
                                             "replyTo": gen.reply_to, "model": gen.model, "engine": gen.engine})
        gen.task = asyncio.create_task(self._run(gen, engine, messages), name=f"generation-{gen.key}")

    # --- running ---------------------------------------------------------------------------------

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
                gen.chunks += 1
                gen.text_parts.append(event.text)
                gen.text_len += len(event.text)
                gen.dirty = True
                append(gen.key, "chunk", event.text)
            elif isinstance(event, ReasoningDelta):
                gen.reasoning_parts.append(event.text)
                gen.reasoning_len += len(event.text)
                gen.dirty = True
                append(gen.key, "reasoning", event.text)
            elif isinstance(event, Usage):
                gen.usage = event
            elif isinstance(event, Finish):
                gen.finish_reason = event.reason

    async def _finish(self, gen: Generation) -> None:
        try:
            if gen.kind == "answer":
                gen.final_message = await self._save_final(gen)
            else:
                await self._save_title(gen)
        except AppError as exc:
            log.error("Could not save generation %s: %s", gen.key, exc.message)
            if gen.kind == "answer" and isinstance(exc, StorageUnavailable) and gen.message_id is not None:
                self._unsaved[gen.message_id] = (gen, gen.status, gen.error)
            if gen.status != "error":
                gen.status, gen.error = "error", exc
        finally:
            self._log.append(gen.key, *self._terminal_event(gen))
            self._log.close(gen.key)
            gen.finished = True
            self._by_key.pop(gen.key, None)
            if gen.kind == "answer":
                if self._by_session.get(gen.session_id) is gen:
                    del self._by_session[gen.session_id]
                self._per_user[gen.user_id] -= 1
                if self._per_user[gen.user_id] <= 0:
                    del self._per_user[gen.user_id]

    async def _save_final(self, gen: Generation, outcome: tuple[str, AppError | None] | None = None,
                          *, tries: int = 3) -> dict[str, Any] | None:
        """Store the answer with ``outcome`` (status, error), by default the generation's own."""
        usage = gen.usage
        status, error = outcome if outcome is not None else (gen.status, gen.error)
        for attempt in range(tries):
            try:
                return await self._storage.finish_message(
                    gen.message_id, status=status, content=gen.text, reasoning=gen.reasoning,
                    finish_reason=gen.finish_reason, error=error.message if error else None,
                    prompt_tokens=usage.prompt_tokens if usage else None,
                    completion_tokens=usage.completion_tokens if usage else None,
                    total_tokens=usage.total_tokens if usage else None,
                    tokens_per_second=gen.tokens_per_second())
            except StorageUnavailable:
                if attempt == tries - 1:
                    raise
                await asyncio.sleep(0.5 * (attempt + 1))
        return None

    async def _save_title(self, gen: Generation) -> None:
        title = clean_title(gen.text)
        if gen.status == "done" and title:
            with contextlib.suppress(NotFound):
                await self._storage.update_session_title(gen.user_id, gen.session_id, title)

    def _terminal_event(self, gen: Generation) -> tuple[str, dict[str, Any]]:
        if gen.status == "error":
            payload = render_sse(gen.error) if gen.error else {"error": "The answer failed", "code": "error"}
            payload["message"] = gen.final_message
            return "error", payload
        payload = {"done": True, "message": gen.final_message, "status": gen.status,
                   "finishReason": gen.finish_reason, "usage": gen.usage_dict(),
                   "tokensPerSecond": gen.tokens_per_second()}
        if gen.kind == "title":
            payload["title"] = clean_title(gen.text)
        return "done", payload

    async def _save_loop(self) -> None:
        """Save every running answer's text about once a second, so a crash loses at most a second."""
        while True:
            await asyncio.sleep(self._save_interval)
            batch = [g for g in list(self._by_key.values()) if g.dirty and g.kind == "answer" and g.live]
            for gen in batch:
                gen.dirty = False
                try:
                    await self._storage.save_progress(gen.message_id, gen.text, gen.reasoning)
                except AppError as exc:
                    gen.dirty = True  # try again next round; the final save is what matters
                    log.warning("Could not save progress of %s: %s", gen.key, exc.message)
                except Exception:
                    gen.dirty = True
                    log.exception("Could not save progress of %s", gen.key)
            await self._save_unsaved()

    async def _save_unsaved(self) -> None:
        """Write answers whose final save failed, as they really ended, once the database is back."""
        for message_id, (gen, status, error) in list(self._unsaved.items()):
            try:
                gen.final_message = await self._save_final(gen, (status, error), tries=1)
            except AppError:
                continue  # still unavailable; the outage itself was logged when the save first failed
            except Exception:
                log.exception("Could not save %s", gen.key)
                continue
            self._unsaved.pop(message_id, None)
            log.info("Saved %s now that the database answers again", gen.key)

    # --- stopping --------------------------------------------------------------------------------

    async def stop(self, user_id: str, session_id: int, message_id: int) -> dict[str, Any]:
        """Stop the answer to (or of) ``message_id``; keeps the partial text as ``cancelled``."""
        message = await self._storage.get_message(user_id, session_id, message_id)
        if message["role"] == "human":
            answer = await self._storage.answer_to(user_id, session_id, message_id)
            if answer is None:
                raise MessageNotFound("There is no answer to stop")
            message = answer
        gen = self._by_key.get(answer_key(message["id"]))
        if gen is not None and gen.task is not None and not gen.task.done():
            gen.stop_requested = True
            gen.task.cancel()
            await asyncio.wait([gen.task], timeout=10)
            if gen.final_message is not None:
                return gen.final_message
        return await self._storage.get_message(user_id, session_id, message["id"])

    async def stop_session(self, user_id: str, session_id: int) -> None:
        for gen in [g for g in self._by_key.values() if g.session_id == session_id and g.user_id == user_id]:
            if gen.task is not None and not gen.task.done():
                gen.stop_requested = True
                gen.task.cancel()
                await asyncio.wait([gen.task], timeout=10)


def answer_key(message_id: int) -> str:
    return f"m{message_id}"


def title_key(session_id: int) -> str:
    return f"t{session_id}"


def clean_title(text: str) -> str:
    title = " ".join(text.split()).strip().strip("\"'“”«»").strip()
    if title.lower().startswith("title:"):
        title = title[6:].strip()
    return title[:TITLE_MAX_CHARS]
