"""GenerationManager: starts, finds, stops and shuts down generations; one per session, a few per user."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ..core.config_store import ConfigStore
from ..core.errors import MessageNotFound, NothingToTitle, RateLimited, SessionBusy, ShuttingDown
from ..core.events import ChatMessage
from ..core.limits import TITLE_CONTEXT_MESSAGES
from ..core.settings import Settings
from ..store.coordination_memory import MemoryCoordinator
from ..store.values import Record
from .answer_store import AnswerStore
from .budgets import BudgetGuard
from .context import prompt_of
from .coordination import Coordinator
from .engines import Engine, FailedEngine, model_name
from .eventlog import EventLog
from .generation import Generation, answer_key, title_key
from .persistence import AnswerSaver
from .runner import Runner
from .takeover import Takeover, wait_for_end
from .titles import title_prompt
from .usage import UsageMeter

EngineFor = Callable[[Settings, str], Awaitable[Engine]]  # raises NotConfigured
log = logging.getLogger(__name__)


class GenerationManager:
    """Generations run as tasks of their own: readers come and go, answers end and are saved regardless.

    The ``coordinator`` decides what this process may start (limits, one answer per session, in every process
    of the app) and connects it with the others (stop requests, taking over a dead process's answers).
    """

    def __init__(self, *, storage: AnswerStore, config: ConfigStore, eventlog: EventLog, engine_for: EngineFor,
                 coordinator: Coordinator | None = None, save_interval: float = 1.0, shutdown_grace: float = 10.0,
                 documents_engine_for: EngineFor | None = None, budget: BudgetGuard | None = None) -> None:
        self._storage, self._config, self._log, self._engine_for = storage, config, eventlog, engine_for
        self._save_interval, self._shutdown_grace = save_interval, shutdown_grace
        self._documents_engine_for = documents_engine_for  # "Ask my documents" (context_chat); None without Nextcloud
        self._coord = coordinator if coordinator is not None else MemoryCoordinator()
        self._budget = budget  # token budgets, checked before any start; None: none (tests of other parts)
        self._saver = AnswerSaver(storage, meter=UsageMeter(config, budget) if budget is not None else None)
        self._runner = Runner(eventlog, self._saver, self._ended)
        self._takeover = Takeover(storage, eventlog, self._coord, owned=self._owns)
        self._by_key: dict[str, Generation] = {}
        self._by_session: dict[int, Generation] = {}  # answers only
        self._titles: dict[int, Generation] = {}
        self._title_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._coord.on_stop, self._coord.on_lost = self._stop_here, self._lost
        if hasattr(eventlog, "on_lost"):  # a shared log learns it first when another process took an answer over
            eventlog.on_lost = self._lost  # type: ignore[attr-defined]

    def start_background(self) -> None:
        self._spawn(self._save_loop(), "generation-saver")
        self._spawn(self._takeover.sweep_loop(), "generation-sweeper")

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
        await self._saver.retry_unsaved()  # a last try; what still fails is marked interrupted later
        for task in list(self._tasks):
            task.cancel()
        await asyncio.wait(self._tasks, timeout=5) if self._tasks else None

    async def _save_loop(self) -> None:
        """Save every running answer's text about once a second (one transaction), so a crash loses a second."""
        while True:
            await asyncio.sleep(self._save_interval)
            await self._saver.save_progress(list(self._by_key.values()))
            await self._saver.retry_unsaved()

    def _spawn(self, coro: Awaitable[None], _name: str) -> None:
        (task := asyncio.ensure_future(coro)).add_done_callback(self._tasks.discard)
        self._tasks.add(task)

    @property
    def active(self) -> int:
        return len(self._by_key)

    def get(self, key: str) -> Generation | None:
        return self._by_key.get(key)

    def for_message(self, message_id: int) -> Generation | None:
        return self._by_key.get(answer_key(message_id)) or self._saver.unsaved(message_id)

    def for_session(self, session_id: int) -> Generation | None:
        return self._by_session.get(session_id)

    def title_for(self, session_id: int) -> Generation | None:
        return self._titles.get(session_id)

    async def running_answer(self, session_id: int) -> int | None:
        """The message id of the answer a session is generating, in this process or another."""
        gen = self._by_session.get(session_id)
        if gen is not None:
            return gen.message_id
        key = await self._coord.session_key(session_id)
        return int(key[1:]) if key and key.startswith("m") and key[1:].isdigit() else None

    def _owns(self, key: str) -> bool:
        message_id = int(key[1:]) if key[1:].isdigit() else 0
        return key in self._by_key or self._saver.unsaved(message_id) is not None

    async def answer(self, user_id: str, session_id: int, human_message_id: int | None = None
                     ) -> Generation | Record:
        """The answer to a human message: a live generation, the stored answer (also one that another process
        is generating: its row says ``generating``), or a new generation.

        Idempotent, so a reconnecting browser attaches instead of starting a second answer.
        """
        live = self._by_session.get(session_id)
        if live is not None and live.user_id == user_id and human_message_id in (None, live.reply_to):
            return live
        settings = await self._settings()
        try:
            token = await self._begin(user_id, session_id, settings)
        except SessionBusy as busy:
            return await self._attach(user_id, session_id, human_message_id, busy)
        except RateLimited:  # BudgetExceeded too
            # Reading an answer that exists is not a start: never limited.
            existing = await self._existing(user_id, session_id, human_message_id)
            if existing is None:
                raise
            return existing
        return await self._start(token, user_id, session_id, human_message_id, settings)

    async def regenerate(self, user_id: str, session_id: int, message_id: int) -> Generation:
        settings = await self._settings()
        gen = await self._start(await self._begin(user_id, session_id, settings), user_id, session_id, None, settings,
                                replaces=message_id)
        assert isinstance(gen, Generation)  # a replacement is always new
        return gen

    async def _start(self, token: str, user_id: str, session_id: int, human_id: int | None, settings: Settings,
                     *, replaces: int | None = None) -> Generation | Record:
        """One transaction, then the provider request: nothing else stands between a reader and the model."""
        try:
            engine = await self._engine_for(settings, user_id)
            documents = ("context_chat", "context_chat") if self._documents_engine_for is not None else None
            # The old answer of a regeneration goes in the same transaction as the new one is created, and
            # only once nothing can refuse the new answer: a refused or failed regeneration keeps the old one.
            start = await self._storage.start_answer(
                user_id, session_id, human_id, model=model_name(engine.name, settings), engine=engine.name,
                history_limit=max(1, settings.history_length), replaces=replaces, documents=documents)
        except BaseException:
            self._spawn(self._release(token, None, user_id, session_id, started=False), "end")
            raise
        if start.message is None:  # an answer is there already: attach to it
            self._spawn(self._release(token, None, user_id, session_id, started=False), "end")
            assert start.existing is not None
            return self.for_message(start.existing["id"]) or start.existing
        message = start.message
        gen = Generation(key=answer_key(message["id"]), kind="answer", user_id=user_id, session_id=session_id,
                         message_id=message["id"], reply_to=start.human["id"], model=message["model"],
                         engine=message["engine"], deadline=settings.answer_timeout, token=token)
        self._by_session[session_id] = gen
        self._coord.bind(token, gen.key, user_id=user_id, session_id=session_id, message_id=message["id"])
        try:
            if message["engine"] == "context_chat" and self._documents_engine_for is not None:
                engine = await self._documents_engine_for(settings, user_id)  # the session asks its documents
            prompt = await prompt_of(self._storage, start.history, start.attached, settings,  # type: ignore[arg-type]
                                     settings.streaming_model if engine.name == "stream" else "")
        except BaseException as exc:
            self._launch(gen, FailedEngine(exc), [])  # the row exists: it ends as this error, saved and announced
            raise
        self._launch(gen, engine, prompt)
        return gen

    async def _attach(self, user_id: str, session_id: int, human_id: int | None, busy: SessionBusy
                      ) -> Generation | Record:
        """The session is generating: the answer to this message if that is it (here or in another process),
        its stored answer if it has one, else SessionBusy."""
        for _ in range(20):  # the running answer may still be starting elsewhere (its key not known yet)
            existing = await self._existing(user_id, session_id, human_id)
            if existing is not None:
                return existing
            if getattr(busy, "current", None) is not None:
                break
            await asyncio.sleep(0.05)
        raise SessionBusy()

    async def _existing(self, user_id: str, session_id: int, human_id: int | None) -> Generation | Record | None:
        human = (await self._storage.last_human_message(user_id, session_id) if human_id is None
                 else await self._storage.get_message(user_id, session_id, human_id))
        if human["role"] != "human":
            raise MessageNotFound("Message not found: messageId must be the user's message")
        existing = await self._storage.answer_to(user_id, session_id, human["id"])
        return None if existing is None else self.for_message(existing["id"]) or existing

    async def title(self, user_id: str, session_id: int) -> Generation:
        await self._storage.get_session(user_id, session_id)
        async with self._title_lock:
            live = self._titles.get(session_id)
            if live is not None and not live.finished:
                return live
            settings = await self._settings()
            token = await self._begin(user_id, None, settings)
            try:
                engine = await self._engine_for(settings, user_id)
                prompt = title_prompt(await self._storage.list_messages(user_id, session_id,
                                                                        TITLE_CONTEXT_MESSAGES, 0))
                if prompt is None:
                    raise NothingToTitle()
            except BaseException:
                await self._coord.end(token, None, user_id=user_id, session_id=None, started=False)
                raise
            gen = Generation(key=title_key(session_id), kind="title", user_id=user_id, session_id=session_id,
                             message_id=None, reply_to=None, model=settings.streaming_model, engine=engine.name,
                             deadline=settings.answer_timeout, token=token)
            self._titles[session_id] = gen
            self._launch(gen, engine, prompt)
            return gen

    async def _begin(self, user_id: str, session_id: int | None, settings: Settings) -> str:
        """A start's slot in the user's limits, once no token budget of theirs is used up (BudgetExceeded). A title
        (``session_id`` None) counts against the start rate, not the concurrent answers: it never waits for them."""
        if self._budget is not None:
            await self._budget.check(user_id, settings)
        concurrent = 0 if session_id is None else max(1, settings.max_concurrent_per_user)
        return await self._coord.begin(user_id, session_id=session_id, max_starts=settings.max_starts_per_minute,
                                       max_concurrent=concurrent)

    async def _settings(self) -> Settings:
        if self._closing:
            raise ShuttingDown()
        return await self._config.get()

    def _launch(self, gen: Generation, engine: Engine, messages: list[ChatMessage]) -> None:
        self._by_key[gen.key] = gen
        self._runner.launch(gen, engine, messages)

    def _ended(self, gen: Generation) -> None:
        self._by_key.pop(gen.key, None)
        if gen.kind == "answer":
            if self._by_session.get(gen.session_id) is gen:
                del self._by_session[gen.session_id]
            self._spawn(self._release(gen.token, gen.key, gen.user_id, gen.session_id), "end")

    async def _release(self, token: str, key: str | None, user_id: str, session_id: int, started: bool = True
                       ) -> None:
        try:
            await self._coord.end(token, key, user_id=user_id, session_id=session_id, started=started)
        except Exception as exc:  # Redis down: the slots expire with the lease that nobody renews now
            log.warning("could not release %s: %s", key or token, type(exc).__name__)

    async def stop(self, user_id: str, session_id: int, message_id: int) -> Record:
        """Stop the answer to (or of) ``message_id``, in whichever process generates it; keeps the partial
        text as ``cancelled``."""
        message = await self._storage.get_message(user_id, session_id, message_id)
        if message["role"] == "human":
            answer = await self._storage.answer_to(user_id, session_id, message_id)
            if answer is None:
                raise MessageNotFound("There is no answer to stop")
            message = answer
        key = answer_key(message["id"])
        gen = self._by_key.get(key)
        if gen is not None and not gen.finished:  # its task may be done already, its final save not
            await gen.cancel(stop=True)
            if gen.final_message is not None:
                return gen.final_message
        elif message["status"] == "generating" and await self._coord.request_stop(key):
            await wait_for_end(self._log, key, 10)
        return await self._storage.get_message(user_id, session_id, message["id"])

    async def stop_session(self, user_id: str, session_id: int) -> None:
        for gen in [g for g in self._by_key.values() if g.session_id == session_id and g.user_id == user_id]:
            if gen.running:
                await gen.cancel(stop=True)
        key = await self._coord.session_key(session_id)
        if key is not None and key not in self._by_key and await self._coord.request_stop(key):
            await wait_for_end(self._log, key, 10)

    def _stop_here(self, key: str, *, stop: bool = True) -> None:
        """A stop relayed for an answer made here (``stop`` False: another process took it over: interrupted)."""
        gen = self._by_key.get(key)
        if gen is not None and gen.task is not None and not gen.task.done():
            gen.stop_requested = stop
            gen.task.cancel()

    def _lost(self, key: str) -> None:
        self._stop_here(key, stop=False)
