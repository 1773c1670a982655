"""Shared fixtures: real loopback servers for the provider, PostgreSQL, Nextcloud, and the app itself."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.appserver import RunningApp, base_environ, start_app

if TYPE_CHECKING:
    from tests.scripted_provider import ScriptedProvider

pytest_plugins = ["tests.pg", "tests.scripted_provider", "tests.nextcloud_double", "tests.proxy_doubles"]

API_KEY = "sk-test-9f8e7d6c5b4a-distinctive-key"

AppFactory = Callable[..., Awaitable[RunningApp]]


@pytest.fixture
async def app_factory(tmp_path: Path) -> AsyncIterator[AppFactory]:
    """Start apps with given env vars (on SQLite in tmp_path unless DATABASE_URL is given); stops them."""
    running: list[RunningApp] = []

    async def factory(nextcloud_url: str | None = None, **env: str) -> RunningApp:
        extra = dict(env)
        extra.setdefault("NEXTCLOUD_URL", nextcloud_url or "http://127.0.0.1:9")  # port 9: nothing answers
        kwargs: dict[str, Any] = {k: extra.pop(k) for k in ("save_interval", "shutdown_grace", "config_ttl")
                                  if k in extra}
        app = await start_app(base_environ(tmp_path, **extra), **kwargs)
        running.append(app)
        return app

    yield factory
    for app in running:
        await app.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
async def chat_app(request: pytest.FixtureRequest, app_factory: AppFactory,
                   scripted_provider: ScriptedProvider) -> RunningApp:
    """The app on each database, streaming from the scripted provider."""
    env = {"STREAMING_API_URL": scripted_provider.chat_url, "STREAMING_API_KEY": API_KEY,
           "STREAMING_MODEL": "test-model"}
    if request.param == "postgresql":
        env["DATABASE_URL"] = request.getfixturevalue("storage_url_pg")
    return await app_factory(**env)


@pytest.fixture
def storage_url_pg(request: pytest.FixtureRequest) -> Any:
    """A fresh PostgreSQL database for one test."""
    import uuid

    server = request.getfixturevalue("pg_server")
    name = f"a_{uuid.uuid4().hex[:16]}"
    url = server.create_db(name)
    yield url
    server.drop_db(name)
