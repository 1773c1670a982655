"""Settings: environment variables over the app's Nextcloud config over defaults (core/config_store.py caches them)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from .connections import Connection, build_connections, is_key_setting, key_setting, lenient_ids
from .secrets import Secret

log = logging.getLogger(__name__)

Source = Literal["env", "appconfig", "default"]

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant inside Nextcloud. Answer in the language of the user's message. "
    "Use Markdown for lists, tables and code."
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting, typed. Field name == app config key; env var == upper-case name."""

    streaming_api_url: str = ""
    streaming_api_key: Secret = field(default_factory=lambda: Secret(""))
    streaming_model: str = "gpt-3.5-turbo"
    # A browser-reachable URL that proxies to this ExApp without buffering (see docs/deployment.md).
    streaming_public_url: str = ""
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    max_tokens: int = 0  # 0: let the provider decide
    temperature: float = -1.0  # < 0: let the provider decide
    history_length: int = 20  # messages sent as context
    history_max_chars: int = 32_000
    connect_timeout: float = 10.0
    request_timeout: float = 120.0  # first byte, and idle time between two chunks
    # A whole answer's limit: keep-alive comments reset the idle timeout, so a provider that sends only
    # those would otherwise hold a generation (and the user's concurrency slot) forever.
    answer_timeout: float = 900.0
    max_answer_chars: int = 200_000
    max_concurrent_per_user: int = 3
    max_starts_per_minute: int = 20
    taskprocessing_fallback: bool = True
    # Attachments (docs/configuration.md "Attachments"): bytes of a document / an image, characters kept of
    # one file, characters of all files' text in one prompt.
    attachment_max_bytes: int = 20 << 20
    attachment_max_image_bytes: int = 4 << 20
    attachment_max_chars: int = 100_000
    attachment_context_chars: int = 60_000
    # Models that accept images (comma-separated names as the API knows them; "*" for every model).
    vision_models: str = ""
    # Offer "Ask my documents" (Nextcloud's context_chat through TaskProcessing) where Nextcloud has it.
    context_chat: bool = True
    # Token budgets per user and group, JSON (core/budgets.py, docs/configuration.md "Budgets"); their days
    # and months run in this IANA time zone.
    budgets: str = ""
    budget_timezone: str = "UTC"
    # More models users may pick on the seed's connection (comma-separated), after streaming_model.
    streaming_models: str = ""
    connections: str = ""  # further connections, a JSON list (core/connections.py; keys in their own settings)
    presets: str = ""  # the admin's shared presets, a JSON list (core/presets.py)
    # Derived: the seed's connection and the valid ``connections``, each with its key.
    connection_list: tuple[Connection, ...] = ()
    sources: Mapping[str, Source] = field(default_factory=dict, compare=False)
    # True when Nextcloud could not be asked and these are the last values that could be read.
    stale: bool = field(default=False, compare=False)

    @property
    def streaming_configured(self) -> bool:
        """Some connection offers a model (the seed's streaming_api_url, or an entry of ``connections``)."""
        return any(c.models for c in self.connection_list)

    def vision(self, model: str) -> bool:
        """Whether the admin marked ``model`` as able to see images."""
        names = {n.strip().lower() for n in self.vision_models.split(",") if n.strip()}
        return "*" in names or model.strip().lower() in names

    def public(self) -> dict[str, dict[str, Any]]:
        """Values with their source, safe to show an admin: the key only as set/unset."""
        out: dict[str, dict[str, Any]] = {}
        for name in SETTING_KEYS:
            value = getattr(self, name)
            if isinstance(value, Secret):
                value = "set" if value else "unset"
            elif name == "connections":  # as parsed: a key an admin put into the JSON by mistake is not echoed
                value = [c.public() for c in self.connection_list if not c.seed]
            out[name] = {"value": value, "source": self.sources.get(name, "default")}
        return out


SETTING_KEYS: tuple[str, ...] = tuple(f.name for f in fields(Settings)
                                      if f.name not in ("sources", "stale", "connection_list"))
SENSITIVE_KEYS = frozenset({"streaming_api_key"})


def sensitive(key: str) -> bool:
    """A key whose value is a secret: stored sensitive, never shown or logged (the seed's and every connection's)."""
    return key in SENSITIVE_KEYS or is_key_setting(key)


# Write-only inboxes: Nextcloud's forms API hands every field's stored value (a password field's decrypted) to
# the admin's browser, so the admin form's key field is not the key. What the admin types there is moved by
# the app into the key the inbox names (never a form field) and the inbox is emptied (docs/configuration.md).
KEY_INBOX = "streaming_api_key_new"
INBOXES: Mapping[str, str] = {KEY_INBOX: "streaming_api_key"}
_DEFAULTS = Settings()


def env_name(key: str) -> str:
    return key.upper()


def _coerce(key: str, raw: str) -> Any:
    """Parse a raw string for ``key``; raises ValueError on nonsense."""
    default = getattr(_DEFAULTS, key)
    raw = raw.strip() if key not in ("system_prompt",) else raw
    if isinstance(default, Secret):
        return Secret(raw.strip())
    if isinstance(default, bool):
        low = raw.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(raw)
    if isinstance(default, int):
        value = int(raw)
        if value < 0:
            raise ValueError(raw)
        return value
    if isinstance(default, float):
        value = float(raw)
        if value != value or value in (float("inf"), float("-inf")):  # NaN / inf
            raise ValueError(raw)
        return value
    if key in ("streaming_api_url", "streaming_public_url"):
        value = raw.rstrip("/") if key == "streaming_public_url" else raw
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError("not an http(s) URL")
        return value
    return raw


def build_settings(environ: Mapping[str, str], appconfig: Mapping[str, str | None], *, stale: bool = False) -> Settings:
    """Merge the sources, strongest first: environment, app config, default."""
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for key in SETTING_KEYS:
        for source, raw in (("env", environ.get(env_name(key))), ("appconfig", appconfig.get(key))):
            if raw is None or (raw == "" and source == "appconfig"):
                continue
            try:
                values[key] = _coerce(key, raw)
            except ValueError:
                # Never echo the raw value: it may be the key pasted into the wrong field.
                log.warning("Ignoring invalid value for setting %s from %s", key, source)
                continue
            sources[key] = source  # type: ignore[assignment]
            break
    keys: dict[str, Secret] = {}
    for cid in lenient_ids(values.get("connections", "")):
        name = key_setting(cid)
        raw_key = environ.get(env_name(name)) or appconfig.get(name) or ""
        keys[cid] = Secret(raw_key.strip())
    connection_list = build_connections(
        url=values.get("streaming_api_url", ""), api_key=values.get("streaming_api_key", Secret("")),
        model=values.get("streaming_model", _DEFAULTS.streaming_model), extra_models=values.get("streaming_models", ""),
        raw=values.get("connections", ""), keys=keys)
    return Settings(**values, connection_list=connection_list, sources=sources, stale=stale)
