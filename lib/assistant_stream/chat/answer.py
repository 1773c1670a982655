"""AnswerView: one answer as readers see it, built from a live generation or from its stored row alike."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from ..core.errors import AppError, from_code
from ..core.events import Usage
from ..store.values import Record
from .generation import Generation, GenerationKind
from .titles import clean_title


@dataclass(frozen=True, slots=True)
class AnswerView:
    """Everything stream, poll and check_generation tell about an answer (or a title), whatever its source.

    ``status`` is "generating" until the answer is saved and announced; ``message`` is the stored row
    (its final state once done). Built the same way from a generation and from a row, so that a replay
    from the database says exactly what the live stream said.
    """

    kind: GenerationKind
    message_id: int | None
    reply_to: int | None
    model: str | None
    engine: str
    status: str
    text: str
    reasoning: str
    finish_reason: str | None = None
    usage: Usage | None = None
    tokens_per_second: float | None = None
    error: AppError | None = None
    message: Record | None = None
    title: str | None = None
    first_token: bool = False  # the engine has sent text (TaskProcessing's "running" vs "scheduled")
    connection: str | None = None  # the connection whose model writes it

    @property
    def done(self) -> bool:
        return self.status != "generating"

    @classmethod
    def of_generation(cls, gen: Generation, *, ended: bool | None = None, stored: Record | None = None
                      ) -> AnswerView:
        """The generation as it stands: ended once finished (``ended`` overrides), else generating with
        ``stored`` as its message (the row as the database has it meanwhile)."""
        ended = gen.finished if ended is None else ended
        return cls(
            kind=gen.kind, message_id=gen.message_id, reply_to=gen.reply_to, model=gen.model, engine=gen.engine,
            status=gen.status if ended else "generating", text=gen.text, reasoning=gen.reasoning,
            finish_reason=gen.finish_reason, usage=gen.total_usage, tokens_per_second=gen.tokens_per_second(),
            error=gen.error if gen.status == "error" else None,
            message=gen.final_message if ended else stored,
            title=clean_title(gen.text) if gen.kind == "title" else None,
            first_token=gen.first_token_at is not None, connection=gen.connection)

    @classmethod
    def started(cls, gen: Generation) -> AnswerView:
        """What the ``started`` event tells: who answers what, and how."""
        return cls(kind=gen.kind, message_id=gen.message_id, reply_to=gen.reply_to, model=gen.model,
                   engine=gen.engine, status="generating", text="", reasoning="", connection=gen.connection)

    @classmethod
    def of_row(cls, row: Record) -> AnswerView:
        """A stored answer (its event log gone, or never seen by this process)."""
        # The event's usage is what the provider reported, live and replayed alike: an estimate (made where it
        # reported none) is only on the message, marked usage_estimated.
        counts = (None, None, None) if row.get("usage_estimated") else (
            row["prompt_tokens"], row["completion_tokens"], row["total_tokens"])
        failed = row["status"] == "error"
        return cls(
            kind="answer", message_id=row["id"], reply_to=row["reply_to"], model=row["model"],
            engine=row["engine"] or "stream", status=row["status"], text=row["content"], reasoning=row["reasoning"],
            finish_reason=row["finish_reason"], usage=Usage(*counts) if any(c is not None for c in counts) else None,
            tokens_per_second=row["tokens_per_second"],
            error=from_code(row["error_code"], row["error"]) if failed else None, message=row,
            first_token=False, connection=row.get("connection"))


def dump_view(view: AnswerView) -> bytes:
    """An AnswerView as JSON, for an event log that leaves the process (store/eventlog_redis.py)."""
    data: dict[str, Any] = {k: v for k, v in asdict(view).items() if k not in ("usage", "error")}
    data["usage"] = None if view.usage is None else [view.usage.prompt_tokens, view.usage.completion_tokens,
                                                     view.usage.total_tokens]
    data["error"] = None if view.error is None else [view.error.code, view.error.message]
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def load_view(raw: bytes) -> AnswerView:
    data = json.loads(raw.decode("utf-8", "surrogatepass"))
    usage, error = data.pop("usage"), data.pop("error")
    return AnswerView(**data, usage=None if usage is None else Usage(*usage),
                      error=None if error is None else from_code(*error))
