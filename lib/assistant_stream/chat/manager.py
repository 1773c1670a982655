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
from .continuation import check_continuable, prepare, usage_of
from .coordination import Coordinator
from .engines import Engine, FailedEngine, model_name
from .eventlog import EventLog
from .generation import Generation, answer_key, title_key
from .models import AnswerPlan, plan, plan_or_default
from .persistence import AnswerSaver
from .runner import Runner
from .stops import Stops
from .takeover import Takeover
from .titles import title_prompt
from .usage import UsageMeter

EngineFor = Callable[[Settings, str, AnswerPlan], Awaitable[Engine]]  # raises NotConfigured
DocumentsEngineFor = Callable[[Settings, str], Awaitable[Engine]]  # "Ask my documents": raises NotConfigured
log = logging.getLogger(__name__)


class GenerationManager:
    """Generations run as tasks of their own: readers come and go, answers end and are saved regardless.

    The ``coordinator`` decides what this process may start (limits, one answer per session, in every process
    of the app) and connects it with the others (stop requests, taking over a dead process's answers).
    """

    def __init__(self, *, storage: AnswerStore, config: ConfigStore, eventlog: EventLog, engine_for: EngineFor,
                 coordinator: Coordinator | None = None, save_interval: float = 1.0, shutdown_grace: float = 10.0,
                 documents_engine_for: DocumentsEngineFor | None = None, budget: BudgetGuard | None = None) -> None:
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
        self._stops = Stops(storage, eventlog, self._coord, self._by_key)
        self._coord.on_stop, self._coord.on_lost = self._stops.here, self._stops.lost
        if hasattr(eventlog, "on_lost"):  # a shared log learns it first when another process took an answer over
            eventlog.on_lost = self._stops.lost  # type: ignore[attr-defined]

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
        """A new version of an answer, next to it (the old one stays, one arrow away)."""
        settings = await self._settings()
        gen = await self._start(await self._begin(user_id, session_id, settings), user_id, session_id, None, settings,
                                beside=message_id)
        assert isinstance(gen, Generation)  # a new version is always new
        return gen

    async def _start(self, token: str, user_id: str, session_id: int, human_id: int | None, settings: Settings,
                     *, beside: int | None = None) -> Generation | Record:
        """One transaction, then the provider request: nothing else stands between a reader and the model."""
        try:
            chosen = plan(settings, await self._storage.session_options(user_id, session_id))  # ModelNotAllowed
            engine = await self._engine_for(settings, user_id, chosen)
            documents = ("context_chat", "context_chat") if self._documents_engine_for is not None else None
            start = await self._storage.start_answer(
                user_id, session_id, human_id, model=model_name(engine.name, chosen), engine=engine.name,
                connection=chosen.connection_id, history_limit=max(1, settings.history_length), beside=beside,
                documents=documents)
        except BaseException:
            self._spawn(self._release(token, None, user_id, session_id, started=False), "end")
            raise
        if start.message is None:  # an answer is there already: attach to it
            self._spawn(self._release(token, None, user_id, session_id, started=False), "end")
            assert start.existing is not None
            return self.for_message(start.existing["id"]) or start.existing
        message = start.message
        gen = self._generation(user_id, message, settings, token)
        try:
            if message["engine"] == "context_chat" and self._documents_engine_for is not None:
                engine = await self._documents_engine_for(settings, user_id)  # the session asks its documents
            # The question's own branch (with its files): what other versions said never reaches the model.
            prompt = await prompt_of(self._storage, start.history, start.attached, settings,  # type: ignore[arg-type]
                                     chosen.model if engine.name == "stream" else "", chosen.system_prompt)
        except BaseException as exc:
            self._launch(gen, FailedEngine(exc), [])  # the row exists: it ends as this error, saved and announced
            raise
        self._launch(gen, engine, prompt)
        return gen

    def _generation(self, user_id: str, message: Record, settings: Settings, token: str) -> Generation:
        """The Generation of an answer whose row exists, bound to the coordinator's ``token`` and its session."""
        gen = Generation(key=answer_key(message["id"]), kind="answer", user_id=user_id,
                         session_id=message["session_id"], message_id=message["id"], reply_to=message["reply_to"],
                         model=message["model"], engine=message["engine"], connection=message["connection"],
                         deadline=settings.answer_timeout, token=token)
        self._by_session[gen.session_id] = gen
        self._coord.bind(token, gen.key, user_id=gen.user_id, session_id=gen.session_id, message_id=message["id"])
        return gen

    async def continue_answer(self, user_id: str, session_id: int, message_id: int) -> Generation:
        """Go on writing an answer that was cut off; the new text is appended to the same message."""
        answer = await self._storage.get_message(user_id, session_id, message_id)
        check_continuable(answer)
        settings = await self._settings()
        token = await self._begin(user_id, session_id, settings)
        try:
            chosen, engine, prompt = await prepare(self._storage, self._engine_for, settings, user_id, answer)
        except BaseException:
            self._spawn(self._release(token, None, user_id, session_id, started=False), "end")
            raise
        gen = self._generation(user_id, {**answer, "model": chosen.model, "connection": chosen.connection_id}, settings,
                               token)
        gen.start_from(answer["content"], answer["reasoning"], usage_of(answer))
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
                # The conversation's model: a user who chose a local one would not want its text sent elsewhere.
                chosen = plan_or_default(settings, await self._storage.session_options(user_id, session_id))
                engine = await self._engine_for(settings, user_id, chosen)
                prompt = title_prompt(await self._storage.list_messages(user_id, session_id,
                                                                        TITLE_CONTEXT_MESSAGES, 0))
                if prompt is None:
                    raise NothingToTitle()
            except BaseException:
                await self._coord.end(token, None, user_id=user_id, session_id=None, started=False)
                raise
            gen = Generation(key=title_key(session_id), kind="title", user_id=user_id, session_id=session_id,
                             message_id=None, reply_to=None, model=chosen.model, engine=engine.name,
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
        """Stop the answer to (or of) ``message_id``, in whichever process generates it (chat/stops.py)."""
        return await self._stops.stop(user_id, session_id, message_id)

    async def stop_session(self, user_id: str, session_id: int) -> None:
        await self._stops.stop_session(user_id, session_id)
