"""Event logs shared by every process through Redis Streams: the owner writes, any process replays and follows.

The owner keeps the log in memory too (``MemoryEventLog``): its own readers never touch Redis, and after
a Redis restart it writes the whole log again. A background flusher sends what was appended since the
last flush, one pipeline for all answers, so chunks that arrive while a flush is in flight go out
together as one stream entry (coalesced, the ids stay exact: an entry's id is the id of its last event).

Stream ``<prefix>log:<key>``: entry id ``0-<event id>``, fields ``k`` (kind) and ``d`` (text, or JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

from .eventlog_memory import TERMINAL_KINDS, TEXT_KINDS, Event, MemoryEventLog
from .redis_hub import UNAVAILABLE, RedisHub, raise_if_cancelled

log = logging.getLogger(__name__)

OPEN_TTL_MS = 3 * 3600 * 1000  # an open log that nobody closes (its owner and every reaper gone) still expires
MAX_ENTRIES = 50_000  # XADD's cap; never reached by coalesced entries of an answer within its limits
READ_COUNT = 512  # entries per XRANGE
MAX_BACKOFF = 2.0
# After a flush, the next waits this long: what arrives meanwhile goes out in the same call. Each flush costs
# ~50-100 µs whatever it carries, so without this a busy process paid that per chunk (bench figure 8).
# Readers in this process never wait for it; readers in other processes see a chunk up to this much later.
FLUSH_EVERY = 0.01

# Write what each log gained since the last flush. ARGV: epoch key, retention ms, open ttl ms, cap, then per log:
# stream, resync (0/1: delete it first), closed (0/1), n, then n times (id, kind, data). Returns the epoch and
# the streams whose next id was refused (another process sealed them).
_WRITE = """
local epoch = redis.call('GET', ARGV[1])
local lost = {}
local i = 5
while i <= #ARGV do
  local name, resync, closed, n = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  i = i + 4
  if resync == '1' then redis.call('DEL', name) end
  local ok = true
  for _ = 1, n do
    if ok then
      local r = redis.pcall('XADD', name, 'MAXLEN', '~', ARGV[4], ARGV[i], 'k', ARGV[i + 1], 'd', ARGV[i + 2])
      if type(r) == 'table' and r.err then ok = false; lost[#lost + 1] = name end
    end
    i = i + 3
  end
  if ok and closed == '1' then redis.call('PEXPIRE', name, ARGV[2])
  elseif ok and resync == '1' then redis.call('PEXPIRE', name, ARGV[3]) end
end
return {epoch or false, lost}
"""

# Append a terminal event after the last one, unless the log already ended: for a reaper (the owner died).
_SEAL = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last == 0 then return 0 end
local kind
for i = 1, #last[1][2], 2 do if last[1][2][i] == 'k' then kind = last[1][2][i + 1] end end
if kind == 'done' or kind == 'error' then return 0 end
local seq = tonumber(string.match(last[1][1], '%-(%d+)$')) + tonumber(ARGV[4])
redis.call('XADD', KEYS[1], '0-' .. seq, 'k', ARGV[1], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return seq
"""
# The sealing event's id jumps this far past the last one, so an owner that is still alive (it only
# looked dead) fails its next XADD ("equal or smaller") and learns it lost the answer. Ids stay far
# below 2**53, exact in a browser.
SEAL_GAP = 1_000_000_000


def _dump(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def _load(raw: bytes) -> Any:
    return json.loads(raw.decode("utf-8", "surrogatepass"))


class RedisEventLog:
    """The EventLog for several processes. ``on_lost(key)`` is called when another process sealed a log
    this one still writes (its lease had expired): the owner should stop that generation."""

    def __init__(self, hub: RedisHub, *, retention: float = 300.0,
                 dump: Callable[[Any], bytes] = _dump, load: Callable[[bytes], Any] = _load) -> None:
        self._hub = hub
        self._local = MemoryEventLog(retention=retention)
        self._retention_ms = int(retention * 1000)
        self._dump, self._load = dump, load
        self._flushed: dict[str, int] = {}  # owned logs not yet completely in Redis -> id written so far
        self._dirty: set[str] = set()
        self._resync: set[str] = set()
        self._flusher: asyncio.Task[None] | None = None
        self._seal = hub.client.register_script(_SEAL)
        self._write = hub.client.register_script(_WRITE)
        self.on_lost: Callable[[str], None] | None = None
        hub.on_epoch_change(self._rewrite_all)

    def stream(self, key: str) -> str:
        return self._hub.key("log", key)

    # --- writer ---------------------------------------------------------------------------------------

    def open(self, key: str) -> None:
        self._local.open(key)
        self._flushed[key] = 0
        self._resync.add(key)  # a stale stream of the same name (an old database's ids) must go first
        self._kick(key)

    def append(self, key: str, kind: str, data: Any) -> int:
        event_id = self._local.append(key, kind, data)
        self._kick(key)
        return event_id

    def close(self, key: str) -> None:
        self._local.close(key)
        self._kick(key)

    async def seal(self, key: str, kind: str, data: Any) -> bool:
        """Append a terminal event to a log whose owner is gone; False if it had ended (or does not exist)."""
        if self._local.owns(key):
            sealed = await self._local.seal(key, kind, data)
            if sealed:
                self._kick(key)
            return sealed
        sealed = await self._hub.call(lambda: self._seal(
            keys=[self.stream(key)], args=[kind, self._dump(data), self._retention_ms, SEAL_GAP]))
        return bool(sealed)

    def _kick(self, key: str) -> None:
        self._dirty.add(key)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_loop(), name="eventlog-flush")

    def _rewrite_all(self) -> None:
        for key in self._flushed:
            self._resync.add(key)
            self._dirty.add(key)
        if self._flushed:
            self._kick(next(iter(self._flushed)))

    async def _flush_loop(self) -> None:
        backoff = 0.05
        while self._dirty:
            keys, self._dirty = self._dirty, set()
            try:
                await self._flush(keys)
                raise_if_cancelled()
                backoff = 0.05
                await asyncio.sleep(FLUSH_EVERY)
            except asyncio.CancelledError:
                self._dirty |= keys
                raise
            except (*UNAVAILABLE, RedisError) as exc:
                if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                    self._dirty |= keys
                    raise asyncio.CancelledError from None
                self._hub._unhealthy(exc)
                # Some of the pipeline may have been applied, or Redis may have restarted empty: write
                # these logs again from the start once it answers (ids are the same, readers see no seam).
                self._dirty |= keys | set(self._flushed)
                self._resync |= set(self._flushed)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            except Exception:
                log.exception("event log flush failed")
                self._dirty |= keys
                await asyncio.sleep(MAX_BACKOFF)

    async def _flush(self, keys: set[str]) -> None:
        """One EVALSHA for every log with something new: one command per flush, however many answers, so
        Redis costs each chunk a few arguments rather than a command of its own (bench figure 8)."""
        args: list[Any] = [self._hub.epoch_key, self._retention_ms, OPEN_TTL_MS, MAX_ENTRIES]
        plan: list[tuple[str, int, bool]] = []  # key, last id written, closed
        for key in keys:
            if key not in self._flushed:
                continue
            resync = key in self._resync
            events, closed = self._local.read_now(key, 0 if resync else self._flushed[key])
            args += [self.stream(key), int(resync), int(closed), len(events)]
            for event_id, kind, data in events:
                args += [f"0-{event_id}", kind,
                         data.encode("utf-8", "surrogatepass") if kind in TEXT_KINDS else self._dump(data)]
            plan.append((key, events[-1][0] if events else self._flushed[key], closed))
        if not plan:
            return
        epoch, lost = await self._write(args=args)
        if epoch != self._hub.epoch:
            # Redis lost everything since the last flush: what was just written may lack its start.
            await self._hub.check_epoch()
            if epoch is None or self._hub.epoch != epoch:
                raise ConnectionError("Redis restarted")
        lost = {name.decode() for name in lost}
        for key, last, closed in plan:
            self._resync.discard(key)
            if self.stream(key) in lost:
                # Another process sealed this log (it took us for dead): stop writing it.
                log.warning("event log %s was ended by another process; its generation here stops", key)
                self._flushed.pop(key, None)
                if self.on_lost is not None:
                    self.on_lost(key)
            elif closed and last >= self._local.last_id_now(key):
                self._flushed.pop(key, None)  # complete in Redis: nothing more to send
            else:
                self._flushed[key] = last

    async def drain(self, timeout: float = 5.0) -> bool:
        """Wait until everything appended is in Redis (shutdown, tests); False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._dirty or (self._flusher is not None and not self._flusher.done()):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    # --- readers --------------------------------------------------------------------------------------

    def owns(self, key: str) -> bool:
        return self._local.owns(key)

    async def has(self, key: str) -> bool:
        if self._local.owns(key):
            return True
        return bool(await self._hub.call(lambda: self._hub.client.exists(self.stream(key))))

    async def read(self, key: str, after: int) -> tuple[list[Event], bool]:
        """Events with id > ``after``, and whether the log has ended (or does not exist)."""
        if self._local.owns(key):
            return self._local.read_now(key, after)
        name = self.stream(key)
        after = max(after, 0)

        async def fetch() -> list[Any]:
            pipe = self._hub.client.pipeline(transaction=False)
            pipe.xrange(name, min=f"(0-{after}", max="+", count=READ_COUNT)
            pipe.xrevrange(name, count=1)
            return await pipe.execute()

        entries, last = await self._hub.call(fetch)
        if not last:
            return [], True
        events: list[Event] = []
        for entry_id, fields in entries:
            event_id = int(entry_id.split(b"-", 1)[1])
            kind = fields[b"k"].decode()
            raw = fields[b"d"]
            if kind in TEXT_KINDS:
                text = raw.decode("utf-8", "surrogatepass")
                start = event_id - len(text)
                if after > start:
                    text = text[after - start:]
                events.append((event_id, kind, text))
            else:
                events.append((event_id, kind, self._load(raw)))
        last_kind = last[0][1][b"k"].decode()
        last_id = int(last[0][0].split(b"-", 1)[1])
        closed = last_kind in TERMINAL_KINDS and (not events or events[-1][0] >= last_id)
        return events, closed

    async def last_id(self, key: str) -> int:
        if self._local.owns(key):
            return self._local.last_id_now(key)
        last = await self._hub.call(lambda: self._hub.client.xrevrange(self.stream(key), count=1))
        return int(last[0][0].split(b"-", 1)[1]) if last else 0

    async def wait(self, key: str, after: int, timeout: float) -> bool:
        """Until an event with id > ``after`` exists or the log has ended; False on timeout."""
        if self._local.owns(key):
            return await self._local.wait(key, after, timeout)
        name = self.stream(key)
        last = await self._hub.call(lambda: self._hub.client.xrevrange(name, count=1))
        if not last or int(last[0][0].split(b"-", 1)[1]) > after or last[0][1][b"k"] in (b"done", b"error"):
            return True
        return await self._hub.wait(name, after, timeout)

    # --- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.drain(3.0)
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._flusher
