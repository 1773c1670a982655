"""The Coordinator protocol: what generations share with the app's other processes (none, or many via Redis).

Per-user limits (concurrent answers, starts per minute), one answer per conversation, which process owns
which answer (a lease), stop requests to that process, and reaping the answers of a process that died.
Implementations: store/coordination_memory.py (one process) and store/coordination_redis.py; both pass one
contract (tests/support/coordination_contract.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

# What a reaper is told about an answer whose process stopped renewing its lease.
ReapInfo = dict[str, Any]  # key, message_id, user_id, session_id, node


@runtime_checkable
class Coordinator(Protocol):
    node: str  # this process's name among the others
    shared: bool  # other processes exist (Redis): answers may be generated or taken over elsewhere
    on_stop: Callable[[str], None] | None  # another process asks to stop an answer generated here
    on_lost: Callable[[str], None] | None  # another process took one of ours over (we looked dead)
    on_reap: Callable[[ReapInfo], Awaitable[None]] | None  # we took over a dead process's answer

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...

    async def begin(self, user_id: str, *, session_id: int | None, max_concurrent: int, max_starts: int) -> str:
        """Admit a start and return its token. SessionBusy (``current``: the running answer's key, None while it
        starts), TooManyGenerations or RateLimited otherwise. A title: ``session_id`` None, ``max_concurrent`` 0."""
        ...

    def bind(self, token: str, key: str, *, user_id: str, session_id: int | None, message_id: int | None) -> None:
        """The admitted start runs as ``key`` in this process from now on (never waits for I/O)."""
        ...

    async def end(self, token: str, key: str | None, *, user_id: str, session_id: int | None,
                  started: bool = True) -> None:
        """It ended; ``started`` False: it never started, so its start does not count either."""
        ...

    async def session_key(self, session_id: int) -> str | None:
        """The key of the answer a conversation is generating, in any process."""
        ...

    async def request_stop(self, key: str) -> bool:
        """Ask the process generating ``key`` to stop it; False when that is this one, or nobody."""
        ...

    async def is_live(self, keys: list[str]) -> list[bool]:
        """Whether some process holds the lease of each key."""
        ...

    async def try_lock(self, name: str, seconds: float) -> bool:
        """True for one caller among all processes per ``seconds`` (periodic work done once)."""
        ...
