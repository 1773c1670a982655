"""Admin routes (web/api_admin.py): status without the key, the delivery path, the connection test; 404 for users."""

from __future__ import annotations

from tests.support.appserver import API_KEY, AppFactory
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.scripted_provider import ScriptedProvider, error_response, openai_stream


async def test_admin_routes_refuse_users(app_factory) -> None:
    app = await app_factory()  # its Nextcloud is unreachable, so nobody can be shown to be an admin
    for verb, path in (("GET", "/admin/status"), ("POST", "/admin/test_connection")):
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
    assert report == {"ok": False, "summary": "streaming_api_url is not set.", "checks": {}}
    assert (await root.get("/admin/status")).json()["delivery"]["mode"] == "poll"
