"""One process's link to Redis: clients with timeouts, an epoch that reveals a restart, control messages,
and one blocking XREAD that wakes every reader of this process waiting on another process's event log."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from ..core.errors import StorageUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

BLOCK_MS = 10_000  # one XREAD waits at most this long; a new reader interrupts it through the control stream
COMMAND_TIMEOUT = 5.0  # seconds any other command may take before Redis counts as unavailable
CONNECT_TIMEOUT = 2.0
CONTROL_MAXLEN = 1000
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError, OSError)


class SharedStateUnavailable(StorageUnavailable):  # 503 + Retry-After; answers already running go on
    default_message = "The shared state (Redis) is unavailable; try again in a moment"


def display(url: str) -> str:
    """``redis://host:port/db`` without credentials, for logs and messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or 'localhost'}{f':{parts.port}' if parts.port else ''}{parts.path}"


def raise_if_cancelled() -> None:
    """redis-py can swallow a cancellation that arrives during a command (it cleans the connection up and
    returns): whoever awaited Redis checks, so a task that was asked to stop does stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class _Follow:
    __slots__ = ("after", "idle_since", "waiters")

    def __init__(self, after: int) -> None:
        self.after = after
        self.waiters: list[asyncio.Future[bool]] = []
        self.idle_since = 0.0


def _timed_out(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class RedisHub:
    """Create once per process; ``start()`` before use, ``aclose()`` at shutdown.

    Keys all begin with ``prefix``. Not for Redis Cluster: scripts touch keys they compute themselves.
    """

    def __init__(self, url: str, *, prefix: str = "assistant_stream:", node: str | None = None) -> None:
        self.url = url
        self.where = display(url)
        self.prefix = prefix
        self.node = node or secrets.token_hex(6)
        # No retries inside redis-py: a dropped connection must surface, because after a Redis restart
        # the event logs this process writes have to be written again from the start (see ``epoch``).
        common: dict[str, Any] = {"socket_connect_timeout": CONNECT_TIMEOUT, "retry": Retry(NoBackoff(), 0),
                                  "retry_on_error": [], "health_check_interval": 0}
        self.client = aioredis.Redis.from_url(url, socket_timeout=COMMAND_TIMEOUT, max_connections=64, **common)
        self._blocking = aioredis.Redis.from_url(url, socket_timeout=BLOCK_MS / 1000 + COMMAND_TIMEOUT,
                                                 single_connection_client=True, **common)
        self.control_key = f"{prefix}ctl:{self.node}"
        self.epoch_key = f"{prefix}epoch"
        self.epoch: bytes | None = None
        self._follows: dict[str, _Follow] = {}
        self._control: list[Callable[[dict[bytes, bytes]], None]] = []
        self._epoch_listeners: list[Callable[[], None]] = []
        self._loop_task: asyncio.Task[None] | None = None
        self._woken = False
        self.healthy = True

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def start(self, *, wait: float = 10.0) -> None:
        """Connect (retrying for ``wait`` seconds, so Redis may start together with the app)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            try:
                await self.client.ping()
                break
            except UNAVAILABLE as exc:
                if loop.time() >= deadline:
                    raise SharedStateUnavailable(
                        f"Cannot reach Redis at {self.where} (REDIS_URL): {type(exc).__name__}") from None
                await asyncio.sleep(0.25)
        await self.check_epoch()
        # Where this process's control stream stands now: messages sent from now on are read, none is missed.
        last = await self.call(lambda: self.client.xrevrange(self.control_key, count=1))
        self._loop_task = asyncio.create_task(self._read_loop(last[0][0] if last else b"0-0"),
                                              name="redis-hub-reader")

    async def aclose(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loop_task
        self._fail_waiters()
        self._follows.clear()
        with contextlib.suppress(Exception):
            await self._blocking.aclose()
        with contextlib.suppress(Exception):
            await self.client.aclose()

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run one Redis exchange; a connection failure becomes SharedStateUnavailable (HTTP 503)."""
        try:
            result = await fn()
            raise_if_cancelled()
        except UNAVAILABLE as exc:
            raise_if_cancelled()
            self._unhealthy(exc)
            raise SharedStateUnavailable() from None
        except ResponseError as exc:
            if "LOADING" in str(exc) or "BUSY" in str(exc):
                raise SharedStateUnavailable() from None
            raise
        self.healthy = True
        return result

    def _unhealthy(self, exc: BaseException) -> None:
        if self.healthy:
            log.error("Redis at %s is unavailable: %s", self.where, type(exc).__name__)
            # Every pooled connection is likely dead too (a restart): drop them all now, or each would
            # fail one more request before it is replaced.
            asyncio.get_running_loop().create_task(self._reset_pool())
        self.healthy = False

    async def _reset_pool(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.connection_pool.disconnect(inuse_connections=False)

    def on_epoch_change(self, fn: Callable[[], None]) -> None:
        self._epoch_listeners.append(fn)

    async def check_epoch(self) -> bool:
        """True when Redis lost its data since we last looked (a restart without persistence)."""
        new = secrets.token_hex(8).encode()
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self.epoch_key, new, nx=True)
        pipe.get(self.epoch_key)
        _created, current = await self.call(pipe.execute)
        return self.saw_epoch(current)

    def saw_epoch(self, current: bytes | None) -> bool:
        if current is None or current == self.epoch:
            return False
        changed = self.epoch is not None
        self.epoch = current
        if changed:
            log.warning("Redis at %s lost its data (restarted?): rewriting this process's live state", self.where)
            for fn in self._epoch_listeners:
                fn()
        return changed

    def on_control(self, fn: Callable[[dict[bytes, bytes]], None]) -> None:
        self._control.append(fn)

    async def send_control(self, node: str, fields: dict[str, str]) -> None:
        key = f"{self.prefix}ctl:{node}"

        async def send() -> None:
            pipe = self.client.pipeline(transaction=False)
            pipe.xadd(key, fields, maxlen=CONTROL_MAXLEN, approximate=True)
            pipe.pexpire(key, 86_400_000)  # a process that is gone leaves no stream behind for long
            await pipe.execute()

        await self.call(send)

    async def wait(self, stream: str, after: int, timeout: float) -> bool:
        """Until ``stream`` has an entry with id > 0-``after``; False on timeout.

        Raises SharedStateUnavailable when Redis fails meanwhile.
        """
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        follow = self._follows.get(stream)
        if follow is None:
            follow = self._follows[stream] = _Follow(after)
            self._wake_reader()
        elif after < follow.after:
            follow.after = after
            self._wake_reader()
        follow.waiters.append(waiter)
        timer = loop.call_later(timeout, _timed_out, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()
            current = self._follows.get(stream)
            if current is not None:
                if waiter in current.waiters:
                    current.waiters.remove(waiter)
                # Kept a while without waiters: a live reader waits again right after each read, and
                # re-adding the stream would cost a wake-up of the blocking XREAD every time.
                current.idle_since = loop.time()

    def _wake_reader(self) -> None:
        # The blocking XREAD names the streams it watches: interrupt it so it includes the new one.
        if self._woken:
            return
        self._woken = True
        asyncio.get_running_loop().create_task(self._send_wake())

    async def _send_wake(self) -> None:
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.xadd(self.control_key, {"w": "1"}, maxlen=CONTROL_MAXLEN, approximate=True)
            pipe.pexpire(self.control_key, 86_400_000)
            await pipe.execute()
        except (*UNAVAILABLE, RedisError) as exc:
            self._unhealthy(exc)

    async def _read_loop(self, control_id: bytes | None) -> None:
        backoff = 0.1
        loop = asyncio.get_running_loop()
        while True:
            self._woken = False
            now = loop.time()
            for stream in [s for s, f in self._follows.items() if not f.waiters and now - f.idle_since > 30]:
                del self._follows[stream]
            try:
                if control_id is None:
                    last = await self._blocking.xrevrange(self.control_key, count=1)
                    control_id = last[0][0] if last else b"0-0"
                streams: dict[Any, Any] = {self.control_key: control_id}
                for stream, follow in self._follows.items():
                    streams[stream] = f"0-{follow.after}"
                reply = await self._blocking.xread(streams, count=64, block=BLOCK_MS)
                raise_if_cancelled()
            except asyncio.CancelledError:
                raise
            except (*UNAVAILABLE, RedisError) as exc:
                raise_if_cancelled()
                self._unhealthy(exc)
                self._fail_waiters()
                control_id = None  # a restarted Redis starts the control stream anew
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                with contextlib.suppress(Exception):
                    await self._blocking.aclose()  # reconnects on the next command
                continue
            if not self.healthy:
                self.healthy = True
                log.warning("Redis at %s answers again", self.where)
            backoff = 0.1
            control_id = self._dispatch(reply or [], control_id, loop.time())

    def _dispatch(self, reply: list[Any], control_id: bytes, now: float) -> bytes:
        """Hand what one XREAD returned to the control handlers and the waiting readers; the new control id."""
        for name, entries in reply:
            name = name.decode() if isinstance(name, bytes) else name
            if name == self.control_key:
                control_id = entries[-1][0]
                for fields in (f for _id, f in entries if b"w" not in f):
                    for fn in self._control:
                        try:
                            fn(fields)
                        except Exception:
                            log.exception("control message handler failed")
            elif (follow := self._follows.get(name)) is not None:
                follow.after = max(follow.after, int(entries[-1][0].split(b"-", 1)[1]))
                follow.idle_since = now
                self._wake(follow)
        return control_id

    @staticmethod
    def _wake(follow: _Follow) -> None:
        waiters, follow.waiters = follow.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(True)

    def _fail_waiters(self) -> None:
        # Wake them: each reader then reads, and its read reports Redis as unavailable.
        for follow in self._follows.values():
            self._wake(follow)
