"""Connections: the OpenAI-compatible providers users may choose from, and the models each one allows."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .limits import MAX_CONNECTION_NAME, MAX_CONNECTIONS, MAX_MODEL_NAME, MAX_MODELS, MAX_URL
from .secrets import Secret

log = logging.getLogger(__name__)

# The seed's streaming_api_url / streaming_api_key / streaming_model are the first connection, under this id.
SEED_ID = "default"
# Lower-case letters, digits and "_": the id is part of an app config key and of an environment variable.
_ID = re.compile(r"[a-z0-9][a-z0-9_]{0,31}")
_KEY_FIELDS = frozenset({"api_key", "apikey", "apiKey", "key"})


@dataclass(frozen=True, slots=True)
class Connection:
    """One provider: where it is, its key (never shown), and the models users may pick on it (the first is its
    default)."""

    id: str
    name: str
    url: str
    api_key: Secret
    models: tuple[str, ...]
    seed: bool = False  # the streaming_* settings, not the ``connections`` list

    def public(self) -> dict[str, Any]:
        """What an admin may see: everything but the key, which shows as set or not."""
        return {"id": self.id, "name": self.name, "url": self.url, "models": list(self.models),
                "keySet": bool(self.api_key), "seed": self.seed}


def key_setting(connection_id: str) -> str:
    """The app config key that holds a connection's API key (stored sensitive)."""
    return f"connection_{connection_id}_api_key"


def is_key_setting(name: str) -> bool:
    """Whether the app config key ``name`` holds a connection's API key."""
    return name.startswith("connection_") and name.endswith("_api_key")


def split_models(raw: str) -> list[str]:
    """Models from a comma- or newline-separated list, each once, in order."""
    out: list[str] = []
    for part in re.split(r"[,\n]", raw or ""):
        name = part.strip()
        if name and name not in out and len(name) <= MAX_MODEL_NAME:
            out.append(name)
    return out


def valid_url(url: str) -> bool:
    return len(url) <= MAX_URL and url.lower().startswith(("http://", "https://")) and len(url) > 8


def check_entry(entry: Any) -> dict[str, Any]:
    """One connection as the admin wrote it, checked; ValueError names what is wrong (never a value: it could
    be a key pasted into the wrong place)."""
    if not isinstance(entry, dict):
        raise ValueError("each connection must be a JSON object")
    cid = entry.get("id")
    if not isinstance(cid, str) or not _ID.fullmatch(cid) or cid == SEED_ID:
        raise ValueError(f"a connection id must be 1-32 lower-case letters, digits or '_', not '{SEED_ID}'")
    name = entry.get("name", cid)
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_CONNECTION_NAME:
        raise ValueError(f"connection {cid}: the name must be text of at most {MAX_CONNECTION_NAME} characters")
    url = entry.get("url")
    if not isinstance(url, str) or not valid_url(url.strip()):
        raise ValueError(f"connection {cid}: the url must start with http:// or https://")
    models = entry.get("models", [])
    if not isinstance(models, list) or len(models) > MAX_MODELS or not all(
            isinstance(m, str) and m.strip() and len(m) <= MAX_MODEL_NAME for m in models):
        raise ValueError(f"connection {cid}: models must be a list of at most {MAX_MODELS} model names")
    return {"id": cid, "name": name.strip(), "url": url.strip(),
            "models": list(dict.fromkeys(m.strip() for m in models))}


def parse_list(raw: str, what: str, limit: int, check: Callable[[Any], dict[str, Any]]) -> list[dict[str, Any]]:
    """A setting that is a JSON list of objects with ids (``what``: connections, presets), each entry checked;
    ValueError for the first problem."""
    if not raw or not raw.strip():
        return []
    try:
        data = json.loads(raw)
    except ValueError:
        raise ValueError(f"{what} is not valid JSON") from None
    if not isinstance(data, list) or len(data) > limit:
        raise ValueError(f"{what} must be a JSON list of at most {limit} {what}")
    entries = [check(e) for e in data]
    if len({e["id"] for e in entries}) != len(entries):
        raise ValueError(f"two {what} have the same id")
    return entries


def parse_connections(raw: str) -> list[dict[str, Any]]:
    """The ``connections`` setting (a JSON list) checked entry by entry; ValueError for the first problem."""
    return parse_list(raw, "connections", MAX_CONNECTIONS, check_entry)


def lenient_ids(raw: str) -> list[str]:
    """The ids in ``raw`` as far as they can be read (to know which key settings to fetch)."""
    try:
        data = json.loads(raw or "[]")
    except ValueError:
        return []
    if not isinstance(data, list):
        return []
    return [e["id"] for e in data[:MAX_CONNECTIONS]
            if isinstance(e, dict) and isinstance(e.get("id"), str) and _ID.fullmatch(e["id"])]


def build_connections(*, url: str, api_key: Secret, model: str, extra_models: str, raw: str,
                      keys: Mapping[str, Secret]) -> tuple[Connection, ...]:
    """The seed connection (when streaming_api_url is set), then the valid entries of ``connections``."""
    out: list[Connection] = []
    if url:
        models = tuple(dict.fromkeys([m for m in [model.strip()] if m] + split_models(extra_models)))
        out.append(Connection(SEED_ID, "Default", url, api_key, models, seed=True))
    try:
        entries = parse_connections(raw)
    except ValueError as exc:
        log.warning("Ignoring the connections setting: %s", exc)
        entries = []
    for entry in entries:
        out.append(Connection(entry["id"], entry["name"], entry["url"], keys.get(entry["id"], Secret("")),
                              tuple(entry["models"])))
    return tuple(out)


def dump_connections(entries: list[dict[str, Any]]) -> str:
    """The ``connections`` value for checked entries (ids, names, URLs and models; never a key)."""
    return json.dumps([{k: e[k] for k in ("id", "name", "url", "models")} for e in entries],
                      ensure_ascii=False, separators=(",", ":"))


def has_key_field(raw: str) -> bool:
    """Whether an admin put a key into the ``connections`` JSON (it is ignored there: keys go to their own
    sensitive setting)."""
    try:
        data = json.loads(raw or "[]")
    except ValueError:
        return False
    return isinstance(data, list) and any(isinstance(e, dict) and _KEY_FIELDS & set(e) for e in data)


def find(connections: tuple[Connection, ...], connection_id: str) -> Connection | None:
    return next((c for c in connections if c.id == connection_id), None)
