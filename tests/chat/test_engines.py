"""Engine selection (chat/engines.py): the configured provider, else TaskProcessing, else a clear NotConfigured."""

from __future__ import annotations

import pytest

from assistant_stream.chat.engines import EngineSelector, engine_name
from assistant_stream.chat.models import plan
from assistant_stream.core.env import AppEnv
from assistant_stream.core.errors import NotConfigured
from assistant_stream.core.settings import build_settings
from assistant_stream.nextcloud.server import NextcloudServer
from assistant_stream.providers.engine import ProviderEngine
from assistant_stream.providers.taskprocessing import TaskProcessingEngine
from assistant_stream.providers.transport import ProviderClient
from tests.support.nextcloud_double import NextcloudDouble


async def test_the_provider_wins_then_taskprocessing_then_a_clear_refusal(nextcloud: NextcloudDouble,
                                                                          nc: NextcloudServer) -> None:
    client = ProviderClient()
    try:
        selector = EngineSelector(client, TaskProcessingEngine(nc.taskprocessing))
        configured = build_settings({"STREAMING_API_URL": "http://127.0.0.1:9/v1"}, {})
        assert isinstance(await selector(configured, "alice", plan(configured, {})), ProviderEngine)
        fallback = build_settings({}, {})
        nothing = plan(fallback, {})
        assert (await selector(fallback, "alice", nothing)).name == "taskprocessing"
        nextcloud.taskprocessing.available = False
        with pytest.raises(NotConfigured) as info:
            await selector(fallback, "bob", nothing)
        assert "no text processing provider" in info.value.message
        with pytest.raises(NotConfigured) as info:
            await EngineSelector(client, None)(fallback, "alice", nothing)
        assert "streaming_api_url" in info.value.message
    finally:
        await client.aclose()


def test_engine_name_for_display() -> None:
    with_nc = AppEnv.from_environ({"NEXTCLOUD_URL": "http://nc"})
    without = AppEnv.from_environ({})
    assert engine_name(build_settings({"STREAMING_API_URL": "http://x/v1"}, {}), without) == "stream"
    assert engine_name(build_settings({}, {}), with_nc) == "taskprocessing"
    assert engine_name(build_settings({"TASKPROCESSING_FALLBACK": "0"}, {}), with_nc) is None
    assert engine_name(build_settings({}, {}), without) is None
