"""Following an event log for one reader: batches bounded in size, a tick when nothing came for a while."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from ..core.limits import HEARTBEAT, MAX_BATCH_CHARS
from .eventlog import TERMINAL_KINDS, Event, EventLog

log = logging.getLogger(__name__)


def bounded(events: list[Event], max_chars: int = MAX_BATCH_CHARS) -> list[Event]:
    """The leading events holding up to ``max_chars`` of text (always at least one event)."""
    size = 0
    for i, (_id, _kind, data) in enumerate(events):
        if isinstance(data, str):
            size += len(data)
            if size > max_chars and i > 0:
                return events[:i]
    return events


async def follow(eventlog: EventLog, key: str, after: int, *, heartbeat: float = HEARTBEAT
                 ) -> AsyncIterator[list[Event] | None]:
    """Events after ``after`` in batches, until the terminal one; None after ``heartbeat`` s of silence."""
    try:
        while True:
            events, closed = await eventlog.read(key, after)
            if len(events) > 1:
                batch = bounded(events)
                if len(batch) < len(events):
                    events, closed = batch, False  # the rest is sent once this batch has drained
            if events:
                after = events[-1][0]
                yield events
                if events[-1][1] in TERMINAL_KINDS:
                    return
            if closed:
                return
            if not await eventlog.wait(key, after, heartbeat):
                yield None
    finally:
        # Nothing to release: the generation runs on without readers. Logged for troubleshooting only.
        log.debug("stream reader for %s ended after event %d", key, after)
