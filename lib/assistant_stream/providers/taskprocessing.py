"""Engine that answers a chat through Nextcloud TaskProcessing (the fallback when no provider URL is set)."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from .. import APP_ID
from ..core import errors
from ..core.events import ChatMessage, Finish, ProviderEvent, Sources, TextDelta
from ..core.limits import MAX_TASK_POLL_FAILURES, TASK_MAX_WAIT
from ..core.text import clean_text
from ..nextcloud.taskprocessing import (
    STATUS_CANCELLED,
    STATUS_FAILED,
    STATUS_SUCCESSFUL,
    TaskProcessingApi,
    task_output_text,
    task_sources,
    task_status,
)

log = logging.getLogger(__name__)



def task_input(messages: Sequence[ChatMessage]) -> tuple[str, str, list[str]]:
    """Map chat messages to ``core:text2text:chat`` input: (system_prompt, input, history).

    ``input`` is the last user message; ``history`` the messages before it, each a JSON string
    ``{"role": "human"|"assistant", "content": ...}`` as Nextcloud Assistant sends them.
    """
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    if last_user < 0:
        raise errors.InvalidInput("There is no user message to answer")
    system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content)
    history = [
        json.dumps({"role": "human" if m.role == "user" else "assistant", "content": m.content},
                   ensure_ascii=False)
        for m in messages[:last_user]
        if m.role in ("user", "assistant")
    ]
    return system, messages[last_user].content, history


class TaskProcessingEngine:
    """Schedules one chat task per answer and polls it until it ends."""

    name = "taskprocessing"
    what = "text processing"

    def __init__(self, api: TaskProcessingApi, *, poll_interval: float = 1.0, max_wait: float = TASK_MAX_WAIT) -> None:
        self._api = api
        self._poll_interval = poll_interval
        self._max_wait = max_wait

    async def available(self, user: str) -> bool:
        """Whether Nextcloud can answer chats for this user (NextcloudError when it cannot be asked)."""
        return await self._api.available(user)

    async def stream(self, user: str, messages: list[ChatMessage], *,
                     custom_id: str | None = None) -> AsyncIterator[ProviderEvent]:
        """Yield ``TextDelta`` (the answer, or its new parts on Nextcloud 35) then ``Finish("stop")``.

        Raises ProviderError when the task fails, NextcloudError when Nextcloud cannot be reached,
        RateLimited when Nextcloud refuses to schedule. Closing the generator cancels the task.
        """
        task_id = await self._schedule(user, messages, custom_id or f"{APP_ID}:{uuid.uuid4().hex}")
        log.debug("Scheduled Nextcloud task %s for %s", task_id, user)
        ended = False
        try:
            emitted = ""
            failures = 0
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._max_wait
            while True:
                await asyncio.sleep(self._poll_interval)
                try:
                    task = await self._api.get_task(user, task_id)
                except errors.NotFound:
                    ended = True
                    raise errors.ProviderError("The Nextcloud task disappeared before it ended",
                                               partial=bool(emitted)) from None
                except errors.NextcloudError:
                    failures += 1
                    if failures >= MAX_TASK_POLL_FAILURES:
                        raise
                    continue
                failures = 0
                status = task_status(task.get("status"))
                output = task_output_text(task)
                if status == STATUS_SUCCESSFUL:
                    ended = True
                    new = _new_suffix(emitted, output)
                    if new:
                        yield TextDelta(new)
                    for event in self._final_events(task):
                        yield event
                    yield Finish("stop")
                    return
                if status in (STATUS_FAILED, STATUS_CANCELLED):
                    ended = True
                    raise errors.ProviderError(_failure_message(task, status, self.what), partial=bool(emitted))
                # Nextcloud 35 streams into the task output while it runs: pass on what is new.
                new = _new_suffix(emitted, output)
                if new:
                    emitted = output
                    yield TextDelta(new)
                if loop.time() >= deadline:
                    raise errors.ProviderTimeout(
                        f"Nextcloud's {self.what} did not finish within {self._max_wait:g} s",
                        partial=bool(emitted))
        finally:
            if not ended:
                # Closed by the consumer, cancelled, timed out or Nextcloud vanished: do not leave the task
                # running in Nextcloud's queue. In the background, so a second cancellation cannot stop it.
                self._api.cancel_task_soon(user, task_id)


    async def _schedule(self, user: str, messages: list[ChatMessage], custom_id: str) -> int:
        system_prompt, text, history = task_input(messages)
        return await self._api.schedule_chat(user, system_prompt=system_prompt, input=text, history=history,
                                             custom_id=custom_id)

    def _final_events(self, task: dict[str, Any]) -> list[ProviderEvent]:
        """Events after the text of a successful task (none for a chat)."""
        return []


class ContextChatEngine(TaskProcessingEngine):
    """"Ask my documents": the question goes to Nextcloud's context_chat, the answer comes with its sources.

    context_chat answers one prompt (no history); its backend reports the result at once, Nextcloud 35
    partial results are passed on like a chat's.
    """

    name = "context_chat"
    what = "document search (context_chat)"

    async def available(self, user: str) -> bool:
        return await self._api.context_chat_available(user)

    async def _schedule(self, user: str, messages: list[ChatMessage], custom_id: str) -> int:
        question = next((m.content for m in reversed(messages) if m.role == "user"), "")
        if not question.strip():
            raise errors.InvalidInput("There is no question to ask your documents")
        return await self._api.schedule_context_chat(user, prompt=question, custom_id=custom_id)

    def _final_events(self, task: dict[str, Any]) -> list[ProviderEvent]:
        return [Sources(task_sources(task))]


def _new_suffix(emitted: str, output: str) -> str:
    if output.startswith(emitted):
        return output[len(emitted):]
    # Text already shown cannot be taken back; a provider that rewrote it would garble the answer.
    log.warning("Nextcloud task output no longer starts with the text already sent; ignoring the change")
    return ""


def _failure_message(task: dict, status: int, what: str = "text processing") -> str:
    if status == STATUS_CANCELLED:
        return f"The Nextcloud {what} task was cancelled"
    # Nextcloud <= 32 keeps the provider's error message to itself; newer versions may send it.
    message = task.get("errorMessage")
    if isinstance(message, str) and message.strip():
        return f"Nextcloud's {what} failed: {clean_text(message.strip()[:500])}"
    return f"Nextcloud's {what} failed (see the Nextcloud log for the provider's error)"
