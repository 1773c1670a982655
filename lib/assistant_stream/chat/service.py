"""ChatService: everything a route may ask for; routes never touch storage, generations or the event log."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ..core.config_store import ConfigStore
from ..core.env import AppEnv
from ..core.errors import (
    AppError,
    EmptyMessage,
    InvalidInput,
    InvalidParameter,
    MessageNotFound,
    MissingParameter,
    NotConfigured,
    NotFound,
)
from ..core.limits import FIRST_MESSAGE_TITLE
from ..core.settings import Settings
from ..nextcloud.server import NextcloudServer
from ..providers.diagnostics import ConnectionReport, diagnose_settings
from ..providers.transport import ProviderClient
from ..store.storage import Storage
from ..store.values import Record
from .answer import AnswerView
from .attachments import AttachmentService
from .connections import AdminConnections
from .delivery import follow
from .engines import DocumentsCheck, DocumentsState
from .eventlog import Event, EventLog
from .export import Exports
from .generation import Generation, answer_key
from .manager import GenerationManager
from .options import Options
from .remote import RemoteAnswers
from .versions import Versions


@dataclass(frozen=True, slots=True)
class SessionState:
    answer_id: int | None  # the answer being generated in the session, if any
    title_running: bool
    title: str | None


@dataclass(frozen=True, slots=True)
class TitleState:
    generation: AnswerView | None  # a title generation still running, or one that failed
    title: str | None  # else the session's title


@dataclass(frozen=True, slots=True)
class Delivery:
    """An answer (or title) a reader asked for: its event log key and how it stands now."""

    key: str
    view: AnswerView
    live: bool  # a generation of this process; False: only the stored row is known


def _view(result: Generation | Record) -> AnswerView:
    return AnswerView.of_generation(result) if isinstance(result, Generation) else AnswerView.of_row(result)


class ChatService:
    def __init__(self, *, env: AppEnv, config: ConfigStore, storage: Storage, generations: GenerationManager,
                 eventlog: EventLog, provider: ProviderClient, nextcloud: NextcloudServer | None,
                 attachments: AttachmentService | None = None, documents: DocumentsCheck | None = None) -> None:
        self.attachments, self._documents, self.env = attachments, documents, env
        self._config, self._storage, self._generations = config, storage, generations
        self._eventlog, self._remote = eventlog, RemoteAnswers(eventlog)
        self._provider, self._nextcloud = provider, nextcloud
        self.versions = Versions(storage, generations)  # edit, switch, continue
        self.options = Options(config, storage)  # models, conversation options, presets
        self.connections = AdminConnections(config, provider)  # the admin's connections and shared presets
        self.exports = Exports(storage, nextcloud)

    # --- settings and administration ------------------------------------------------------------

    async def settings(self) -> Settings:
        return await self._config.get()

    async def is_admin(self, user: str) -> bool:
        """Whether ``user`` is a Nextcloud admin (False when Nextcloud cannot tell)."""
        if self._nextcloud is None:
            return False
        with contextlib.suppress(AppError, OSError):
            return await self._nextcloud.users.is_admin(user)
        return False

    @property
    def active_generations(self) -> int:
        return self._generations.active

    async def diagnose(self, connection_id: str | None = None) -> ConnectionReport:
        return await diagnose_settings(self._provider, await self._config.get(), connection_id)

    # --- sessions ----------------------------------------------------------------------------------

    async def new_session(self, user: str, title: str | None, timestamp: int | None) -> Record:
        return await self._storage.create_session(user, title, timestamp)

    async def rename_session(self, user: str, session_id: int, title: str) -> None:
        await self._storage.update_session_title(user, session_id, title)

    async def delete_session(self, user: str, session_id: int) -> None:
        await self._storage.get_session(user, session_id)
        await self._generations.stop_session(user, session_id)
        await self._storage.delete_session(user, session_id)

    async def sessions(self, user: str, query: str | None = None) -> list[Record]:
        """The user's sessions by last activity; with ``query``, those whose title or messages match it."""
        return await self._storage.list_sessions(user, query)

    async def session_state(self, user: str, session_id: int) -> SessionState:
        session = await self._storage.get_session(user, session_id)
        title = self._generations.title_for(session_id)
        return SessionState(await self._generations.running_answer(session_id),
                            title is not None and not title.finished, session["title"])

    # --- messages ----------------------------------------------------------------------------------

    async def add_message(self, user: str, session_id: int, role: str, content: str, timestamp: int | None,
                          *, first: bool, attachments: list[int] | None = None) -> Record:
        content = content.strip()
        if attachments and role != "human":
            raise InvalidParameter("Only the user's messages can carry attachments")
        if not content and attachments:
            content = "Please look at the attached file." if len(attachments) == 1 else \
                "Please look at the attached files."
        if not content:
            raise EmptyMessage()
        if role not in ("human", "assistant"):
            raise InvalidParameter("role must be human or assistant")
        title = None
        if first:
            # Nextcloud Assistant's behaviour: the first question is the title until one is generated.
            title = content if len(content) <= FIRST_MESSAGE_TITLE else content[:FIRST_MESSAGE_TITLE] + "..."
        # One transaction: a failure must not leave the message stored without its title (the client,
        # told it failed, would send the message again).
        return await self._storage.add_message(user, session_id, role, content, timestamp, session_title=title,
                                               attachment_ids=attachments or ())

    async def delete_message(self, user: str, session_id: int, message_id: int) -> None:
        """A message; a question with all versions of its answers (a running one stopped first, anywhere)."""
        message = await self._storage.get_message(user, session_id, message_id)
        if message["status"] == "generating":
            await self._generations.stop(user, session_id, message_id)
        elif message["role"] == "human" and (running := await self._generations.running_answer(session_id)):
            with contextlib.suppress(NotFound):  # it may be gone already
                answer = await self._storage.get_message(user, session_id, running)
                if answer["reply_to"] == message["id"]:
                    await self._generations.stop(user, session_id, running)
        await self._storage.delete_message(user, session_id, message_id)

    async def messages(self, user: str, session_id: int, limit: int, cursor: int) -> list[Record]:
        return await self._storage.list_messages(user, session_id, limit, cursor)

    async def message(self, user: str, session_id: int, message_id: int) -> Record:
        return await self._storage.get_message(user, session_id, message_id)

    async def human_message(self, user: str, session_id: int, message_id: int) -> Record:
        message = await self._storage.get_message(user, session_id, message_id)
        if message["role"] != "human":
            raise MessageNotFound("messageId must be the user's message")
        return message

    # --- attachments and "Ask my documents" ---------------------------------------------------------

    def _files(self) -> AttachmentService:
        if self.attachments is None:
            raise InvalidInput("Attachments are not available")
        return self.attachments

    async def attach_file(self, user: str, session_id: int, path: str) -> dict[str, object]:
        return await self._files().from_files(user, session_id, path)

    async def upload_file(self, user: str, session_id: int, name: str, data: bytes) -> dict[str, object]:
        return await self._files().from_upload(user, session_id, name, data)

    async def upload_limit(self) -> int:
        return self._files().upload_limit(await self._config.get())

    async def remove_attachment(self, user: str, attachment_id: int) -> None:
        await self._files().remove(user, attachment_id)

    async def documents(self, user: str) -> DocumentsState:
        """Whether "Ask my documents" can be offered to ``user``, and if not, why."""
        if self._documents is None:
            return DocumentsState(False, "The app runs without Nextcloud (local mode): there is no context_chat")
        return await self._documents.state(await self._config.get(), user)

    async def set_documents_mode(self, user: str, session_id: int, enabled: bool) -> Record:
        if enabled and not (await self.documents(user)).available:
            raise NotConfigured((await self.documents(user)).reason)
        return await self._storage.set_context_chat(user, session_id, enabled)

    # --- answers and titles ------------------------------------------------------------------------

    async def generate(self, user: str, session_id: int) -> AnswerView:
        return _view(await self._generations.answer(user, session_id, None))

    async def regenerate(self, user: str, session_id: int, message_id: int) -> AnswerView:
        return _view(await self._generations.regenerate(user, session_id, message_id))

    async def check_answer(self, user: str, session_id: int, message_id: int) -> AnswerView:
        """The answer as check_generation reports it: the stored row, or while generating the live text."""
        row = await self._storage.get_message(user, session_id, message_id)
        gen = self._generations.for_message(row["id"]) if row["status"] == "generating" else None
        if gen is not None:
            # Running while its row says so, even once ended: the end is not saved yet.
            return AnswerView.of_generation(gen, ended=False, stored=row)
        return AnswerView.of_row(row)

    async def stop(self, user: str, session_id: int, message_id: int) -> Record:
        return await self._generations.stop(user, session_id, message_id)

    async def generate_title(self, user: str, session_id: int) -> None:
        await self._generations.title(user, session_id)

    async def check_title(self, user: str, session_id: int) -> TitleState:
        """A running or failed title generation, else the session's title."""
        await self._storage.get_session(user, session_id)  # 404 before anything else is told
        gen = self._generations.title_for(session_id)
        if gen is not None and (not gen.finished or (gen.status == "error" and gen.error is not None)):
            return TitleState(AnswerView.of_generation(gen), None)
        # Read only now: a title read before the generation finished would be the old one.
        return TitleState(None, (await self._storage.get_session(user, session_id))["title"])

    # --- delivery: stream and poll -------------------------------------------------------------------

    async def stream(self, user: str, session_id: int, *, message_id: int | None, title: bool) -> Delivery:
        """The answer to a human message (started if need be), or the session's title (likewise)."""
        key, gen, row = await self._open(user, session_id, message_id=message_id, title=title, start=True)
        if gen is not None:
            return Delivery(key, AnswerView.of_generation(gen), True)
        assert row is not None
        if row["status"] == "generating":
            await self._log_of_another_process(key)
        return Delivery(key, AnswerView.of_row(row), False)

    async def _log_of_another_process(self, key: str) -> None:
        """An answer another process generates has a shared log a moment after its row exists: wait for it (a
        reconnect can land here between the two)."""
        for _ in range(40):  # polled: the log appears in another process, nothing here can signal it
            if await self._eventlog.has(key):
                return
            await asyncio.sleep(0.05)

    async def has_events(self, key: str) -> bool:
        """The event log of ``key`` still exists (a stored answer's expires a while after it ended)."""
        return await self._eventlog.has(key)

    def follow(self, key: str, after: int) -> AsyncIterator[list[Event] | None]:
        return follow(self._eventlog, key, after)

    async def poll(self, user: str, session_id: int, *, message_id: int | None, task_id: int | None,
                   title: bool, cursor: int, rcursor: int, timeout: float) -> AnswerView:
        """The answer once it has anything past the cursors, or ends, or ``timeout`` passes."""
        key, gen, row = await self._open(user, session_id, message_id=message_id, task_id=task_id, title=title,
                                         start=message_id is not None or title)
        if gen is None:
            assert row is not None
            if row["status"] == "generating" and await self._eventlog.has(key):  # generated by another process
                return await self._remote.view(key, row, cursor=cursor, rcursor=rcursor, timeout=timeout)
            return AnswerView.of_row(row)
        if not gen.finished and gen.text_len <= cursor and gen.reasoning_len <= rcursor:
            await self._eventlog.wait(key, await self._eventlog.last_id(key), timeout)
        return AnswerView.of_generation(gen)

    async def _open(self, user: str, session_id: int, *, message_id: int | None = None, task_id: int | None = None,
                    title: bool = False, start: bool) -> tuple[str, Generation | None, Record | None]:
        """(event log key, live generation or None, stored row or None) of what a reader asks for: the
        answer to a human message (started when ``start``), an assistant message (``task_id``) or the title."""
        if title:
            await self._storage.get_session(user, session_id)
            gen = self._generations.title_for(session_id)
            if gen is None and start:
                gen = await self._generations.title(user, session_id)
            if gen is None:
                raise NotFound("No title is being generated")
            return gen.key, gen, None
        if message_id is not None:
            if not start:
                raise MissingParameter("messageId or taskId is required")
            result = await self._generations.answer(user, session_id, message_id)
        elif task_id is not None:
            message = await self._storage.get_message(user, session_id, task_id)
            if message["role"] != "assistant":
                raise MessageNotFound("taskId must be an assistant message")
            result = self._generations.for_message(message["id"]) or message
        else:
            raise MissingParameter("messageId or taskId is required")
        if isinstance(result, Generation):
            return result.key, result, None
        return answer_key(result["id"]), None, result
