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
