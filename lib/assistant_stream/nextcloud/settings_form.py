"""The admin settings form (Nextcloud's declarative settings) in the AI section ("Assistant" on Nextcloud 32/33)."""

from __future__ import annotations

from typing import Any

from nc_py_api.ex_app import SettingsField, SettingsFieldType, SettingsForm

from ..core.settings import KEY_INBOX, Settings

SETTINGS_FORM_ID = "assistant_stream_admin"
# "ai" is the id of core's AI admin section, labelled "Assistant" on Nextcloud 32 and 33.
SETTINGS_SECTION_ID = "ai"


TEXT, NUMBER, PASSWORD = SettingsFieldType.TEXT, SettingsFieldType.NUMBER, SettingsFieldType.PASSWORD
# The defaults shown in the form are the ones the app uses when a value is unset.
_DEFAULTS = Settings()


def _field(key: str, title: str, description: str, kind: SettingsFieldType = TEXT, **kw: Any) -> SettingsField:
    kw.setdefault("default", getattr(_DEFAULTS, key))
    return SettingsField(id=key, title=title, type=kind, description=description, **kw)


def _provider_fields() -> list[SettingsField]:
    return [
        _field("streaming_api_url", "API base URL", (
            "Base URL of an OpenAI-compatible API (the app appends /chat/completions). "
            "OpenAI: https://api.openai.com/v1 · Ollama: http://<host>:11434/v1 · "
            "vLLM / llama.cpp server / LiteLLM: http://<host>:<port>/v1 · "
            "Azure OpenAI: https://<resource>.openai.azure.com/openai/deployments/<deployment>"
            "?api-version=<version>. Leave empty to use Nextcloud's own text processing (TaskProcessing)."),
            placeholder="https://api.openai.com/v1"),
        # Write-only (core.settings.INBOXES): Nextcloud would show a field's stored value to the admin's browser.
        SettingsField(id=KEY_INBOX, title="API key (write-only)", type=PASSWORD, default="", sensitive=True,
                      description=(
                          "Type a new key to set or replace the stored one; leave empty to keep it. The key is "
                          "stored encrypted and never shown again: this field empties itself once the app has "
                          "taken the key over. Sent as 'Authorization: Bearer <key>' (Azure: as 'api-key'). "
                          "Servers without authentication (Ollama, a local llama.cpp) need none.")),
        _field("streaming_model", "Model", (
            "Model name as the API knows it, e.g. gpt-4o-mini, llama3.1:8b (Ollama) or the "
            "served model name (vLLM).")),
        _field("streaming_public_url", "Public streaming URL (optional)", (
            "A browser-reachable URL that reverse-proxies to this app WITHOUT buffering. Only "
            "needed when Nextcloud has no HaRP: the stock AppAPI proxy delivers an answer only "
            "at its end."), placeholder="https://cloud.example.com/assistant-stream"),
    ]


def _answer_fields() -> list[SettingsField]:
    return [
        # Nextcloud's declarative settings (and nc_py_api) have no multi-line type: a one-line TEXT field.
        _field("system_prompt", "System prompt", "Sent as the first message of every conversation."),
        _field("max_tokens", "Maximum answer tokens", "Upper limit for one answer; 0 lets the provider decide.",
               NUMBER),
        _field("request_timeout", "Request timeout (seconds)",
               "How long to wait for the first token, and between two tokens, before giving up.", NUMBER),
        _field("history_length", "Context messages",
               "How many earlier messages of the conversation are sent along with a question.", NUMBER),
        _field("max_concurrent_per_user", "Concurrent answers per user",
               "How many answers one user may have generating at the same time.", NUMBER),
    ]


def settings_form() -> SettingsForm:
    """The admin form (declarative settings). Field ids are the app config keys ConfigStore reads (the key's field:
    its write-only inbox)."""
    return SettingsForm(
        id=SETTINGS_FORM_ID, section_type="admin", section_id=SETTINGS_SECTION_ID, title="Assistant Stream",
        description="AI chat that streams answers token by token from any OpenAI-compatible API.",
        fields=[*_provider_fields(), *_answer_fields()],
    )
