"""The admin's connections (chat/connections.py): saved to the app config with each key sensitive, never read back;
the seed's settings as "default"; fetch models with the stored key; shared presets checked."""

from __future__ import annotations

import json

import pytest

from assistant_stream.chat.connections import AdminConnections
from assistant_stream.core.config_store import ConfigStore
from assistant_stream.core.errors import InvalidParameter, ModelNotAllowed
from assistant_stream.nextcloud.server import NextcloudServer
from assistant_stream.providers.transport import ProviderClient
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.scripted_provider import ScriptedProvider, error_response

SEED = {"id": "default", "url": "http://seed/v1", "models": ["gpt-4o", "gpt-4o-mini"], "apiKey": "sk-seed-111"}
LAB = {"id": "lab", "name": "Lab", "url": "http://lab/v1", "models": ["llama"], "apiKey": "sk-lab-222"}


@pytest.fixture
async def admin(nc: NextcloudServer, provider_client: ProviderClient) -> AdminConnections:
    return AdminConnections(ConfigStore(nc.appconfig, ttl=0, environ={}), provider_client)


async def test_connections_are_saved_with_their_keys_sensitive_and_never_read_back(
        admin: AdminConnections, nextcloud: NextcloudDouble) -> None:
    shown = await admin.save([SEED, LAB])
    assert shown == {"fixed": [], "connections": [
        {"id": "default", "name": "Default", "url": "http://seed/v1", "models": ["gpt-4o", "gpt-4o-mini"],
         "keySet": True, "seed": True},
        {"id": "lab", "name": "Lab", "url": "http://lab/v1", "models": ["llama"], "keySet": True, "seed": False}]}
    config = nextcloud.appconfig
    assert (config["streaming_model"], config["streaming_models"]) == ("gpt-4o", "gpt-4o-mini")
    for key, value in (("streaming_api_key", "sk-seed-111"), ("connection_lab_api_key", "sk-lab-222")):
        assert nextcloud.appconfig_sensitive(key) and nextcloud.appconfig[key] == value
    assert "sk-" not in json.dumps(shown) and "sk-" not in nextcloud.appconfig["connections"]

    # Without apiKey a key stays; "" removes it; a connection removed takes its key with it.
    kept = await admin.save([{**SEED, "apiKey": None}, {**LAB, "apiKey": ""}])
    assert [c["keySet"] for c in kept["connections"]] == [True, False]
    await admin.save([{k: v for k, v in LAB.items() if k != "apiKey"}])
    assert nextcloud.appconfig["streaming_api_url"] == ""
    await admin.save([])
    assert (await admin.connections())["connections"] == []


@pytest.mark.parametrize(("entries", "words"), [
    ([{**LAB, "id": "Not valid"}], "id must be"),
    ([LAB, LAB], "same id"),
    ([{**SEED, "url": "nope"}], "Connection default: the url"),
    ([{**SEED, "models": []}], "at least one model"),
    ("not a list", "must be a list"),
])
async def test_bad_connections_are_refused_whole(admin: AdminConnections, nextcloud: NextcloudDouble,
                                                 entries: object, words: str) -> None:
    with pytest.raises(InvalidParameter, match=words):
        await admin.save(entries)
    assert "connections" not in nextcloud.appconfig


async def test_seed_settings_fixed_by_the_environment_cannot_be_changed_here(
        nc: NextcloudServer, provider_client: ProviderClient) -> None:
    admin = AdminConnections(ConfigStore(nc.appconfig, ttl=0, environ={"STREAMING_API_URL": "http://env/v1"}),
                             provider_client)
    assert (await admin.connections())["fixed"] == ["streaming_api_url"]
    with pytest.raises(InvalidParameter, match="environment variable"):
        await admin.save([{**SEED, "url": "http://other/v1"}])
    saved = await admin.save([{**SEED, "url": "http://env/v1"}])
    assert saved["connections"][0]["models"] == ["gpt-4o", "gpt-4o-mini"]


async def test_fetch_models_uses_the_stored_key_or_the_one_typed(admin: AdminConnections,
                                                                 scripted_provider: ScriptedProvider) -> None:
    scripted_provider.on("GET", "/v1/models", error_response(200, {"data": [{"id": "b"}, {"id": "a"}]}))
    await admin.save([{**LAB, "url": scripted_provider.base_url}])
    assert await admin.fetch_models("lab", None, None) == ["a", "b"]
    assert scripted_provider.requests[-1].headers["authorization"] == "Bearer sk-lab-222"
    assert await admin.fetch_models(None, scripted_provider.base_url, "sk-typed") == ["a", "b"]
    assert scripted_provider.requests[-1].headers["authorization"] == "Bearer sk-typed"
    with pytest.raises(InvalidParameter, match="url"):
        await admin.fetch_models("unknown", None, None)


async def test_shared_presets_name_only_models_on_offer(admin: AdminConnections) -> None:
    await admin.save([LAB])
    preset = {"id": "local", "name": "Local", "system_prompt": None, "temperature": 0.2, "max_tokens": None,
              "connection": "lab", "model": "llama"}
    assert await admin.save_presets([preset]) == [preset] and await admin.presets() == [preset]
    with pytest.raises(ModelNotAllowed):
        await admin.save_presets([{**preset, "model": "gpt-4o"}])
    with pytest.raises(InvalidParameter, match="same id"):
        await admin.save_presets([preset, preset])
