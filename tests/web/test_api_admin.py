"""Admin routes (web/api_admin.py): status without the key, the delivery path, the connection test; 404 for users."""

from __future__ import annotations

from tests.support.appserver import API_KEY, AppFactory
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.scripted_provider import ScriptedProvider, error_response, openai_stream


async def test_admin_routes_refuse_users(app_factory) -> None:
    app = await app_factory()  # its Nextcloud is unreachable, so nobody can be shown to be an admin
    for verb, path in (("GET", "/admin/status"), ("POST", "/admin/test_connection"), ("GET", "/admin/connections"),
                       ("PUT", "/admin/connections"), ("POST", "/admin/fetch_models"), ("GET", "/admin/presets"),
                       ("PUT", "/admin/presets")):
        r = await app.client("alice").request(verb, path)
        assert r.status_code == 404


async def test_a_nextcloud_admin_sees_the_status_and_tests_the_connection(
        app_factory: AppFactory, nextcloud: NextcloudDouble, scripted_provider: ScriptedProvider) -> None:
    nextcloud.add_user("root", ["admin"])
    nextcloud.add_user("alice")
    nextcloud.set_appconfig("streaming_api_url", scripted_provider.base_url)
    nextcloud.set_appconfig("streaming_api_key", API_KEY, sensitive=True)
    scripted_provider.on("GET", "/v1/models", error_response(200, {"data": [{"id": "test-model"}]}))
    scripted_provider.always(openai_stream(["OK"]))
    app = await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret,
                            STREAMING_MODEL="test-model")
    root = app.client("root")
    status = await root.get("/admin/status")
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["settings"]["streaming_api_key"] == {"value": "set", "source": "appconfig"}
    assert body["settings"]["streaming_model"] == {"value": "test-model", "source": "env"}
    assert body["delivery"]["mode"] == "poll" and body["engine"] == "stream"
    assert body["nextcloud"] == {"reachable": True} and body["activeGenerations"] == 0
    assert API_KEY not in status.text
    report = (await root.post("/admin/test_connection")).json()
    assert report["ok"] is True and report["checks"]["streams"] is True and API_KEY not in report["summary"]
    assert (await app.client("alice").get("/admin/status")).status_code == 404


async def test_without_a_provider_the_test_says_what_to_set(app_factory: AppFactory,
                                                            nextcloud: NextcloudDouble) -> None:
    nextcloud.add_user("root", ["admin"])
    app = await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret,
                            TASKPROCESSING_FALLBACK="0")
    root = app.client("root")
    report = (await root.post("/admin/test_connection")).json()
    assert report == {"ok": False, "checks": {},
                      "summary": "streaming_api_url is not set and no connection is configured."}
    assert (await root.get("/admin/status")).json()["delivery"]["mode"] == "poll"


async def test_an_admin_configures_connections_and_presets_and_users_choose_from_them(
        app_factory: AppFactory, nextcloud: NextcloudDouble, scripted_provider: ScriptedProvider) -> None:
    nextcloud.add_user("root", ["admin"])
    nextcloud.add_user("alice")
    scripted_provider.on("GET", "/v1/models", error_response(200, {"data": [{"id": "qwen"}, {"id": "llama"}]}))
    app = await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret, config_ttl=0)
    root, alice = app.client("root"), app.client("alice")
    key = "sk-lab-admin-route-999"
    fetched = await root.post("/admin/fetch_models", json={"url": scripted_provider.base_url, "apiKey": key})
    assert fetched.json() == {"models": ["llama", "qwen"]}
    r = await root.put("/admin/connections", json={"connections": [
        {"id": "lab", "name": "Lab", "url": scripted_provider.base_url, "models": ["llama"], "apiKey": key}]})
    assert r.status_code == 200, r.text
    assert r.json()["connections"] == [{"id": "lab", "name": "Lab", "url": scripted_provider.base_url,
                                        "models": ["llama"], "keySet": True, "seed": False}]
    assert nextcloud.appconfig_sensitive("connection_lab_api_key")
    again = await root.post("/admin/fetch_models", json={"connectionId": "lab"})  # the stored key is used
    assert again.json()["models"] == ["llama", "qwen"]
    assert scripted_provider.requests[-1].headers["authorization"] == f"Bearer {key}"
    presets = await root.put("/admin/presets", json={"presets": [
        {"id": "local", "name": "Local", "connection": "lab", "model": "llama"}]})
    assert presets.status_code == 200 and (await root.get("/admin/presets")).json()["presets"][0]["id"] == "local"

    assert (await alice.get("/chat/models")).json()["connections"] == [{"id": "lab", "name": "Lab",
                                                                         "models": ["llama"]}]
    assert (await alice.get("/chat/presets")).json()["shared"][0]["model"] == "llama"
    everything = "".join([(await root.get(p)).text for p in ("/admin/connections", "/admin/status",
                                                              "/admin/presets")])
    assert key not in everything and key not in (await alice.get("/chat/models")).text
    bad = await root.put("/admin/connections", json={"connections": [{"id": "x", "url": "nope"}]})
    assert bad.status_code == 400 and "url" in bad.json()["error"]
    assert (await root.put("/admin/connections", json={"connections": "[]"})).status_code == 400
    # Every change is in the audit log under the admin's name; the key only as set.
    entries = {(e["key"], e["actor"]): e for e in (await root.get("/admin/audit")).json()["entries"]}
    assert entries[("connection_lab_api_key", "root")]["new_value"] == "(set)"
    assert entries[("connections", "root")]["action"] == "connections changed"
    assert entries[("presets", "root")]["action"] == "presets changed"
    assert key not in (await root.get("/admin/audit")).text
