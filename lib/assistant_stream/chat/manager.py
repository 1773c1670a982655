"""GenerationManager: starts, finds, stops and shuts down generations; one per session, a few per user."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from ..core.errors import MessageNotFound, NothingToTitle, SessionBusy, ShuttingDown
from ..core.events import ChatMessage
from ..core.limits import TITLE_CONTEXT_MESSAGES
from ..core.settings import ConfigStore, Settings
from ..store.values import Record
from .answer_store import AnswerStore
from .context import answer_prompt
from .engines import Engine
from .eventlog import EventLog
from .generation import Generation, answer_key, title_key
from .limits import StartLimits
from .persistence import AnswerSaver
from .runner import Runner
from .titles import title_prompt

EngineFor = Callable[[Settings, str], Awaitable[Engine]]  # raises NotConfigured


class GenerationManager:
    """Generations run as tasks of their own: readers come and go, answers end and are saved regardless."""

    def __init__(self, *, storage: AnswerStore, config: ConfigStore, eventlog: EventLog, engine_for: EngineFor,
                 save_interval: float = 1.0, shutdown_grace: float = 10.0, limits: StartLimits | None = None,
                 documents_engine_for: EngineFor | None = None) -> None:
        self._storage = storage
        self._config = config
        self._engine_for = engine_for
        # "Ask my documents" (context_chat); None where the app has no Nextcloud.
        self._documents_engine_for = documents_engine_for
        self._save_interval = save_interval
        self._shutdown_grace = shutdown_grace
        self._limits = limits or StartLimits()
        self._saver = AnswerSaver(storage)
        self._runner = Runner(eventlog, self._saver, self._ended)
        self._by_key: dict[str, Generation] = {}
        self._by_session: dict[int, Generation] = {}  # answers only
        self._titles: dict[int, Generation] = {}
        self._save_task: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()
        self._closing = False

    # --- lifecycle -------------------------------------------------------------------------------

    def start_background(self) -> None:
        self._save_task = asyncio.create_task(self._save_loop(), name="generation-saver")

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
        # Final saves run shielded from cancellation; the database must outlive them.
        await self._runner.wait_finishing(timeout=10)
        await self._saver.retry_unsaved()  # a last try; what still fails is marked interrupted at the next start
        if self._save_task is not None:
            self._save_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._save_task

    async def _save_loop(self) -> None:
        """Save every running answer's text about once a second, so a crash loses at most a second."""
        while True:
            await asyncio.sleep(self._save_interval)
            await self._saver.save_progress(list(self._by_key.values()))
            await self._saver.retry_unsaved()

    @property
    def active(self) -> int:
        return len(self._by_key)

    # --- look-ups --------------------------------------------------------------------------------

    def get(self, key: str) -> Generation | None:
        return self._by_key.get(key)

    def for_message(self, message_id: int) -> Generation | None:
        return self._by_key.get(answer_key(message_id)) or self._saver.unsaved(message_id)

    def for_session(self, session_id: int) -> Generation | None:
        return self._by_session.get(session_id)

    def title_for(self, session_id: int) -> Generation | None:
        return self._titles.get(session_id)

    # --- starting --------------------------------------------------------------------------------

    async def answer(self, user_id: str, session_id: int, human_message_id: int | None = None
                     ) -> Generation | Record:
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
            unsaved = self._saver.unsaved(existing["id"]) if existing is not None else None
            if unsaved is not None:
                return unsaved  # it ended and only its final save waits for the database: never answer twice
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
            self._check(user_id, settings, concurrency=False)
            engine = await self._engine_for(settings, user_id)
            prompt = title_prompt(await self._storage.list_messages(user_id, session_id, TITLE_CONTEXT_MESSAGES, 0))
            if prompt is None:
                raise NothingToTitle()
            gen = Generation(key=title_key(session_id), kind="title", user_id=user_id, session_id=session_id,
                             message_id=None, reply_to=None, model=settings.streaming_model, engine=engine.name,
                             deadline=settings.answer_timeout)
            self._titles[session_id] = gen
            self._launch(gen, engine, prompt)
            return gen

    async def _start_answer(self, user_id: str, session_id: int, human: Record, *,
                            replaces: int | None = None) -> Generation:
        settings = await self._config.get()
        self._check(user_id, settings)
        session = await self._storage.get_session(user_id, session_id)
        if session.get("context_chat") and self._documents_engine_for is not None:
            engine = await self._documents_engine_for(settings, user_id)
        else:
            engine = await self._engine_for(settings, user_id)
        model = {"stream": settings.streaming_model, "context_chat": "context_chat"}.get(engine.name, "nextcloud")
        prompt = await answer_prompt(self._storage, session_id, human["id"], settings,  # type: ignore[arg-type]
                                     settings.streaming_model if engine.name == "stream" else "")
        # The old answer of a regeneration goes in the same transaction as the new one is created, and
        # only once nothing can refuse the new answer: a refused or failed regeneration keeps the old one.
        message = await self._storage.add_message(user_id, session_id, "assistant", "", None,
                                                  status="generating", reply_to=human["id"], model=model,
                                                  engine=engine.name, replaces=replaces)
        gen = Generation(key=answer_key(message["id"]), kind="answer", user_id=user_id, session_id=session_id,
                         message_id=message["id"], reply_to=human["id"], model=model, engine=engine.name,
                         deadline=settings.answer_timeout)
        self._by_session[session_id] = gen
        self._launch(gen, engine, prompt)
        return gen

    def _check(self, user_id: str, settings: Settings, *, concurrency: bool = True) -> None:
        if self._closing:
            raise ShuttingDown()
        self._limits.check(user_id, settings, concurrency=concurrency)

    def _launch(self, gen: Generation, engine: Engine, messages: list[ChatMessage]) -> None:
        self._limits.started(gen.user_id, answer=gen.kind == "answer")
        self._by_key[gen.key] = gen
        self._runner.launch(gen, engine, messages)

    def _ended(self, gen: Generation) -> None:
        self._by_key.pop(gen.key, None)
        if gen.kind == "answer":
            if self._by_session.get(gen.session_id) is gen:
                del self._by_session[gen.session_id]
            self._limits.ended(gen.user_id)

    # --- stopping --------------------------------------------------------------------------------

    async def stop(self, user_id: str, session_id: int, message_id: int) -> Record:
        """Stop the answer to (or of) ``message_id``; keeps the partial text as ``cancelled``."""
        message = await self._storage.get_message(user_id, session_id, message_id)
        if message["role"] == "human":
            answer = await self._storage.answer_to(user_id, session_id, message_id)
            if answer is None:
                raise MessageNotFound("There is no answer to stop")
            message = answer
        gen = self._by_key.get(answer_key(message["id"]))
        if gen is not None and gen.running:
            await self._cancel(gen)
            if gen.final_message is not None:
                return gen.final_message
        return await self._storage.get_message(user_id, session_id, message["id"])

    async def stop_session(self, user_id: str, session_id: int) -> None:
        for gen in [g for g in self._by_key.values() if g.session_id == session_id and g.user_id == user_id]:
            if gen.running:
                await self._cancel(gen)

    @staticmethod
    async def _cancel(gen: Generation) -> None:
        assert gen.task is not None
        gen.stop_requested = True
        gen.task.cancel()
        await asyncio.wait([gen.task], timeout=10)
