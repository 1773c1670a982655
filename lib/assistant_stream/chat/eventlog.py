"""The EventLog protocol: per-answer ordered events that any number of readers replay from any id, then follow.

Implementations: store/eventlog_memory.py (one process) and store/eventlog_redis.py (several processes,
on Redis Streams); both pass one contract (tests/support/eventlog_contract.py).
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from .answer import AnswerView

Kind = Literal["started", "chunk", "reasoning", "done", "error"]
# What an event carries: the text of a chunk or reasoning delta, or the answer as it stands
# (``started``, and the final ``done`` / ``error``). The web layer turns both into wire JSON.
Payload = str | AnswerView
# (id, kind, payload). Ids increase with every event; a text event advances the id by its length, so an
# id names a position in the text and a reader resuming after any id it was sent gets exactly the rest,
# however the log merged small chunks.
Event = tuple[int, Kind, Payload]

TERMINAL_KINDS = frozenset({"done", "error"})


@runtime_checkable
class EventLog(Protocol):
    """What generations write (the process that owns an answer) and streams read (any process)."""

    def open(self, key: str) -> None: ...

    def append(self, key: str, kind: Kind, data: Payload) -> int:
        """Add an event and return its id; never blocks (a shared log sends it in the background)."""
        ...

    def close(self, key: str) -> None: ...

    async def seal(self, key: str, kind: Kind, data: Payload) -> bool:
        """End the log of an answer whose owner is gone with a terminal event; False if it had ended."""
        ...

    def owns(self, key: str) -> bool:
        """This process writes (or wrote) the log: reading it costs no I/O."""
        ...

    async def has(self, key: str) -> bool: ...

    async def last_id(self, key: str) -> int: ...

    async def read(self, key: str, after: int) -> tuple[list[Event], bool]:
        """Events with id > ``after``, and whether the log has ended (or does not exist)."""
        ...

    async def wait(self, key: str, after: int, timeout: float) -> bool:
        """Until an event with id > ``after`` exists or the log ends; False on timeout."""
        ...

    async def aclose(self) -> None: ...
