"""create_app (web/app.py): every error is JSON with a code, an unexpected one shows no internals."""

from __future__ import annotations

import pytest

from tests.support.appserver import AppFactory


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
