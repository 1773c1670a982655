"""The TaskProcessing engine (providers/taskprocessing.py): schedules a chat task, polls it, cancels it."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from assistant_stream.core import errors
from assistant_stream.core.events import ChatMessage, Finish, TextDelta
from assistant_stream.nextcloud.server import NextcloudServer
from assistant_stream.providers.taskprocessing import task_input
from tests.support.events import drain, wait_for
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.taskprocessing import CHAT, engine

# --- TaskProcessing ------------------------------------------------------------------------------


def test_task_input_maps_roles_and_history() -> None:
    system, text, history = task_input(CHAT)
    assert system == "You are terse." and text == "What is 2+2?"
    assert [json.loads(h) for h in history] == [{"role": "human", "content": "Hi"},
                                                {"role": "assistant", "content": "Hello!"}]
    with pytest.raises(errors.InvalidInput):
        task_input([ChatMessage("system", "x")])


async def test_engine_schedules_polls_and_answers(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.taskprocessing.script(output="Four.", delay=0.1)
    events = await drain(engine(nc).stream("alice", CHAT, custom_id="assistant_stream:m42"))
    assert events == [TextDelta("Four."), Finish("stop")]

    task = nextcloud.taskprocessing.last()
    assert (task.user, task.type, task.app_id, task.custom_id) == (
        "alice", "core:text2text:chat", "assistant_stream", "assistant_stream:m42")
    assert task.input["system_prompt"] == "You are terse." and task.input["input"] == "What is 2+2?"
    assert [json.loads(h)["role"] for h in task.input["history"]] == ["human", "assistant"]
    polls = nextcloud.calls_to(f"/taskprocessing/task/{task.id}", "GET")
    assert len(polls) >= 2 and {c.user for c in polls} == {"alice"}  # it polled until the end, as the user
    assert not nextcloud.calls_to("/cancel")  # a finished task is not cancelled


async def test_engine_accepts_integer_statuses(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.taskprocessing.status_as_int = True
    nextcloud.taskprocessing.script(output="ok", delay=0.05)
    assert await drain(engine(nc).stream("alice", CHAT)) == [TextDelta("ok"), Finish("stop")]


async def test_engine_yields_partial_output_as_it_grows(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.taskprocessing.script(partial=["The ", "answer ", "is ", "four"], output="The answer is four.",
                                    start_after=0.0, partial_interval=0.08, delay=0.5)
    events = await drain(engine(nc, poll_interval=0.02).stream("alice", CHAT))
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert "".join(deltas) == "The answer is four."
    assert len(deltas) >= 3  # streamed in parts, each only the new suffix
    assert deltas[-1] == "." and events[-1] == Finish("stop")


async def test_engine_failure_is_a_provider_error(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.taskprocessing.script(error="llm2: model file missing", delay=0.05)
    with pytest.raises(errors.ProviderError) as info:
        await drain(engine(nc).stream("alice", CHAT))
    assert "failed" in info.value.message and info.value.partial is False

    # Where Nextcloud exposes the provider's message, it is passed on.
    nextcloud.taskprocessing.expose_error_message = True
    with pytest.raises(errors.ProviderError) as info:
        await drain(engine(nc).stream("alice", CHAT))
    assert "llm2: model file missing" in info.value.message


async def test_closing_the_stream_cancels_the_task(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.taskprocessing.script(never_finish=True, partial=["thinking"], start_after=0.0)
    agen = engine(nc).stream("alice", CHAT)
    assert await agen.__anext__() == TextDelta("thinking")
    await agen.aclose()
    task = nextcloud.taskprocessing.last()
    await wait_for(lambda: nextcloud.taskprocessing.status(task.id) == "STATUS_CANCELLED")
    assert nextcloud.calls_to(f"/tasks/{task.id}/cancel")[0].user == "alice"


async def test_cancelling_the_consumer_cancels_the_task(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.taskprocessing.script(never_finish=True)
    consumer = asyncio.create_task(drain(engine(nc).stream("alice", CHAT)))
    await wait_for(lambda: bool(nextcloud.taskprocessing.tasks)
                   and nextcloud.taskprocessing.status(nextcloud.taskprocessing.last().id) == "STATUS_RUNNING")
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    task_id = nextcloud.taskprocessing.last().id
    await wait_for(lambda: nextcloud.taskprocessing.status(task_id) == "STATUS_CANCELLED")


async def test_max_wait_gives_up_and_cancels(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.taskprocessing.script(never_finish=True)
    with pytest.raises(errors.ProviderTimeout):
        await drain(engine(nc, max_wait=0.2).stream("alice", CHAT))
    task_id = nextcloud.taskprocessing.last().id
    await wait_for(lambda: nextcloud.taskprocessing.status(task_id) == "STATUS_CANCELLED")


async def test_schedule_when_nextcloud_is_unreachable(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.down()
    with pytest.raises(errors.NextcloudError):
        await drain(engine(nc).stream("alice", CHAT))


async def test_nextcloud_vanishing_while_polling(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.taskprocessing.script(never_finish=True)
    agen = engine(nc).stream("alice", CHAT)
    first = asyncio.create_task(agen.__anext__())
    await wait_for(lambda: len(nextcloud.calls_to("/taskprocessing/task/", "GET")) >= 1)
    nextcloud.down()
    started = time.monotonic()
    with pytest.raises(errors.NextcloudError):
        await first
    assert time.monotonic() - started < 5


async def test_a_single_failed_poll_is_tolerated(nextcloud: NextcloudDouble, nc: NextcloudServer,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    nextcloud.taskprocessing.script(output="fine", delay=0.15)
    real_get = nc.taskprocessing.get_task
    failed = []

    async def flaky(user: str, task_id: int) -> dict:
        if not failed:
            failed.append(1)
            raise errors.NextcloudError("Nextcloud could not be reached (read task: ConnectionError)")
        return await real_get(user, task_id)

    monkeypatch.setattr(nc.taskprocessing, "get_task", flaky)
    assert await drain(engine(nc).stream("alice", CHAT)) == [TextDelta("fine"), Finish("stop")]
