"""Versions of messages: a question edited, another version shown, an answer that was cut off continued."""

from __future__ import annotations

from ..core.errors import EmptyMessage, MessageNotFound, SessionBusy
from ..store.storage import Storage
from ..store.values import Record
from .answer import AnswerView
from .generation import Generation
from .manager import GenerationManager


class Versions:
    def __init__(self, storage: Storage, generations: GenerationManager) -> None:
        self._storage = storage
        self._generations = generations

    async def edit(self, user: str, session_id: int, message_id: int, content: str) -> Record:
        """A new version of a question, next to it: the old one stays, with its answers, one arrow away."""
        content = content.strip()
        if not content:
            raise EmptyMessage()
        old = await self._storage.get_message(user, session_id, message_id)
        if old["role"] != "human":
            raise MessageNotFound("messageId must be the user's message")
        await self._idle(session_id)
        return await self._storage.add_message(user, session_id, "human", content, None, parent=old["parent_id"],
                                               files_of=old["id"])

    async def switch(self, user: str, session_id: int, message_id: int) -> tuple[list[Record], bool]:
        """Show another version of a message; returns the branch from it on, and whether more follows."""
        await self._storage.get_session(user, session_id)
        await self._idle(session_id)
        return await self._storage.switch_branch(user, session_id, message_id)

    async def continue_answer(self, user: str, session_id: int, message_id: int) -> AnswerView:
        """Go on writing an answer that was cut off (it grows in place)."""
        gen: Generation = await self._generations.continue_answer(user, session_id, message_id)
        return AnswerView.of_generation(gen)

    async def _idle(self, session_id: int) -> None:
        # While an answer is written its branch must stay the one shown (it is where the answer goes). The row
        # says so too when another process writes it.
        if self._generations.for_session(session_id) is not None \
                or await self._storage.generating_message(session_id) is not None:
            raise SessionBusy()
