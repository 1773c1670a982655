"""create_app (web/app.py): every error is JSON with a code, an unexpected one shows no internals."""

from __future__ import annotations

import pytest

from assistant_stream.core.errors import StorageUnavailable
from tests.support.appserver import AppFactory
from tests.support.nextcloud_double import NextcloudDouble


async def test_an_unexpected_error_is_a_plain_500_logged_with_its_trace(
        app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    app = await app_factory()

    async def broken(self: object, user: str, query: str | None = None) -> list[object]:
        raise RuntimeError("internal detail /secret/path")

    monkeypatch.setattr(type(app.services.chat), "sessions", broken)
    r = await app.client("alice").get("/chat/sessions")
    assert r.status_code == 500 and r.json() == {"error": "Internal error", "code": "internal_error"}
    assert r.headers["cache-control"] == "no-cache" and "secret" not in r.text
    assert "internal detail /secret/path" in caplog.text  # for the admin, in the log only


async def test_the_openapi_schema_documents_the_api_routes(app_factory: AppFactory) -> None:
    app = await app_factory()
    paths = (await app.client("alice").get("/openapi.json")).json()["paths"]
    assert "/chat/stream" in paths and "/admin/status" in paths and "/heartbeat" not in paths
    assert set(paths["/chat/generate"]) == {"get", "post"}


async def test_a_failure_s_detail_is_told_to_a_nextcloud_admin_only(
        app_factory: AppFactory, nextcloud: NextcloudDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    nextcloud.add_user("root", ["admin"])
    nextcloud.add_user("alice")
    app = await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret)
    detail = "Cannot reach Redis at redis.internal:6379 (REDIS_URL): ConnectionError"

    async def unavailable(self: object, user: str, query: str | None = None) -> list[object]:
        raise StorageUnavailable(detail)

    monkeypatch.setattr(type(app.services.chat), "sessions", unavailable)
    told = {"error": StorageUnavailable.default_message, "code": "storage_unavailable"}
    alice = await app.client("alice").get("/chat/sessions")
    assert (alice.status_code, alice.json()) == (503, told) and "redis.internal" not in alice.text
    assert alice.headers["retry-after"] == "2"
    root = await app.client("root").get("/chat/sessions")
    assert (root.status_code, root.json()) == (503, {**told, "detail": detail})
