"""Fetch models (providers/models.py): what a provider's /models lists, bounded, and every failure said clearly
without the key."""

from __future__ import annotations

import json

import pytest

from assistant_stream.core import errors
from assistant_stream.core.limits import MAX_MODELS_BODY
from assistant_stream.providers.models import list_models
from assistant_stream.providers.transport import ProviderClient
from tests.support.scripted_provider import HANG, ScriptedProvider, ScriptedResponse, error_response

KEY = "sk-fetch-models-secret-42"


async def test_openai_and_ollama_lists(scripted_provider: ScriptedProvider, provider_client: ProviderClient) -> None:
    data = {"object": "list", "data": [{"id": "gpt-4o"}, {"id": "gpt-4o-mini"}, {"id": "gpt-4o"}, {"x": 1}, "junk"]}
    scripted_provider.on("GET", "/v1/models", error_response(200, data))
    assert await list_models(provider_client, scripted_provider.base_url, KEY) == ["gpt-4o", "gpt-4o-mini"]
    assert scripted_provider.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    # A chat URL works as well as a base URL; Ollama's own shape is read too.
    scripted_provider.on("GET", "/v1/models", error_response(200, {"models": [{"name": "llama3.1:8b"}]}))
    assert await list_models(provider_client, scripted_provider.chat_url, "") == ["llama3.1:8b"]
    assert "authorization" not in scripted_provider.requests[-1].headers


@pytest.mark.parametrize(("response", "error", "words"), [
    (error_response(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}}), errors.ProviderAuthError,
     "rejected the API key"),
    (error_response(404, "no such route"), errors.ProviderNotFound, "has no model list"),
    (error_response(503, "down"), errors.ProviderUnavailable, "unavailable"),
    (error_response(200, "<html>not json</html>", content_type="text/html"), errors.ProviderProtocolError,
     "did not answer with a model list"),
    (error_response(200, {"data": "nope"}), errors.ProviderProtocolError, "model list"),
])
async def test_failures_are_clear_and_never_show_the_key(scripted_provider: ScriptedProvider,
                                                         provider_client: ProviderClient, response: ScriptedResponse,
                                                         error: type[errors.ProviderError], words: str) -> None:
    scripted_provider.on("GET", "/v1/models", response)
    with pytest.raises(error) as info:
        await list_models(provider_client, scripted_provider.base_url, KEY)
    assert words in info.value.message and KEY not in info.value.message


async def test_a_flood_and_a_silence_are_bounded(scripted_provider: ScriptedProvider,
                                                 provider_client: ProviderClient) -> None:
    big = json.dumps({"data": [{"id": "m" * 200} for _ in range(MAX_MODELS_BODY // 200)]})
    scripted_provider.on("GET", "/v1/models",
                         ScriptedResponse(body=[big], headers={"Content-Type": "application/json"}))
    with pytest.raises(errors.ProviderLimitExceeded):
        await list_models(provider_client, scripted_provider.base_url, KEY)
    scripted_provider.on("GET", "/v1/models", ScriptedResponse(before=HANG))
    with pytest.raises(errors.ProviderTimeout, match=r"within 0\.3 s"):
        await list_models(provider_client, scripted_provider.base_url, KEY, timeout=0.3)


async def test_bad_urls(provider_client: ProviderClient) -> None:
    with pytest.raises(errors.InvalidParameter):
        await list_models(provider_client, "ftp://example.com", KEY)
    with pytest.raises(errors.ProviderNotFound, match="deployment"):
        await list_models(provider_client, "https://x.openai.azure.com/openai/deployments/gpt?api-version=1", KEY)
    with pytest.raises(errors.ProviderConnectError):
        await list_models(provider_client, "http://127.0.0.1:9/v1", KEY, timeout=5)
