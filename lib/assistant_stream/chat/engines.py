"""Choosing the engine for an answer: the configured provider, else Nextcloud's TaskProcessing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from ..core.env import AppEnv
from ..core.error_render import public_message
from ..core.errors import AppError, NotConfigured
from ..core.events import ChatMessage, ProviderEvent
from ..core.settings import Settings
from ..nextcloud.taskprocessing import CONTEXT_CHAT_TASK_TYPE
from ..providers.config import provider_config
from ..providers.engine import ProviderEngine
from ..providers.taskprocessing import ContextChatEngine, TaskProcessingEngine
from ..providers.transport import ProviderClient
from .models import TASKPROCESSING_MODEL, AnswerPlan

log = logging.getLogger(__name__)


class Engine(Protocol):
    """Something that turns a conversation into a stream of events (a provider, TaskProcessing)."""

    name: str

    def stream(self, user_id: str, messages: list[ChatMessage]) -> AsyncIterator[ProviderEvent]: ...


def engine_name(settings: Settings, env: AppEnv) -> str | None:
    """The engine answers would use now, for display ("stream", "taskprocessing" or None)."""
    if settings.streaming_configured:
        return "stream"
    if settings.taskprocessing_fallback and env.nextcloud_configured:
        return "taskprocessing"
    return None


class EngineSelector:
    """``await selector(settings, user, plan)`` -> the engine to use, or NotConfigured saying what to set."""

    def __init__(self, provider: ProviderClient, taskprocessing: TaskProcessingEngine | None) -> None:
        self._provider = provider
        self._taskprocessing = taskprocessing

    async def __call__(self, settings: Settings, user_id: str, plan: AnswerPlan) -> Engine:
        if plan.connection is not None:
            return ProviderEngine(self._provider, provider_config(
                settings, plan.connection, plan.model, temperature=plan.temperature, max_tokens=plan.max_tokens))
        if settings.taskprocessing_fallback and self._taskprocessing is not None:
            if await self._taskprocessing.available(user_id):
                return self._taskprocessing
            raise NotConfigured("No AI provider is available: streaming_api_url is not set and Nextcloud has "
                                "no text processing provider for chat (install one, e.g. integration_openai)")
        raise NotConfigured("No AI provider is configured: the administrator must set streaming_api_url "
                            "(occ app_api:app:config:set assistant_stream streaming_api_url --value=...)")


@dataclass(frozen=True, slots=True)
class DocumentsState:
    available: bool
    reason: str  # why not ("" when available), for the admin status and the user's switch


class DocumentsCheck:
    """"Ask my documents": whether Nextcloud offers context_chat to a user, and the engine that asks it."""

    def __init__(self, engine: ContextChatEngine) -> None:
        self._engine = engine

    async def state(self, settings: Settings, user_id: str) -> DocumentsState:
        if not settings.context_chat:
            return DocumentsState(False, "Turned off by the administrator (setting context_chat)")
        try:
            available = await self._engine.available(user_id)
        except AppError as exc:
            # The reason reaches every user (their "Ask my documents" switch): the detail goes to the log.
            log.warning("Nextcloud could not be asked for its task types: %s", exc.message)
            return DocumentsState(False, f"Nextcloud could not be asked for its task types: {public_message(exc)}")
        if not available:
            return DocumentsState(False, f"Nextcloud does not list the {CONTEXT_CHAT_TASK_TYPE} task type: install "
                                         "and enable the context_chat app and its backend ExApp "
                                         "(context_chat_backend), and let it index the users' files")
        return DocumentsState(True, "")

    async def __call__(self, settings: Settings, user_id: str) -> Engine:
        state = await self.state(settings, user_id)
        if not state.available:
            raise NotConfigured(f"Ask my documents is not available: {state.reason}")
        return self._engine


def model_name(engine: str, chosen: AnswerPlan) -> str:
    """What an answer of ``engine`` stores as its model: the chosen one, or the engine that stands for one."""
    return {"stream": chosen.model, "context_chat": "context_chat"}.get(engine, TASKPROCESSING_MODEL)


class FailedEngine:
    """An engine that fails at once with ``error``: for an answer whose row exists when its start fails."""

    name = "failed"

    def __init__(self, error: BaseException) -> None:
        self.error = error if isinstance(error, AppError) else AppError()

    async def stream(self, user_id: str, messages: list[ChatMessage]) -> AsyncIterator[ProviderEvent]:
        raise self.error
        yield  # an async generator
