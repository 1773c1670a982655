"""ProviderConfig (providers/config.py): the admin's settings as one request to the provider needs them."""

from __future__ import annotations

from assistant_stream.core.settings import build_settings
from assistant_stream.providers.config import provider_config


def test_settings_become_a_request_config() -> None:
    settings = build_settings({"STREAMING_API_URL": "http://llm:8000/v1", "STREAMING_API_KEY": "k",
                               "REQUEST_TIMEOUT": "30", "MAX_TOKENS": "0", "TEMPERATURE": "0.3"}, {})
    config = provider_config(settings)
    assert (config.url, config.api_key, config.model) == ("http://llm:8000/v1", "k", "gpt-3.5-turbo")
    assert config.first_byte_timeout == config.idle_timeout == 30.0 and config.connect_timeout == 10.0
    assert config.max_tokens is None and config.temperature == 0.3  # 0 and < 0 mean: let the provider decide
    assert provider_config(build_settings({"TEMPERATURE": "-1"}, {})).temperature is None


def test_a_connection_and_a_conversations_options_win_over_the_seed() -> None:
    settings = build_settings({"STREAMING_API_URL": "http://seed/v1", "STREAMING_API_KEY": "seed-key",
                               "MAX_TOKENS": "500", "TEMPERATURE": "0.3",
                               "CONNECTIONS": '[{"id": "lab", "url": "http://lab/v1", "models": ["llama"]}]',
                               "CONNECTION_LAB_API_KEY": "lab-key"}, {})
    lab = settings.connection_list[1]
    config = provider_config(settings, lab, "llama", temperature=0.0, max_tokens=64)
    assert (config.url, config.api_key, config.model) == ("http://lab/v1", "lab-key", "llama")
    assert (config.temperature, config.max_tokens) == (0.0, 64)  # 0.0 is a choice, not "unset"
    defaults = provider_config(settings, lab, "llama")
    assert (defaults.temperature, defaults.max_tokens) == (0.3, 500)
