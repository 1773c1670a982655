"""What a model is sent: the system prompt, then the most recent history within the configured bounds."""

from __future__ import annotations

from ..core.events import ChatMessage
from ..core.settings import Settings

_ROLES = {"human": "user", "user": "user", "assistant": "assistant", "system": "system"}


def _truncate_middle(text: str, limit: int) -> str:
    # A long pasted text usually has the instruction at one end and the question at the other.
    if len(text) <= limit:
        return text
    if limit < 10:
        return text[-limit:] if limit > 0 else ""
    head = (limit - 3) // 2
    return text[:head] + "\n…\n" + text[len(text) - (limit - 3 - head):]


def build_messages(history: list[tuple[str, str]], system_prompt: str | None, max_messages: int,
                   max_chars: int) -> list[ChatMessage]:
    """The most recent history within ``max_messages`` and ``max_chars`` (system prompt not counted).

    The last user message is always kept (middle-truncated if it alone is over ``max_chars``); older
    messages are dropped from the start, and a leading assistant message is dropped too because some
    chat templates reject a conversation that does not start with the user.
    """
    msgs = [ChatMessage(_ROLES[r], c or "") for r, c in history if r in _ROLES]
    max_messages = max(1, max_messages)
    last_user = next((i for i in range(len(msgs) - 1, -1, -1) if msgs[i].role == "user"), None)
    kept: list[ChatMessage] = []
    if last_user is None:
        chars = 0
        for m in reversed(msgs):
            if len(kept) >= max_messages or chars + len(m.content) > max_chars:
                break
            kept.append(m)
            chars += len(m.content)
        kept.reverse()
    else:
        user = msgs[last_user]
        user = ChatMessage("user", _truncate_middle(user.content, max_chars))
        chars = len(user.content)
        after: list[ChatMessage] = []
        for m in msgs[last_user + 1:]:
            if len(after) + 1 >= max_messages or chars + len(m.content) > max_chars:
                break
            after.append(m)
            chars += len(m.content)
        before: list[ChatMessage] = []
        for m in reversed(msgs[:last_user]):
            if len(before) + len(after) + 1 >= max_messages or chars + len(m.content) > max_chars:
                break
            before.append(m)
            chars += len(m.content)
        before.reverse()
        while before and before[0].role == "assistant":
            before.pop(0)
        kept = [*before, user, *after]
    if system_prompt and system_prompt.strip():
        kept.insert(0, ChatMessage("system", system_prompt))
    return kept


def build_prompt(history: list[tuple[str, str]], settings: Settings) -> list[ChatMessage]:
    """The messages sent to a model for an answer: the system prompt, then the bounded history."""
    return build_messages(history, settings.system_prompt or None, max(1, settings.history_length),
                          settings.history_max_chars)
