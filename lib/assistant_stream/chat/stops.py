"""Stopping answers: here, or through the coordinator in whichever process generates them."""

from __future__ import annotations

from ..core.errors import MessageNotFound
from ..store.values import Record
from .answer_store import AnswerStore
from .coordination import Coordinator
from .eventlog import EventLog
from .generation import Generation, answer_key
from .takeover import wait_for_end


class Stops:
    """Stop requests for the generations ``running`` here (the manager's, by key) and, through the coordinator,
    for those another process runs; ``here`` and ``lost`` are the coordinator's callbacks."""

    def __init__(self, storage: AnswerStore, eventlog: EventLog, coord: Coordinator,
                 running: dict[str, Generation]) -> None:
        self._storage, self._log, self._coord, self._running = storage, eventlog, coord, running

    async def stop(self, user_id: str, session_id: int, message_id: int) -> Record:
        """Stop the answer to (or of) ``message_id``, in whichever process generates it; keeps the partial
        text as ``cancelled``."""
        message = await self._storage.get_message(user_id, session_id, message_id)
        if message["role"] == "human":
            answer = await self._storage.answer_to(user_id, session_id, message_id)
            if answer is None:
                raise MessageNotFound("There is no answer to stop")
            message = answer
        key = answer_key(message["id"])
        gen = self._running.get(key)
        if gen is not None and not gen.finished:  # its task may be done already, its final save not
            await gen.cancel(stop=True)
            if gen.final_message is not None:
                return gen.final_message
        elif message["status"] == "generating" and await self._coord.request_stop(key):
            await wait_for_end(self._log, key, 10)
        return await self._storage.get_message(user_id, session_id, message["id"])

    async def stop_session(self, user_id: str, session_id: int) -> None:
        for gen in [g for g in self._running.values() if g.session_id == session_id and g.user_id == user_id]:
            if gen.running:
                await gen.cancel(stop=True)
        key = await self._coord.session_key(session_id)
        if key is not None and key not in self._running and await self._coord.request_stop(key):
            await wait_for_end(self._log, key, 10)

    def here(self, key: str, *, stop: bool = True) -> None:
        """A stop relayed for an answer made here (``stop`` False: another process took it over: interrupted)."""
        gen = self._running.get(key)
        if gen is not None and gen.task is not None and not gen.task.done():
            gen.stop_requested = stop
            gen.task.cancel()

    def lost(self, key: str) -> None:
        self.here(key, stop=False)
