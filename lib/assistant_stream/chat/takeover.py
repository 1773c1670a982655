"""Taking over the answers of a process that died: marked interrupted with their text, and their readers told.

Two ways to find them: the coordinator's reaper claims an answer whose lease its owner stopped renewing (within
seconds), and a slower sweep finds answers left ``generating`` with no lease at all (their process died before
it took the lease, or Redis lost it). With one process and no Redis, the start-up does this instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..core.errors import AppError
from .answer import AnswerView
from .answer_store import AnswerStore
from .coordination import Coordinator, ReapInfo
from .eventlog import EventLog
from .generation import answer_key

log = logging.getLogger(__name__)

SWEEP_EVERY = 30.0  # seconds between two sweeps (one process sweeps, whichever gets the lock)
STALE_AFTER = 30  # seconds without a write before an answer without a lease counts as abandoned


async def wait_for_end(eventlog: EventLog, key: str, timeout: float) -> bool:
    """Follow ``key``'s event log until its terminal event (True) or ``timeout`` seconds (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    after = await eventlog.last_id(key)
    while True:
        events, ended = await eventlog.read(key, after)
        if ended:
            return True
        if events:
            after = events[-1][0]
        left = deadline - loop.time()
        if left <= 0:
            return False
        await eventlog.wait(key, after, left)


class Takeover:
    """Ends other processes' abandoned answers; ``owned(key)`` tells which answers are this process's own."""

    def __init__(self, storage: AnswerStore, eventlog: EventLog, coordinator: Coordinator, *,
                 owned: Callable[[str], bool], stale_after: int = STALE_AFTER) -> None:
        self._stale_after = stale_after
        self._storage = storage
        self._log = eventlog
        self._coord = coordinator
        self._owned = owned
        coordinator.on_reap = self.reap

    async def reap(self, info: ReapInfo) -> None:
        """Its process stopped renewing the lease: interrupted, with the text it saved (at most a second old)."""
        key, message_id = info["key"], info["message_id"]
        if message_id is None or self._owned(key):
            return
        await self.end(key, message_id)

    async def end(self, key: str, message_id: int) -> None:
        row = await self._storage.interrupt_answer(message_id)
        if row is None:  # it had ended (or was deleted): its log may still lack the end if the owner died then
            row = await self._storage.get_message_by_id(message_id)
        if row is None or row["status"] == "generating":
            return
        view = AnswerView.of_row(row)
        if await self._log.seal(key, "error" if row["status"] == "error" else "done", view):
            log.warning("answer %s of a process that stopped was ended as %s", key, row["status"])

    async def sweep(self) -> int:
        """Answers still ``generating`` that no process holds a lease on: interrupted. Returns how many."""
        ids = await self._storage.stale_answers(self._stale_after)
        keys = [answer_key(i) for i in ids]
        live = await self._coord.is_live(keys) if keys else []
        ended = 0
        for message_id, key, held in zip(ids, keys, live, strict=True):
            if not held and not self._owned(key):
                await self.end(key, message_id)
                ended += 1
        return ended

    async def sweep_loop(self) -> None:
        if not getattr(self._coord, "shared", False):
            return  # one process: the start-up marked what the last run left (storage.mark_interrupted)
        while True:
            try:
                if await self._coord.try_lock("sweep", SWEEP_EVERY * 0.8):
                    await self.sweep()
            except AppError as exc:
                log.warning("sweep for abandoned answers failed: %s", exc.message)
            except Exception:
                log.exception("sweep for abandoned answers failed")
            await asyncio.sleep(SWEEP_EVERY)
