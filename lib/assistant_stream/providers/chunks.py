"""OpenAI chat-completion chunk JSON -> typed provider events (reasoning fields, <think> tags, errors)."""

from __future__ import annotations

import json
from typing import Any

import orjson

from ..core import errors
from ..core.events import Finish, ProviderEvent, ReasoningDelta, TextDelta, Usage
from .errors import error_from_payload

_OPEN = "<think>"
_CLOSE = "</think>"


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag`` (a split tag)."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


class ThinkSplitter:
    """Splits inline ``<think>...</think>`` reasoning from the answer, with tags split across chunks.

    Only a ``<think>`` at the very start of the answer (after optional whitespace) opens reasoning:
    a model that *talks about* the tag later in its answer must not lose text.
    """

    __slots__ = ("_buf", "_state")

    _START, _THINK, _AFTER, _TEXT = range(4)

    def __init__(self) -> None:
        self._state = self._START
        self._buf = ""

    def feed(self, text: str) -> list[TextDelta | ReasoningDelta]:
        if self._state == self._TEXT:  # hot path once the answer is underway
            return [TextDelta(text)] if text else []
        out: list[TextDelta | ReasoningDelta] = []
        buf = self._buf + text
        self._buf = ""
        if self._state == self._START:
            stripped = buf.lstrip()
            if not stripped:
                self._buf = buf  # only whitespace so far: undecided
                return out
            if stripped.startswith(_OPEN):
                self._state = self._THINK
                buf = stripped[len(_OPEN):]
            elif _OPEN.startswith(stripped):
                self._buf = buf  # "<thi" so far: undecided
                return out
            else:
                self._state = self._TEXT
                return [TextDelta(buf)]
        if self._state == self._THINK:
            idx = buf.find(_CLOSE)
            if idx < 0:
                keep = _partial_suffix(buf, _CLOSE)
                inside = buf[:len(buf) - keep]
                self._buf = buf[len(buf) - keep:]
                if inside:
                    out.append(ReasoningDelta(inside))
                return out
            if idx:
                out.append(ReasoningDelta(buf[:idx]))
            self._state = self._AFTER
            buf = buf[idx + len(_CLOSE):]
        if self._state == self._AFTER:
            # Models put blank lines between </think> and the answer; they are not part of it.
            buf = buf.lstrip()
            if buf:
                self._state = self._TEXT
                out.append(TextDelta(buf))
        return out

    def flush(self) -> list[TextDelta | ReasoningDelta]:
        """End of answer: release held-back text (an undecided start is text, an open think is reasoning)."""
        buf, self._buf = self._buf, ""
        if not buf:
            return []
        if self._state == self._THINK:
            return [ReasoningDelta(buf)]
        if self._state == self._START:
            self._state = self._TEXT
            return [TextDelta(buf)]
        return []


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class ChunkParser:
    """Turns the ``data`` of each SSE event into events; one parser per answer (it keeps think state)."""

    __slots__ = ("_think", "finished")

    def __init__(self) -> None:
        self._think = ThinkSplitter()
        self.finished = False

    def parse(self, data: str) -> list[ProviderEvent]:
        try:
            # orjson: JSON parsing is most of the CPU spent per token (bench/decode_bench.py).
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            try:  # the stdlib also accepts what orjson refuses (lone surrogate escapes, NaN)
                obj = json.loads(data)
            except ValueError:
                raise errors.ProviderProtocolError(
                    "The AI provider sent a malformed JSON chunk: " + data[:100]) from None
        if not isinstance(obj, dict):
            raise errors.ProviderProtocolError(
                "The AI provider sent a chunk that is not a JSON object: " + data[:100])
        return self.parse_obj(obj)

    def parse_obj(self, obj: dict[str, Any]) -> list[ProviderEvent]:
        err = obj.get("error")
        if err:  # vLLM and gateways report failures in-band at HTTP 200
            raise error_from_payload(err)
        out: list[ProviderEvent] = []
        choices = obj.get("choices")
        # Never index choices[0] blindly: Azure's first chunk and the usage chunk have none.
        if choices and isinstance(choices, list):
            choice = choices[0]
            if isinstance(choice, dict):
                delta = choice.get("delta")
                if not isinstance(delta, dict):
                    delta = choice.get("message")  # a non-streamed completion
                if isinstance(delta, dict):
                    reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                    if reasoning and isinstance(reasoning, str):
                        out.append(ReasoningDelta(reasoning))
                    content = delta.get("content")
                    if content and isinstance(content, str):
                        out.extend(self._think.feed(content))
                reason = choice.get("finish_reason")
                if reason and not self.finished:
                    out.extend(self._think.flush())
                    self.finished = True
                    out.append(Finish(str(reason)))
        usage = obj.get("usage")
        if usage and isinstance(usage, dict):
            p, c = _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens"))
            out.append(Usage(p, c, _int(usage.get("total_tokens")) or p + c))
        return out

    def finish(self) -> list[ProviderEvent]:
        """End of stream: release held-back text and close with Finish(None) if no reason came."""
        out: list[ProviderEvent] = list(self._think.flush())
        if not self.finished:
            self.finished = True
            out.append(Finish(None))
        return out
