"""Typed events an engine (a provider stream or TaskProcessing) yields for one answer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None


@dataclass(frozen=True, slots=True)
class Finish:
    reason: str | None


@dataclass(frozen=True, slots=True)
class Source:
    """A document an answer was drawn from (context_chat): its label and a link into Nextcloud."""

    label: str
    url: str
    file_id: int | None = None


@dataclass(frozen=True, slots=True)
class Sources:
    items: tuple[Source, ...]


ProviderEvent = TextDelta | ReasoningDelta | Usage | Finish | Sources


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message as sent to a model: role is system / user / assistant. ``images`` are data URIs a
    vision model is sent with a user message (OpenAI ``image_url`` content parts)."""

    role: str
    content: str
    images: tuple[str, ...] = ()
