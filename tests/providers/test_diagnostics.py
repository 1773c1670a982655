"""The admins' connection test (providers/diagnostics.py): reachable, key, model, streaming, in one sentence."""

from __future__ import annotations

import json
import socket

from assistant_stream.core.settings import build_settings
from assistant_stream.providers.config import ProviderConfig
from assistant_stream.providers.diagnostics import diagnose, diagnose_settings
from assistant_stream.providers.transport import ProviderClient
from tests.support.scripted_provider import (
    ScriptedProvider,
    error_response,
    openai_stream,
)

# --- test_connection --------------------------------------------------------------------------------

MODELS = {
    "object": "list",
    "data": [{"id": "test-model", "object": "model"}, {"id": "other", "object": "model"}],
}


async def test_connection_all_good(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.on("GET", "/v1/models", error_response(200, MODELS))
    scripted_provider.script(openai_stream(["OK"]))
    report = await diagnose(provider_client, scripted_provider.config())
    assert report.ok is True
    assert report.checks == {"reachable": True, "key_accepted": True, "model_exists": True, "streams": True}
    assert "reachable" in report.summary and "'test-model' exists" in report.summary
    assert report.summary.endswith(".") and "but" not in report.summary
    probe = next(r for r in scripted_provider.requests if r.method == "POST").json
    assert 1 <= probe["max_tokens"] <= 5 and probe["stream"] is True


async def test_connection_key_rejected(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    denied = error_response(401, {"error": {"message": "Invalid key"}})
    scripted_provider.on("GET", "/v1/models", denied).always(denied)
    report = await diagnose(provider_client, scripted_provider.config())
    assert report.ok is False
    assert report.checks["reachable"] is True and report.checks["key_accepted"] is False
    assert report.checks["streams"] is False
    assert "rejected the API key" in report.summary and "reachable" in report.summary


async def test_connection_model_missing(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.on("GET", "/v1/models", error_response(200, MODELS))
    scripted_provider.always(error_response(404, {"error": {"message": "model 'ghost' not found"}}))
    report = await diagnose(provider_client, scripted_provider.config(model="ghost"))
    assert report.ok is False
    assert report.checks == {"reachable": True, "key_accepted": True, "model_exists": False, "streams": False}
    assert "'ghost'" in report.summary and "not found" in report.summary


async def test_connection_no_models_endpoint(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.on("GET", "/v1/models", error_response(404, "Not Found"))
    scripted_provider.script(openai_stream(["OK"]))
    report = await diagnose(provider_client, scripted_provider.config())
    assert report.ok is True
    assert report.checks["model_exists"] is None and report.checks["streams"] is True


async def test_connection_unreachable(provider_client: ProviderClient) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    report = await diagnose(provider_client,
        ProviderConfig(url=f"http://127.0.0.1:{port}/v1", api_key="k", model="m")
    )
    assert report.ok is False and report.checks["reachable"] is False
    assert "refused" in report.summary


async def test_connection_stream_broken(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.on("GET", "/v1/models", error_response(200, MODELS))
    scripted_provider.always(error_response(200, "<html>login</html>", content_type="text/html"))
    report = await diagnose(provider_client, scripted_provider.config())
    assert report.ok is False and report.checks["streams"] is False and report.checks["model_exists"] is True
    assert "text/html" in report.summary


async def test_each_connection_can_be_tested_with_its_first_model(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.on("GET", "/v1/models", error_response(200, MODELS))
    scripted_provider.always(openai_stream(["OK"]))
    lab = {"id": "lab", "name": "Lab", "url": scripted_provider.base_url, "models": ["other", "test-model"]}
    settings = build_settings({"CONNECTIONS": json.dumps([lab]), "CONNECTION_LAB_API_KEY": "sk-lab"}, {})
    report = await diagnose_settings(provider_client, settings)  # no seed: the first connection is tested
    assert report.ok and "'other' exists" in report.summary
    assert scripted_provider.requests[-1].headers["authorization"] == "Bearer sk-lab"
    assert (await diagnose_settings(provider_client, settings, "lab")).ok
    missing = await diagnose_settings(provider_client, settings, "gone")
    assert (missing.ok, missing.summary) == (False, "There is no connection 'gone' with a model to test.")
