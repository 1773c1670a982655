"""Shared fixtures: real loopback servers for the provider, PostgreSQL, Nextcloud, and the app itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# The helpers assert too (a stream's headers, a request's status): let pytest explain their failures.
pytest.register_assert_rewrite("tests.support")

from tests.support.appserver import API_KEY, AppFactory, RunningApp, base_environ, start_app  # noqa: E402

if TYPE_CHECKING:  # imported as a plugin below; importing it here first would stop pytest rewriting its asserts
    from tests.support.scripted_provider import ScriptedProvider

pytest_plugins = ["tests.support.pg", "tests.support.redis_server", "tests.support.scripted_provider",
                  "tests.support.nextcloud_double", "tests.support.proxy_doubles", "tests.support.storage",
                  "tests.support.nextcloud_real.plugin"]

# Keyword arguments of the factory that go to create_app() rather than into the environment.
CREATE_APP_KWARGS = ("save_interval", "shutdown_grace", "config_ttl", "eventlog_retention")


@pytest.fixture
async def app_factory(tmp_path: Path) -> AsyncIterator[AppFactory]:
    """Start apps with given env vars (on SQLite in tmp_path unless DATABASE_URL is given); stops them."""
    running: list[RunningApp] = []

    async def factory(nextcloud_url: str | None = None, **env: str) -> RunningApp:
        extra = dict(env)
        extra.setdefault("NEXTCLOUD_URL", nextcloud_url or "http://127.0.0.1:9")  # port 9: nothing answers
        kwargs: dict[str, Any] = {k: extra.pop(k) for k in CREATE_APP_KWARGS if k in extra}
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
