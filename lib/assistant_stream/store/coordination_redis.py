"""Coordination of many processes through Redis: per-user limits as atomic counters, one answer per session,
generation ownership as a lease its owner renews, stop requests to the owner, and reaping dead owners.

Keys (all under the hub's prefix):
- ``sess:<session id>``: token of the starting answer, then its event log key; expires with the lease.
- ``run:<user>``: sorted set of the user's running answers (token, scored by lease expiry).
- ``starts:<user>``: sorted set of the user's starts in the last minute (token, scored by start time).
- ``lease:<key>``: the owning process's node id, renewed every ``lease/4``; ``reaped:<node>`` once reaped.
- ``live``: sorted set of every running answer's key, scored by lease expiry: the reapers' work list.
- ``gen:<key>``: hash with the answer's token, session, user, message id and node, for its reaper.
Times come from Redis (``TIME``), so processes with skewed clocks agree.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from .coordination_memory import Busy, too_fast, too_many
from .coordination_scripts import BEGIN, END, REAP, RENEW
from .redis_hub import RedisHub, raise_if_cancelled

log = logging.getLogger(__name__)

class RedisCoordinator:
    """Same contract as ``MemoryCoordinator`` (tests/test_coordination.py), across processes.

    Callbacks: ``on_stop(key)`` another process asks to stop a generation running here;
    ``on_lost(key)`` this process's lease was taken (it looked dead), so it must stop that generation;
    ``on_reap(info)`` this process claimed a dead owner's answer (info: key, message_id, user_id,
    session_id, node) and must mark it interrupted and end its event log.
    """

    shared = True

    def __init__(self, hub: RedisHub, *, lease: float = 5.0, window: float = 60.0) -> None:
        self._hub = hub
        self.node = hub.node
        self.lease_ms = int(lease * 1000)
        self.window_ms = int(window * 1000)
        client = hub.client
        self._begin = client.register_script(BEGIN)
        self._renew = client.register_script(RENEW)
        self._end = client.register_script(END)
        self._reap = client.register_script(REAP)
        self._owned: dict[str, tuple[str, str, str, str]] = {}  # key -> token, session, user, message id
        self._renewing: set[asyncio.Future[None]] = set()  # renewals on their way to Redis
        self._tasks: list[asyncio.Task[None]] = []
        self._renew_now: asyncio.Future[None] | None = None  # set: renew now rather than at the next tick
        self.on_stop: Callable[[str], None] | None = None
        self.on_lost: Callable[[str], None] | None = None
        self.on_reap: Callable[[dict[str, Any]], Awaitable[None]] | None = None
        hub.on_control(self._control)
        hub.on_epoch_change(self._renew_soon)

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._renew_loop(), name="lease-renewal"),
                       asyncio.create_task(self._reap_loop(), name="lease-reaper")]

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    # --- starting and ending ----------------------------------------------------------------------------

    async def begin(self, user_id: str, *, session_id: int | None, max_concurrent: int, max_starts: int) -> str:
        token = "~" + self._hub.node + "." + secrets.token_hex(6)
        reply = await self._hub.call(lambda: self._begin(args=[
            self._hub.prefix, token, "" if session_id is None else str(session_id), user_id, self.lease_ms,
            max_concurrent, max_starts, self.window_ms]))
        verdict = reply[0].decode()
        if verdict == "busy":
            current = reply[1].decode()
            raise Busy(None if current.startswith("~") else current)
        if verdict == "too_many":
            raise too_many(int(reply[1]))
        if verdict == "rate":
            raise too_fast(int(reply[1]) / 1000)
        return token

    def bind(self, token: str, key: str, *, user_id: str, session_id: int | None, message_id: int | None) -> None:
        """Own ``key`` from now on: the lease is taken by the renewal loop, right away and in the background
        (the upstream request does not wait for Redis)."""
        self._owned[key] = (token, "" if session_id is None else str(session_id), user_id,
                            "" if message_id is None else str(message_id))
        self._renew_soon()

    def _renew_soon(self) -> None:
        if self._renew_now is not None and not self._renew_now.done():
            self._renew_now.set_result(None)

    async def end(self, token: str, key: str | None, *, user_id: str, session_id: int | None,
                  started: bool = True) -> None:
        if key is not None:
            self._owned.pop(key, None)
        # A renewal already on its way may still carry this key: let it land first, or it would take the
        # lease and the session back after this release.
        while self._renewing:
            await asyncio.wait(list(self._renewing))
        await self._hub.call(lambda: self._end(args=[
            self._hub.prefix, self.node, key or "", token, "" if session_id is None else str(session_id),
            user_id, "0" if started else "1"]))

    async def session_key(self, session_id: int) -> str | None:
        current = await self._hub.call(lambda: self._hub.client.get(self._hub.key("sess", str(session_id))))
        if current is None or current.startswith(b"~"):
            return None
        return current.decode()

    # --- stopping -------------------------------------------------------------------------------------

    async def request_stop(self, key: str) -> bool:
        if key in self._owned:
            return False
        owner = await self._hub.call(lambda: self._hub.client.get(self._hub.key("lease", key)))
        if owner is None or owner.startswith(b"reaped:") or owner.decode() == self.node:
            return False
        await self._hub.send_control(owner.decode(), {"stop": key})
        return True

    def _control(self, fields: dict[bytes, bytes]) -> None:
        key = fields.get(b"stop")
        if key is not None and self.on_stop is not None:
            self.on_stop(key.decode())

    # --- leases ---------------------------------------------------------------------------------------

    async def is_live(self, keys: list[str]) -> list[bool]:
        if not keys:
            return []
        pipe = self._hub.client.pipeline(transaction=False)
        for key in keys:
            pipe.exists(self._hub.key("lease", key))
        found = await self._hub.call(pipe.execute)
        return [bool(x) for x in found]

    async def try_lock(self, name: str, seconds: float) -> bool:
        """True for exactly one caller per ``seconds`` (periodic work that one process should do)."""
        got = await self._hub.call(lambda: self._hub.client.set(
            self._hub.key("lock", name), self.node, nx=True, px=int(seconds * 1000)))
        return bool(got)

    async def renew(self) -> list[str]:
        """Renew every lease of this process now; returns the keys it lost (and calls ``on_lost``)."""
        owned = dict(self._owned)
        if not owned:
            return []
        args: list[Any] = [self._hub.prefix, self.node, self.lease_ms]
        for key, (token, session, user, message) in owned.items():
            args += [key, token, session, user, message]
        done = asyncio.get_running_loop().create_future()
        self._renewing.add(done)
        try:
            lost = [k.decode() for k in await self._hub.call(lambda: self._renew(args=args))]
        finally:
            self._renewing.discard(done)
            done.set_result(None)
        for key in lost:
            log.warning("generation %s was taken over by another process (this one looked dead)", key)
            self._owned.pop(key, None)
            if self.on_lost is not None:
                self.on_lost(key)
        return lost

    async def _renew_loop(self) -> None:
        every = self.lease_ms / 4000
        loop = asyncio.get_running_loop()
        while True:
            # A plain future and asyncio.wait(): neither timeout() nor wait_for() around an Event, whose
            # cancellation on 3.11 can be lost when it meets the timer (aclose() then waits for nothing).
            self._renew_now = loop.create_future()
            await asyncio.wait([self._renew_now], timeout=every)
            try:
                await self.renew()
                raise_if_cancelled()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Redis down or anything else: report, try again next round
                log.debug("lease renewal failed: %s", type(exc).__name__)

    async def reap(self, limit: int = 50) -> list[dict[str, Any]]:
        """Claim answers whose owner stopped renewing; each goes to ``on_reap`` (one reaper per answer)."""
        raw = await self._hub.call(lambda: self._reap(args=[self._hub.prefix, self.node, limit]))
        items = [x.decode() for x in raw]
        claimed = []
        for i in range(0, len(items), 5):
            key, message, user, session, node = items[i:i + 5]
            claimed.append({"key": key, "message_id": int(message) if message else None, "user_id": user,
                            "session_id": int(session) if session else None, "node": node})
        for info in claimed:
            log.warning("generation %s of process %s stopped renewing its lease: marking it interrupted",
                        info["key"], info["node"])
            if self.on_reap is not None:
                try:
                    await self.on_reap(info)
                except Exception:
                    log.exception("could not end the abandoned generation %s", info["key"])
        return claimed

    async def _reap_loop(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.lease_ms / 5000))
            try:
                await self.reap()
                raise_if_cancelled()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("reaper pass failed: %s", type(exc).__name__)
