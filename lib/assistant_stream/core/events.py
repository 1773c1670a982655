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


ProviderEvent = TextDelta | ReasoningDelta | Usage | Finish


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message as sent to a model: role is system / user / assistant."""

    role: str
    content: str
