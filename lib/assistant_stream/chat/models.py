"""Which model writes an answer, and with which prompt options: a conversation's choice checked against the
admin's connections, or their default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.connections import Connection, find
from ..core.errors import ModelNotAllowed
from ..core.settings import Settings
from ..store.values import Record

TASKPROCESSING_MODEL = "nextcloud"  # what an answer of Nextcloud's TaskProcessing records as its model


@dataclass(frozen=True, slots=True)
class AnswerPlan:
    """How one answer is written. ``connection`` None: no connection is configured (TaskProcessing decides)."""

    connection: Connection | None
    model: str
    system_prompt: str
    temperature: float | None  # None: the admin's setting
    max_tokens: int | None  # None: the admin's setting

    @property
    def connection_id(self) -> str | None:
        return self.connection.id if self.connection is not None else None


def catalog(settings: Settings) -> dict[str, Any]:
    """What users may choose from, grouped by connection (no URL, no key), and the default choice."""
    groups = [{"id": c.id, "name": c.name, "models": list(c.models)} for c in settings.connection_list if c.models]
    default = default_choice(settings)
    return {"connections": groups,
            "default": None if default is None else {"connection": default[0].id, "model": default[1]}}


def default_choice(settings: Settings) -> tuple[Connection, str] | None:
    """The first model of the first connection that has one (the seed's streaming_model when it is set)."""
    first = next((c for c in settings.connection_list if c.models), None)
    return None if first is None else (first, first.models[0])


def choose(settings: Settings, connection_id: str | None, model: str | None) -> tuple[Connection, str] | None:
    """The connection and model for a choice (None: the default); ModelNotAllowed for one the admin does not
    offer (any more)."""
    if connection_id is None or model is None:
        return default_choice(settings)
    connection = find(settings.connection_list, connection_id)
    if connection is None or model not in connection.models:
        where = f" on {connection.name}" if connection is not None else ""
        raise ModelNotAllowed(f"The model '{model}'{where} is not available: the administrator does not allow it "
                              "(any more). Choose another model for this conversation.")
    return connection, model


def plan(settings: Settings, options: Record, *, connection_id: str | None = None,
         model: str | None = None) -> AnswerPlan:
    """The plan for an answer in a conversation with ``options`` (store: session_options); ``connection_id`` and
    ``model`` override the conversation's choice (a continued answer keeps the model that began it)."""
    if connection_id is None:
        connection_id, model = options.get("connection"), options.get("model")
    chosen = choose(settings, connection_id, model)
    prompt = options.get("system_prompt")
    return AnswerPlan(
        connection=chosen[0] if chosen else None, model=chosen[1] if chosen else TASKPROCESSING_MODEL,
        system_prompt=settings.system_prompt if prompt is None else prompt,
        temperature=options.get("temperature"), max_tokens=options.get("max_tokens"))


def plan_or_default(settings: Settings, options: Record) -> AnswerPlan:
    """The conversation's plan, or the default's when its model is not offered any more (titles)."""
    try:
        return plan(settings, options)
    except ModelNotAllowed:
        return plan(settings, {})
