"""What a model is sent: the system prompt, then the most recent history within the configured bounds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class FileContext:
    """What a user message carries besides its text: attached files' text and images."""

    files: tuple[tuple[str, str, bool], ...] = ()  # (name, extracted text, truncated when attached)
    images: tuple[tuple[str, str], ...] = ()  # (name, data URI)


def build_messages(history: list[tuple[str, str]], system_prompt: str | None, max_messages: int,
                   max_chars: int, *, files: Mapping[int, FileContext] | None = None,
                   files_chars: int = 0, vision: bool = False) -> list[ChatMessage]:
    """The most recent history within ``max_messages`` and ``max_chars`` (system prompt not counted).

    The last user message is always kept (middle-truncated if it alone is over ``max_chars``); older
    messages are dropped from the start, and a leading assistant message is dropped too because some
    chat templates reject a conversation that does not start with the user.

    ``files`` (by index into ``history``) adds attached files to the user messages that are kept: their text
    within ``files_chars`` in all (newest messages first, so a file attached earlier gives way to a newer
    one), labelled with the file name; images only when ``vision``.
    """
    msgs = [(i, ChatMessage(_ROLES[r], c or "")) for i, (r, c) in enumerate(history) if r in _ROLES]
    max_messages = max(1, max_messages)
    last_user = next((k for k in range(len(msgs) - 1, -1, -1) if msgs[k][1].role == "user"), None)
    kept: list[tuple[int, ChatMessage]] = []
    if last_user is None:
        chars = 0
        for i, m in reversed(msgs):
            if len(kept) >= max_messages or chars + len(m.content) > max_chars:
                break
            kept.append((i, m))
            chars += len(m.content)
        kept.reverse()
    else:
        index, user = msgs[last_user]
        user = ChatMessage("user", _truncate_middle(user.content, max_chars))
        chars = len(user.content)
        after: list[tuple[int, ChatMessage]] = []
        for i, m in msgs[last_user + 1:]:
            if len(after) + 1 >= max_messages or chars + len(m.content) > max_chars:
                break
            after.append((i, m))
            chars += len(m.content)
        before: list[tuple[int, ChatMessage]] = []
        for i, m in reversed(msgs[:last_user]):
            if len(before) + len(after) + 1 >= max_messages or chars + len(m.content) > max_chars:
                break
            before.append((i, m))
            chars += len(m.content)
        before.reverse()
        while before and before[0][1].role == "assistant":
            before.pop(0)
        kept = [*before, (index, user), *after]
    out = _with_files(kept, files or {}, files_chars, vision)
    if system_prompt and system_prompt.strip():
        out.insert(0, ChatMessage("system", system_prompt))
    return out


def _with_files(kept: list[tuple[int, ChatMessage]], files: Mapping[int, FileContext], budget: int,
                vision: bool) -> list[ChatMessage]:
    out = [m for _, m in kept]
    for pos in range(len(kept) - 1, -1, -1):  # newest first: they get the budget before older files
        index, message = kept[pos]
        context = files.get(index)
        if context is None or message.role != "user":
            continue
        blocks: list[str] = []
        for name, text, truncated in context.files:
            label = _label(name)
            if budget <= 0:
                blocks.append(f'<file name="{label}">[not included: the conversation\'s file context is full]</file>')
                continue
            part = text[:budget]
            budget -= len(part)
            note = "\n[the rest of this file was cut off]" if truncated or len(part) < len(text) else ""
            blocks.append(f'<file name="{label}">\n{part}{note}\n</file>')
        images: tuple[str, ...] = ()
        if context.images:
            if vision:
                images = tuple(uri for _, uri in context.images if uri)
                left_out = [_label(n) for n, uri in context.images if not uri]
                if left_out:
                    blocks.append(f"[Earlier images not sent again: {', '.join(left_out)}]")
            else:
                names = ", ".join(_label(n) for n, _ in context.images)
                blocks.append(f"[Images attached but not shown, the model cannot see images: {names}]")
        content = "\n\n".join([*blocks, message.content]) if blocks else message.content
        out[pos] = ChatMessage("user", content, images)
    return out


def _label(name: str) -> str:
    # The file name is the user's; it must not close the tag it labels.
    return name.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def build_prompt(history: list[tuple[str, str]], settings: Settings, *,
                 files: Mapping[int, FileContext] | None = None, model: str | None = None,
                 system_prompt: str | None = None) -> list[ChatMessage]:
    """The messages sent to a model for an answer: the system prompt (the conversation's, else the admin's), then
    the bounded history (with the files attached to its user messages)."""
    prompt = settings.system_prompt if system_prompt is None else system_prompt
    return build_messages(history, prompt or None, max(1, settings.history_length),
                          settings.history_max_chars, files=files, files_chars=settings.attachment_context_chars,
                          vision=settings.vision(model or settings.streaming_model))


def with_partial(messages: list[ChatMessage], partial: str, settings: Settings) -> list[ChatMessage]:
    """The prompt to continue ``partial``: the context it was written in, then the partial answer itself as the last
    (assistant) message, of which at most half the character budget is sent: its end, where the model goes on."""
    return [*messages, ChatMessage("assistant", partial[-max(1, settings.history_max_chars // 2):])]
