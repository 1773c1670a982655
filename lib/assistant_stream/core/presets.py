"""Presets: a system prompt, temperature, max tokens and optionally a model, shared by the admin or a user's own."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from .connections import parse_list
from .limits import MAX_CONNECTION_NAME, MAX_MAX_TOKENS, MAX_MODEL_NAME, MAX_PRESETS, MAX_SYSTEM_PROMPT

log = logging.getLogger(__name__)

_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
MAX_TEMPERATURE = 2.0  # OpenAI's range; other providers accept less, never more
OPTION_KEYS = ("system_prompt", "temperature", "max_tokens", "connection", "model")


def check_options(values: dict[str, Any]) -> dict[str, Any]:
    """A preset's or a conversation's options checked (None: the admin's default); ValueError says what is wrong."""
    prompt, temperature, max_tokens = values.get("system_prompt"), values.get("temperature"), values.get("max_tokens")
    connection, model = values.get("connection"), values.get("model")
    if prompt is not None and (not isinstance(prompt, str) or len(prompt) > MAX_SYSTEM_PROMPT):
        raise ValueError(f"the system prompt must be text of at most {MAX_SYSTEM_PROMPT} characters")
    if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, int | float)
                                    or not 0 <= temperature <= MAX_TEMPERATURE):
        raise ValueError(f"the temperature must be a number from 0 to {MAX_TEMPERATURE:g}")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or not 1 <= max_tokens <= MAX_MAX_TOKENS):
        raise ValueError(f"max tokens must be an integer from 1 to {MAX_MAX_TOKENS}")
    if (connection is None) != (model is None):
        raise ValueError("a model needs its connection, and a connection its model")
    for name, value in (("connection", connection), ("model", model)):
        if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > MAX_MODEL_NAME):
            raise ValueError(f"the {name} must be a name of at most {MAX_MODEL_NAME} characters")
    return {"system_prompt": prompt, "temperature": None if temperature is None else float(temperature),
            "max_tokens": max_tokens, "connection": connection, "model": model}


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_CONNECTION_NAME:
        raise ValueError(f"a preset needs a name of at most {MAX_CONNECTION_NAME} characters")
    return name.strip()


def check_shared(entry: Any) -> dict[str, Any]:
    """One admin preset: an id (letters, digits, '-', '_'), a name and its options."""
    if not isinstance(entry, dict):
        raise ValueError("each preset must be a JSON object")
    pid = entry.get("id")
    if not isinstance(pid, str) or not _ID.fullmatch(pid):
        raise ValueError("a preset id must be 1-32 lower-case letters, digits, '-' or '_'")
    try:
        return {"id": pid, "name": check_name(entry.get("name")), **check_options(entry)}
    except ValueError as exc:
        raise ValueError(f"preset {pid}: {exc}") from None


def parse_presets(raw: str) -> list[dict[str, Any]]:
    """The ``presets`` setting (a JSON list of shared presets); ValueError for the first problem."""
    return parse_list(raw, "presets", MAX_PRESETS, check_shared)


def shared_presets(raw: str) -> list[dict[str, Any]]:
    """The shared presets, or none when the setting is broken (logged, never echoed)."""
    try:
        return parse_presets(raw)
    except ValueError as exc:
        log.warning("Ignoring the presets setting: %s", exc)
        return []


def dump_presets(entries: list[dict[str, Any]]) -> str:
    return json.dumps([{k: e[k] for k in ("id", "name", *OPTION_KEYS)} for e in entries],
                      ensure_ascii=False, separators=(",", ":"))
