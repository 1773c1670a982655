"""ProviderConfig: what one request to the provider needs, derived from the admin's settings."""

from __future__ import annotations

from dataclasses import dataclass

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
