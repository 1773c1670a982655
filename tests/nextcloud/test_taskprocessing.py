"""TaskProcessing OCS calls (nextcloud/taskprocessing.py): statuses, availability, scheduling refused, per user."""

from __future__ import annotations

import json

import pytest

from assistant_stream.core import errors
from assistant_stream.core.error_render import render_http
from assistant_stream.core.events import Source
from assistant_stream.nextcloud.server import NextcloudServer
from assistant_stream.nextcloud.taskprocessing import task_sources, task_status
from tests.support.events import drain
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.taskprocessing import CHAT, engine


@pytest.mark.parametrize(("value", "expected"), [("STATUS_SUCCESSFUL", 3), (2, 2), ("4", 4), ("nonsense", 0),
                                                 (None, 0), (True, 0)])
def test_task_status_normalises(value: object, expected: int) -> None:
    assert task_status(value) == expected


async def test_taskprocessing_available(nextcloud: NextcloudDouble) -> None:
    nc = NextcloudServer(nextcloud.env(), timeout=3, tasktypes_cache_ttl=0.0)
    try:
        assert await engine(nc).available("alice") is True
        nextcloud.taskprocessing.available = False
        assert await nc.taskprocessing.available("alice") is False
    finally:
        await nc.aclose()


async def test_rate_limit_becomes_rate_limited(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.taskprocessing.rate_limit = 2
    nextcloud.taskprocessing.script(output="x", delay=0.0, start_after=0.0)
    for _ in range(2):
        await drain(engine(nc).stream("alice", CHAT))
    with pytest.raises(errors.RateLimited) as info:
        await drain(engine(nc).stream("alice", CHAT))
    assert info.value.status == 429 and "Retry-After" in render_http(info.value).headers
    assert nextcloud.calls_to("/taskprocessing/schedule")[-1].status == 429
    await drain(engine(nc).stream("bob", CHAT))  # the limit is per user


async def test_default_rate_limit_is_twenty_per_user(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    for i in range(20):
        await nc.taskprocessing.schedule_chat("alice", system_prompt="", input=str(i), history=[], custom_id="")
    with pytest.raises(errors.RateLimited):
        await nc.taskprocessing.schedule_chat("alice", system_prompt="", input="21", history=[], custom_id="")


async def test_no_chat_provider_is_not_configured(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.taskprocessing.available = False
    with pytest.raises(errors.NotConfigured):
        await drain(engine(nc).stream("alice", CHAT))


async def test_a_task_of_another_user_is_not_found(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    task_id = await nc.taskprocessing.schedule_chat("alice", system_prompt="", input="q", history=[], custom_id="")
    with pytest.raises(errors.NotFound):
        await nc.taskprocessing.get_task("bob", task_id)
    await nc.taskprocessing.cancel_task("bob", task_id)  # not found is not an error, and does not touch alice's task
    assert nextcloud.taskprocessing.status(task_id) != "STATUS_CANCELLED"


def test_sources_from_the_task_output_are_checked() -> None:
    task = {"output": {"output": "x", "sources": [
        json.dumps({"id": "files__default: 12", "label": "<b>a.pdf</b>", "icon": "", "url": "https://evil/"}),
        json.dumps({"id": "deck__cards: 3", "label": "Deck - Card #3", "icon": "", "url": "https://cloud/deck/3"}),
        json.dumps({"id": "other__x: 1", "label": "bad", "icon": "", "url": "javascript:alert(1)"}),
        "not json", 42]}}
    assert task_sources(task) == (
        # A file's link is rebuilt from its id, whatever URL came with it.
        Source("<b>a.pdf</b>", "/f/12", 12),
        Source("Deck - Card #3", "https://cloud/deck/3"),
        Source("bad", ""),
    )
