"""Choosing the engine for an answer: the configured provider, else Nextcloud's TaskProcessing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .config import Settings
from .env import AppEnv
from .errors import NotConfigured
from .events import ChatMessage, ProviderEvent
from .provider import ProviderClient, ProviderConfig


def provider_config(settings: Settings) -> ProviderConfig:
    return ProviderConfig(
        url=settings.streaming_api_url,
        api_key=settings.streaming_api_key.reveal(),
        model=settings.streaming_model,
        connect_timeout=settings.connect_timeout,
        first_byte_timeout=settings.request_timeout,
        idle_timeout=settings.request_timeout,
        max_tokens=settings.max_tokens or None,
        temperature=settings.temperature if settings.temperature >= 0 else None,
        max_answer_chars=settings.max_answer_chars,
    )


class ProviderEngine:
    """Streams from the OpenAI-compatible provider the admin configured."""

    name = "stream"

    def __init__(self, client: ProviderClient, config: ProviderConfig) -> None:
        self._client = client
        self._config = config

    def stream(self, user_id: str, messages: list[ChatMessage]) -> AsyncIterator[ProviderEvent]:
        return self._client.stream_chat(self._config, messages)


class EngineSelector:
    """``await selector(settings, user)`` -> the engine to use, or NotConfigured saying what to set."""

    def __init__(self, env: AppEnv, provider: ProviderClient, taskprocessing: Any | None) -> None:
        self._env = env
        self._provider = provider
        self._taskprocessing = taskprocessing  # taskprocessing.TaskProcessingEngine or None

    async def __call__(self, settings: Settings, user_id: str) -> Any:
        if settings.streaming_configured:
            return ProviderEngine(self._provider, provider_config(settings))
        if settings.taskprocessing_fallback and self._taskprocessing is not None:
            if await self._taskprocessing.available(user_id):
                return self._taskprocessing
            raise NotConfigured("No AI provider is available: streaming_api_url is not set and Nextcloud has "
                                "no text processing provider for chat (install one, e.g. integration_openai)")
        raise NotConfigured("No AI provider is configured: the administrator must set streaming_api_url "
                            "(occ app_api:app:config:set assistant_stream streaming_api_url --value=...)")
