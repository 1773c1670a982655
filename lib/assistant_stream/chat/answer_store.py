"""AnswerStore: what the chat layer needs from storage (store.storage.Storage is the implementation)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..store.answers import AnswerStart
from ..store.messages import At
from ..store.usage import Accounting
from ..store.values import Record


class AnswerStore(Protocol):
    async def get_session(self, user_id: str, session_id: int) -> Record: ...

    async def update_session_title(self, user_id: str, session_id: int, title: str, *,
                                   generated: bool = False) -> Record: ...

    async def get_message(self, user_id: str, session_id: int, message_id: int) -> Record: ...

    async def list_messages(self, user_id: str, session_id: int, limit: int, cursor: int) -> list[Record]: ...

    async def last_human_message(self, user_id: str, session_id: int) -> Record: ...

    async def answer_to(self, user_id: str, session_id: int, human_message_id: int) -> Record | None: ...

    async def session_options(self, user_id: str, session_id: int) -> Record: ...

    async def add_message(self, user_id: str, session_id: int, role: str, content: str,
                          timestamp: int | None = None, *, status: str = "done", reply_to: int | None = None,
                          model: str | None = None, engine: str | None = None, connection: str | None = None,
                          session_title: str | None = None, parent: int | At | None = At.LEAF,
                          attachment_ids: Sequence[int] = (), files_of: int | None = None) -> Record: ...

    async def history(self, session_id: int, last_id: int, limit: int) -> list[tuple[str, str]]: ...

    async def reopen_answer(self, message_id: int) -> None: ...

    async def start_answer(self, user_id: str, session_id: int, human_id: int | None, *, history_limit: int,
                           model: str, engine: str, connection: str | None = None, beside: int | None = None,
                           documents: tuple[str, str] | None = None) -> AnswerStart: ...

    async def save_progress_many(self, answers: list[tuple[int, str, str]]) -> None: ...

    async def interrupt_answer(self, message_id: int) -> Record | None: ...

    async def stale_answers(self, older_than: int, limit: int = 100) -> list[int]: ...

    async def get_message_by_id(self, message_id: int) -> Record | None: ...

    async def save_progress(self, message_id: int, content: str, reasoning: str) -> None: ...

    async def finish_message(self, message_id: int, *, status: str, content: str, reasoning: str,
                             finish_reason: str | None = None, error: str | None = None,
                             error_code: str | None = None, prompt_tokens: int | None = None,
                             completion_tokens: int | None = None, total_tokens: int | None = None,
                             tokens_per_second: float | None = None, sources: str | None = None,
                             thinking_ms: int | None = None, retry_after: int | None = None,
                             usage_estimated: bool = False, accounting: Accounting | None = None
                             ) -> Record | None: ...

    async def add_usage(self, entry: Accounting) -> None: ...

    async def history_messages(self, session_id: int, last_id: int, limit: int
                               ) -> list[tuple[int, str, str]]: ...

    async def attachments_for(self, message_ids: list[int]) -> dict[int, list[Record]]: ...

    async def attachment_images(self, attachment_ids: list[int]) -> dict[int, bytes]: ...
