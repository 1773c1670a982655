"""Provider URLs and authentication: chat and models URLs from what the admin typed, Azure OpenAI."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

_CHAT = "/chat/completions"
_AZURE_HOSTS = (".openai.azure.com", ".cognitiveservices.azure.com")


@dataclass(frozen=True, slots=True)
class Endpoint:
    chat_url: str
    # None where the provider has no useful model list (an Azure deployment URL names the model).
    models_url: str | None
    headers: dict[str, str]
    azure: bool


def is_azure(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return host.endswith(_AZURE_HOSTS) or "/openai/deployments/" in parts.path


def _needs_key(api_key: str) -> bool:
    # Local servers (llama.cpp, Ollama, LM Studio) are usually configured with "not-needed".
    return bool(api_key.strip()) and api_key.strip().lower() != "not-needed"


def resolve_endpoint(url: str, api_key: str) -> Endpoint:
    """Accept a full ``.../chat/completions`` URL or a base URL and derive chat and models URLs."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("The AI provider URL must start with http:// or https:// and name a host")
    azure = is_azure(url)
    path = parts.path.rstrip("/")
    if path.endswith(_CHAT):
        base = path[: -len(_CHAT)]
    else:
        base = path
        if not base:
            # "http://localhost:11434" -> every OpenAI-compatible server we know serves /v1.
            base = "/openai/v1" if azure else "/v1"
    chat = urlunsplit((parts.scheme, parts.netloc, base + _CHAT, parts.query, ""))
    models: str | None
    if azure and "/deployments/" in base:
        models = None
    else:
        models = urlunsplit((parts.scheme, parts.netloc, base + "/models", parts.query, ""))
    headers: dict[str, str] = {}
    if _needs_key(api_key):
        if azure:
            headers["api-key"] = api_key.strip()
        else:
            headers["Authorization"] = f"Bearer {api_key.strip()}"
    return Endpoint(chat, models, headers, azure)


def display_url(url: str) -> str:
    """scheme://host[:port]/path without credentials or query (the query may carry a key)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
