"""Continue: an answer that was cut off goes on in place, written by the model that began it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from ..core.errors import CannotContinue, MessageNotFound, ModelNotAllowed
from ..core.events import ChatMessage, Usage
from ..core.settings import Settings
from ..store.values import Record
from .context import ContextStore, answer_prompt
from .engines import Engine
from .models import AnswerPlan, plan
from .prompt import with_partial


class ContinuationStore(ContextStore, Protocol):
    async def session_options(self, user_id: str, session_id: int) -> Record: ...

    async def reopen_answer(self, message_id: int) -> None: ...


def continuable(answer: Record) -> bool:
    """An answer with text that was cut off: by the length limit, a stop, or a restart."""
    return bool(answer["content"]) and answer["engine"] != "taskprocessing" and (
        (answer["status"] == "done" and answer["finish_reason"] == "length")
        or answer["status"] in ("cancelled", "interrupted"))


def check_continuable(answer: Record) -> None:
    if answer["role"] != "assistant" or answer["reply_to"] is None:
        raise MessageNotFound("Message not found: messageId must be an assistant answer")
    if not continuable(answer):
        raise CannotContinue()


def usage_of(row: Record) -> Usage | None:
    counts = (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"])
    return Usage(*counts) if any(c is not None for c in counts) else None


async def prepare(storage: ContinuationStore, engine_for: Callable[[Settings, str, AnswerPlan], Awaitable[Engine]],
                  settings: Settings, user_id: str, answer: Record) -> tuple[AnswerPlan, Engine, list[ChatMessage]]:
    """The plan, engine and prompt that continue ``answer`` (its question's branch, then the answer so far), and
    the answer reopened: generating again, its text kept."""
    options = await storage.session_options(user_id, answer["session_id"])
    try:  # the model that began it, while the admin still offers it
        chosen = plan(settings, options, connection_id=answer["connection"], model=answer["model"])
    except ModelNotAllowed:
        chosen = plan(settings, options)
    engine = await engine_for(settings, user_id, chosen)
    if engine.name != "stream":
        raise CannotContinue("Only answers of a connection can be continued, not Nextcloud's text processing")
    prompt = await answer_prompt(storage, answer["session_id"], answer["reply_to"], settings, chosen.model,
                                 chosen.system_prompt)
    await storage.reopen_answer(answer["id"])
    return chosen, engine, with_partial(prompt, answer["content"], settings)
