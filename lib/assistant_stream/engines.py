"""Choosing the engine for an answer: the configured provider, else Nextcloud's TaskProcessing."""

from __future__ import annotations

from typing import Any

from .core.env import AppEnv
from .core.errors import NotConfigured
from .core.settings import Settings
from .providers.config import provider_config
from .providers.engine import ProviderEngine
from .providers.transport import ProviderClient


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
