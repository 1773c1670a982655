"""Provider URLs and authentication (providers/endpoint.py): base or full URL, Azure OpenAI, no key."""

from __future__ import annotations

import pytest

from assistant_stream.providers.endpoint import resolve_endpoint
from assistant_stream.providers.transport import ProviderClient
from tests.support.provider import collect, text
from tests.support.scripted_provider import (
    ScriptedProvider,
    openai_stream,
)

# --- 11: Azure and URL/auth handling -----------------------------------------------------------------


async def test_11_azure_api_key_header_and_api_version(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(openai_stream(["az"]))
    url = (
        f"http://127.0.0.1:{scripted_provider.port}/openai/deployments/gpt-4o/chat/completions"
        "?api-version=2024-10-21"
    )
    events = await collect(provider_client, scripted_provider.config(url=url, api_key="azkey123"))
    assert text(events) == "az"
    req = scripted_provider.requests[0]
    assert req.path == "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
    assert req.headers["api-key"] == "azkey123"
    assert "authorization" not in req.headers


def test_11_url_resolution() -> None:
    e = resolve_endpoint("https://res.openai.azure.com/openai/deployments/d1?api-version=2024-10-21", "k123")
    assert e.azure and e.headers == {"api-key": "k123"}
    assert (
        e.chat_url
        == "https://res.openai.azure.com/openai/deployments/d1/chat/completions?api-version=2024-10-21"
    )
    assert e.models_url is None
    e = resolve_endpoint("https://res.cognitiveservices.azure.com", "k123")
    assert e.azure and e.chat_url == "https://res.cognitiveservices.azure.com/openai/v1/chat/completions"
    e = resolve_endpoint("https://api.openai.com/v1", "sk-x")
    assert not e.azure and e.headers == {"Authorization": "Bearer sk-x"}
    assert e.chat_url == "https://api.openai.com/v1/chat/completions"
    assert e.models_url == "https://api.openai.com/v1/models"
    e = resolve_endpoint("http://localhost:11434", "")
    assert e.chat_url == "http://localhost:11434/v1/chat/completions" and e.headers == {}
    e = resolve_endpoint("http://localhost:8080/v1/chat/completions/", "NOT-NEEDED")
    assert e.chat_url == "http://localhost:8080/v1/chat/completions" and e.headers == {}
    assert e.models_url == "http://localhost:8080/v1/models"
    with pytest.raises(ValueError):
        resolve_endpoint("localhost:8080", "")


@pytest.mark.parametrize("key", ["", "not-needed", "Not-Needed"])
async def test_no_auth_header_without_real_key(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient, key: str
) -> None:
    scripted_provider.script(openai_stream(["k"]))
    await collect(provider_client, scripted_provider.config(api_key=key))
    headers = scripted_provider.requests[0].headers
    assert "authorization" not in headers and "api-key" not in headers
