"""ProviderEngine: an answer streamed from the OpenAI-compatible provider the admin configured."""

from __future__ import annotations

from collections.abc import AsyncIterator

from ..core.events import ChatMessage, ProviderEvent
from .config import ProviderConfig
from .transport import ProviderClient


class ProviderEngine:
    name = "stream"

    def __init__(self, client: ProviderClient, config: ProviderConfig) -> None:
        self._client = client
        self._config = config

    def stream(self, user_id: str, messages: list[ChatMessage]) -> AsyncIterator[ProviderEvent]:
        return self._client.stream_chat(self._config, messages)
