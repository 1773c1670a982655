"""Answers that another process generates, as this one shows them: their text as far as the shared event log has
it (long-poll), the stored row otherwise."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict

from ..store.values import Record
from .answer import AnswerView
from .eventlog import TERMINAL_KINDS, EventLog

MAX_TRACKED = 64  # answers of other processes whose text this one keeps while they are long-polled here


class _Seen:
    __slots__ = ("after", "final", "reasoning", "text")

    def __init__(self) -> None:
        self.after = 0
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.final: AnswerView | None = None


class RemoteAnswers:
    """Reads other processes' answers from the event log incrementally: each poll reads only what is new."""

    def __init__(self, eventlog: EventLog) -> None:
        self._log = eventlog
        self._seen: OrderedDict[str, _Seen] = OrderedDict()

    async def view(self, key: str, row: Record, *, cursor: int, rcursor: int, timeout: float) -> AnswerView:
        """The answer once it has text past the cursors, or ends, or ``timeout`` passes."""
        seen = self._seen.pop(key, None) or _Seen()
        self._seen[key] = seen
        while len(self._seen) > MAX_TRACKED:
            self._seen.popitem(last=False)
        await self._catch_up(key, seen)
        if seen.final is None and sum(map(len, seen.text)) <= cursor and sum(map(len, seen.reasoning)) <= rcursor:
            await self._log.wait(key, seen.after, timeout)
            await self._catch_up(key, seen)
        if seen.final is not None:
            self._seen.pop(key, None)
            return seen.final
        text, reasoning = "".join(seen.text), "".join(seen.reasoning)
        seen.text, seen.reasoning = [text], [reasoning]
        return dataclasses.replace(AnswerView.of_row(row), text=text, reasoning=reasoning,
                                   first_token=bool(text or reasoning))

    async def _catch_up(self, key: str, seen: _Seen) -> None:
        while True:
            events, _ended = await self._log.read(key, seen.after)
            if not events:
                return
            for event_id, kind, data in events:
                seen.after = event_id
                if kind == "chunk":
                    seen.text.append(data)  # type: ignore[arg-type]
                elif kind == "reasoning":
                    seen.reasoning.append(data)  # type: ignore[arg-type]
                elif kind in TERMINAL_KINDS and isinstance(data, AnswerView):
                    seen.final = data
