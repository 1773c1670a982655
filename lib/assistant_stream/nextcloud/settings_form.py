"""The admin settings form (Nextcloud's declarative settings) in the "Artificial Intelligence" section."""

from __future__ import annotations

from nc_py_api.ex_app import SettingsField, SettingsFieldType, SettingsForm

from ..core.settings import Settings

SETTINGS_FORM_ID = "assistant_stream_admin"
# "ai" is the id of core's "Artificial Intelligence" admin section.
SETTINGS_SECTION_ID = "ai"
API_KEY_SETTING = "streaming_api_key"


def settings_form() -> SettingsForm:
    """The admin form (declarative settings). Field ids are the app config keys ConfigStore reads."""
    d = Settings()  # the defaults shown in the form are the ones the app uses when a value is unset
    text, number = SettingsFieldType.TEXT, SettingsFieldType.NUMBER
    fields = [
        SettingsField(
            id="streaming_api_url", title="API base URL", type=text, default="",
            placeholder="https://api.openai.com/v1",
            description=(
                "Base URL of an OpenAI-compatible API (the app appends /chat/completions). "
                "OpenAI: https://api.openai.com/v1 · Ollama: http://<host>:11434/v1 · "
                "vLLM / llama.cpp server / LiteLLM: http://<host>:<port>/v1 · "
                "Azure OpenAI: https://<resource>.openai.azure.com/openai/deployments/<deployment>"
                "?api-version=<version>. Leave empty to use Nextcloud's own text processing (TaskProcessing)."
            ),
        ),
        SettingsField(
            id=API_KEY_SETTING, title="API key", type=SettingsFieldType.PASSWORD, default="",
            sensitive=True,
            description=("Sent as 'Authorization: Bearer <key>' (Azure: as 'api-key'). Stored encrypted. "
                         "Leave empty for servers without authentication (Ollama, a local llama.cpp)."),
        ),
        SettingsField(
            id="streaming_model", title="Model", type=text, default=d.streaming_model,
            description=("Model name as the API knows it, e.g. gpt-4o-mini, llama3.1:8b (Ollama) or the "
                         "served model name (vLLM)."),
        ),
        SettingsField(
            id="streaming_public_url", title="Public streaming URL (optional)", type=text, default="",
            placeholder="https://cloud.example.com/assistant-stream",
            description=("A browser-reachable URL that reverse-proxies to this app WITHOUT buffering. Only "
                         "needed when Nextcloud has no HaRP: the stock AppAPI proxy delivers an answer only "
                         "at its end."),
        ),
        # Nextcloud's declarative settings (and nc_py_api) have no multi-line type: a one-line TEXT field.
        SettingsField(
            id="system_prompt", title="System prompt", type=text, default=d.system_prompt,
            description="Sent as the first message of every conversation.",
        ),
        SettingsField(
            id="max_tokens", title="Maximum answer tokens", type=number, default=d.max_tokens,
            description="Upper limit for one answer; 0 lets the provider decide.",
        ),
        SettingsField(
            id="request_timeout", title="Request timeout (seconds)", type=number, default=d.request_timeout,
            description="How long to wait for the first token, and between two tokens, before giving up.",
        ),
        SettingsField(
            id="history_length", title="Context messages", type=number, default=d.history_length,
            description="How many earlier messages of the conversation are sent along with a question.",
        ),
        SettingsField(
            id="max_concurrent_per_user", title="Concurrent answers per user", type=number,
            default=d.max_concurrent_per_user,
            description="How many answers one user may have generating at the same time.",
        ),
    ]
    return SettingsForm(
        id=SETTINGS_FORM_ID, section_type="admin", section_id=SETTINGS_SECTION_ID, title="Assistant Stream",
        description="AI chat that streams answers token by token from any OpenAI-compatible API.",
        fields=fields,
    )
