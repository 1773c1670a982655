"""ProviderConfig: what one request to the provider needs, derived from the admin's settings."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.connections import Connection
from ..core.limits import MAX_LINE_BYTES
from ..core.settings import Settings


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    url: str
    api_key: str
    model: str
    connect_timeout: float = 10
    first_byte_timeout: float = 60
    idle_timeout: float = 60  # seconds allowed between two chunks
    max_tokens: int | None = None
    temperature: float | None = None
    max_answer_chars: int = 200_000
    max_line_bytes: int = MAX_LINE_BYTES
    retries_before_first_token: int = 1


def provider_config(settings: Settings, connection: Connection | None = None, model: str | None = None, *,
                    temperature: float | None = None, max_tokens: int | None = None) -> ProviderConfig:
    """A request to ``connection`` (the seed's streaming_* settings by default) for ``model``; a conversation's
    ``temperature`` and ``max_tokens`` win over the admin's."""
    return ProviderConfig(
        url=connection.url if connection is not None else settings.streaming_api_url,
        api_key=(connection.api_key if connection is not None else settings.streaming_api_key).reveal(),
        model=model or settings.streaming_model,
        connect_timeout=settings.connect_timeout,
        first_byte_timeout=settings.request_timeout,
        idle_timeout=settings.request_timeout,
        max_tokens=max_tokens or settings.max_tokens or None,
        temperature=temperature if temperature is not None else (
            settings.temperature if settings.temperature >= 0 else None),
        max_answer_chars=settings.max_answer_chars,
    )
