"""Titles: the prompt that asks a model for a conversation's title, and how its answer is cleaned."""

from __future__ import annotations

from ..core.events import ChatMessage
from ..core.limits import TITLE_CONTEXT_CHARS, TITLE_MAX_CHARS
from ..store.values import Record

TITLE_PROMPT = (
    "Write a short title (at most 6 words) for the conversation below. "
    "Reply with the title only, without quotes or punctuation at the end."
)


def title_prompt(messages: list[Record]) -> list[ChatMessage] | None:
    """The prompt for the newest messages of a conversation; None when there is nothing to title."""
    convo = "\n\n".join(f"{m['role']}: {m['content'][:TITLE_CONTEXT_CHARS]}" for m in messages if m["content"])
    if not convo:
        return None
    return [ChatMessage("system", TITLE_PROMPT), ChatMessage("user", convo)]


def clean_title(text: str) -> str:
    title = " ".join(text.split()).strip().strip("\"'“”«»").strip()
    if title.lower().startswith("title:"):
        title = title[6:].strip()
    return title[:TITLE_MAX_CHARS]
