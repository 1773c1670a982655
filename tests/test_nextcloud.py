"""NextcloudClient, TaskProcessingEngine and ConfigStore against the real-HTTP Nextcloud double."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from assistant_stream.core import errors
from assistant_stream.core.events import ChatMessage, Finish, ProviderEvent, TextDelta
from assistant_stream.core.secrets import Secret
from assistant_stream.core.settings import ConfigStore
from assistant_stream.nextcloud.server import NextcloudServer
from assistant_stream.nextcloud.settings_form import SETTINGS_FORM_ID, settings_form
from assistant_stream.nextcloud.taskprocessing import task_status
from assistant_stream.nextcloud.ui import INITIAL_STATE_KEY, MENU_NAME, SCRIPT_PATH, STYLE_PATH, UI_TYPE
from assistant_stream.providers.taskprocessing import TaskProcessingEngine, task_input
from tests.nextcloud_double import NextcloudDouble, looks_encrypted

API_KEY = "sk-live-4c1d9e77-unmistakable-test-key"

CHAT = [
    ChatMessage("system", "You are terse."),
    ChatMessage("user", "Hi"),
    ChatMessage("assistant", "Hello!"),
    ChatMessage("user", "What is 2+2?"),
]


@pytest.fixture
async def nc(nextcloud: NextcloudDouble) -> AsyncIterator[NextcloudServer]:
    client = NextcloudServer(nextcloud.env(), timeout=3)
    yield client
    await client.aclose()


def engine(nc: NextcloudServer, **kw: float) -> TaskProcessingEngine:
    return TaskProcessingEngine(nc.taskprocessing, poll_interval=kw.pop("poll_interval", 0.02), **kw)


async def collect(agen: AsyncIterator[ProviderEvent]) -> list[ProviderEvent]:
    return [event async for event in agen]


async def wait_for(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


# --- app config ----------------------------------------------------------------------------------


async def test_fetch_returns_values_and_none_for_missing_keys(nextcloud: NextcloudDouble,
                                                              nc: NextcloudServer) -> None:
    nextcloud.set_appconfig("streaming_model", "gpt-4o")
    assert await nc.appconfig.fetch(["streaming_model", "streaming_api_url"]) == {
        "streaming_model": "gpt-4o", "streaming_api_url": None}


async def test_store_keeps_the_sensitive_flag(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    await nc.appconfig.store("streaming_model", "llama3", sensitive=False)
    await nc.appconfig.store("streaming_api_key", API_KEY, sensitive=True)

    assert nextcloud.appconfig_sensitive("streaming_api_key") is True
    assert nextcloud.appconfig_sensitive("streaming_model") is False
    # Stored encrypted, read back in clear (as AppAPI does).
    assert looks_encrypted(nextcloud.appconfig_stored("streaming_api_key"))
    assert API_KEY not in nextcloud.appconfig_stored("streaming_api_key")
    assert await nc.appconfig.fetch(["streaming_api_key", "streaming_model"]) == {
        "streaming_api_key": API_KEY, "streaming_model": "llama3"}
    # The wire format is nc_py_api's: configKey/configValue/sensitive on AppAPI's v1 OCS route.
    write = [c for c in nextcloud.calls if c.method == "POST" and c.path.endswith("/api/v1/ex-app/config")][-1]
    assert write.params["sensitive"] is True and write.user == ""


async def test_configstore_set_of_the_key_stays_readable_after_an_update(nextcloud: NextcloudDouble,
                                                                           nc: NextcloudServer) -> None:
    store = ConfigStore(nc.appconfig, ttl=0, environ={})
    await store.set("streaming_api_key", "sk-first")
    await store.set("streaming_api_key", API_KEY)
    # A write without the flag would store clear text under the sensitive flag and read back as "".
    assert (await store.get()).streaming_api_key == Secret(API_KEY)
    assert nextcloud.appconfig_sensitive("streaming_api_key")


async def test_wrong_secret_is_refused_and_never_echoed(nextcloud: NextcloudDouble) -> None:
    wrong = "wrong-secret-0d3f9a"
    client = NextcloudServer(nextcloud.env(app_secret=wrong), timeout=3)
    try:
        with pytest.raises(errors.NextcloudError) as info:
            await client.appconfig.fetch(["streaming_model"])
    finally:
        await client.aclose()
    assert "authentication" in info.value.message
    assert wrong not in info.value.message and nextcloud.app_secret not in info.value.message
    assert nextcloud.calls[-1].status == 401 and nextcloud.calls[-1].user is None


# --- the double's own checks (so the tests above mean something) --------------------------------


@pytest.mark.parametrize("drop", ["EX-APP-VERSION", "AA-VERSION", "EX-APP-ID", "AUTHORIZATION-APP-API"])
async def test_double_refuses_requests_missing_an_appapi_header(nextcloud: NextcloudDouble, drop: str) -> None:
    headers = nextcloud.auth_headers("")
    del headers[drop]
    async with httpx.AsyncClient(base_url=nextcloud.url, trust_env=False) as client:
        ok = await client.post("/ocs/v1.php/apps/app_api/api/v1/ex-app/config/get-values?format=json",
                               json={"configKeys": ["x"]}, headers=nextcloud.auth_headers(""))
        bad = await client.post("/ocs/v1.php/apps/app_api/api/v1/ex-app/config/get-values?format=json",
                                json={"configKeys": ["x"]}, headers=headers)
    assert ok.status_code == 200 and ok.json()["ocs"]["meta"]["statuscode"] == 100
    assert bad.status_code == 401 and bad.json() == {"message": "AppAPI authentication failed"}


async def test_double_refuses_unknown_users_and_a_disabled_app(nextcloud: NextcloudDouble) -> None:
    async with httpx.AsyncClient(base_url=nextcloud.url, trust_env=False) as client:
        unknown = await client.get("/ocs/v2.php/taskprocessing/tasktypes",
                                   headers=nextcloud.auth_headers("mallory"))
        nextcloud.enabled = False
        disabled = await client.get("/ocs/v2.php/taskprocessing/tasktypes", headers=nextcloud.auth_headers("alice"))
        state = await client.get("/ocs/v1.php/apps/app_api/ex-app/state", headers=nextcloud.auth_headers(""))
    assert unknown.status_code == 401 and unknown.json()["ocs"]["meta"]["statuscode"] == 401
    assert disabled.status_code == 401
    assert state.status_code == 200 and state.json()["ocs"]["data"] == 0


# --- enable / disable ----------------------------------------------------------------------------


async def test_on_enabled_registers_menu_resources_state_and_form(nextcloud: NextcloudDouble,
                                                                  nc: NextcloudServer) -> None:
    state = {"appId": "assistant_stream", "engine": "stream"}
    assert await nc.ui.on_enabled(state) == ""

    assert nextcloud.top_menu[MENU_NAME] == {"appid": "assistant_stream", "name": "chat", "display_name": "Chat",
                                             "icon": "img/app.svg", "admin_required": 0}
    assert (UI_TYPE, MENU_NAME, SCRIPT_PATH) in nextcloud.scripts and SCRIPT_PATH == "js/assistant_stream-main"
    assert (UI_TYPE, MENU_NAME, STYLE_PATH) in nextcloud.styles
    assert not SCRIPT_PATH.endswith(".js") and not STYLE_PATH.endswith(".css")  # Nextcloud appends them
    assert nextcloud.initial_states[(UI_TYPE, MENU_NAME, INITIAL_STATE_KEY)] == state

    form = nextcloud.settings_forms[SETTINGS_FORM_ID]
    assert (form["section_type"], form["section_id"], form["title"]) == ("admin", "ai", "Assistant Stream")
    fields = {f["id"]: f for f in form["fields"]}
    assert list(fields) == ["streaming_api_url", "streaming_api_key", "streaming_model", "streaming_public_url",
                            "system_prompt", "max_tokens", "request_timeout", "history_length",
                            "max_concurrent_per_user"]
    assert fields["streaming_api_key"]["type"] == "password" and fields["streaming_api_key"]["sensitive"] is True
    assert {fields[k]["type"] for k in ("max_tokens", "request_timeout", "history_length")} == {"number"}
    assert "11434" in fields["streaming_api_url"]["description"]  # names the providers' URL shapes
    # The key exists, empty and sensitive, before the form can create it.
    assert nextcloud.appconfig_rows["streaming_api_key"] == {"value": "", "sensitive": True}


async def test_form_saves_of_the_key_read_back_in_clear_after_enable(nextcloud: NextcloudDouble,
                                                                       nc: NextcloudServer) -> None:
    assert await nc.ui.on_enabled({}) == ""
    nextcloud.admin_saves_form("streaming_api_key", API_KEY)
    assert await nc.appconfig.fetch(["streaming_api_key"]) == {"streaming_api_key": API_KEY}
    assert looks_encrypted(nextcloud.appconfig_stored("streaming_api_key"))


async def test_double_reproduces_the_form_quirk_without_a_precreated_key(nextcloud: NextcloudDouble,
                                                                         nc: NextcloudServer) -> None:
    # What on_enabled protects against: the form creating the key itself leaves ciphertext to read.
    await nc.client.app().ui.settings.register_form(settings_form())
    nextcloud.admin_saves_form("streaming_api_key", API_KEY)
    value = (await nc.appconfig.fetch(["streaming_api_key"]))["streaming_api_key"]
    assert value != API_KEY and looks_encrypted(value)


async def test_on_enabled_keeps_an_existing_key_and_makes_it_sensitive(nextcloud: NextcloudDouble,
                                                                         nc: NextcloudServer) -> None:
    nextcloud.set_appconfig("streaming_api_key", API_KEY, sensitive=False)  # e.g. occ without --sensitive
    assert await nc.ui.on_enabled({}) == ""
    assert nextcloud.appconfig_sensitive("streaming_api_key")
    assert await nc.appconfig.fetch(["streaming_api_key"]) == {"streaming_api_key": API_KEY}


async def test_on_disabled_removes_everything_but_keeps_settings(nextcloud: NextcloudDouble,
                                                                 nc: NextcloudServer) -> None:
    await nc.ui.on_enabled({"a": 1})
    nextcloud.set_appconfig("streaming_model", "m")
    assert await nc.ui.on_disabled() == ""
    assert (nextcloud.top_menu, nextcloud.scripts, nextcloud.styles) == ({}, {}, {})
    assert (nextcloud.initial_states, nextcloud.settings_forms) == ({}, {})
    assert nextcloud.appconfig["streaming_model"] == "m"
    assert await nc.ui.on_disabled() == ""  # twice is fine: nothing left is not an error


async def test_update_initial_state_republishes(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    await nc.ui.on_enabled({"engine": None})
    await nc.ui.update_initial_state({"engine": "stream"})
    assert nextcloud.initial_states[(UI_TYPE, MENU_NAME, INITIAL_STATE_KEY)] == {"engine": "stream"}


async def test_on_enabled_reports_an_unreachable_nextcloud_without_secrets(nextcloud: NextcloudDouble,
                                                                            nc: NextcloudServer) -> None:
    nextcloud.down()
    error = await nc.ui.on_enabled({})
    assert error and "reached" in error and nextcloud.app_secret not in error
    assert await nc.ui.on_disabled() != ""


async def test_report_init_progress(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    await nc.ui.report_init_progress(40)
    await nc.ui.report_init_progress(100)
    assert nextcloud.init_progress_reports == [(40, ""), (100, "")]
    assert nextcloud.init_status["init"] == 100
    assert nextcloud.calls_to("/apps/app_api/ex-app/status", "PUT")[0].path.startswith("/ocs/v1.php/")


# --- users ---------------------------------------------------------------------------------------


async def test_is_admin_asks_as_the_user_and_caches(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    assert await nc.users.is_admin("admin") is True
    assert await nc.users.is_admin("alice") is False
    nextcloud.set_admin("alice")
    assert await nc.users.is_admin("alice") is False  # cached for a minute
    lookups = nextcloud.calls_to("/cloud/users/alice")
    assert len(lookups) == 1 and lookups[0].user == "alice"
    assert await nc.users.is_admin("") is False


async def test_is_admin_sees_changes_after_the_ttl(nextcloud: NextcloudDouble) -> None:
    nc = NextcloudServer(nextcloud.env(), timeout=3, admin_cache_ttl=0.0)
    try:
        assert await nc.users.is_admin("bob") is False
        nextcloud.set_admin("bob")
        assert await nc.users.is_admin("bob") is True
    finally:
        await nc.aclose()


async def test_is_admin_quotes_unusual_user_ids(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.add_user("o'brien doe@example.com", ["admin"])
    assert await nc.users.is_admin("o'brien doe@example.com") is True


async def test_user_clients_are_bounded_and_evicted_ones_stay_usable(
        nextcloud: NextcloudDouble) -> None:
    nc = NextcloudServer(nextcloud.env(), timeout=3, max_user_clients=1)
    try:
        alice = await nc.client.as_user("alice")
        await nc.client.as_user("bob")
        assert nc.client.user_clients == ["bob"]
        # A request of alice's that was still running on the evicted client must not break.
        assert (await alice.ocs("GET", "/ocs/v1.php/cloud/users/alice"))["id"] == "alice"
    finally:
        await nc.aclose()


async def test_is_admin_raises_when_nextcloud_is_unreachable(nextcloud: NextcloudDouble,
                                                             nc: NextcloudServer) -> None:
    nextcloud.down()
    with pytest.raises(errors.NextcloudError):
        await nc.users.is_admin("admin")


# --- TaskProcessing ------------------------------------------------------------------------------


def test_task_input_maps_roles_and_history() -> None:
    system, text, history = task_input(CHAT)
    assert system == "You are terse." and text == "What is 2+2?"
    assert [json.loads(h) for h in history] == [{"role": "human", "content": "Hi"},
                                                {"role": "assistant", "content": "Hello!"}]
    with pytest.raises(errors.InvalidInput):
        task_input([ChatMessage("system", "x")])


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


async def test_engine_schedules_polls_and_answers(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.taskprocessing.script(output="Four.", delay=0.1)
    events = await collect(engine(nc).stream("alice", CHAT, custom_id="assistant_stream:m42"))
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
    assert await collect(engine(nc).stream("alice", CHAT)) == [TextDelta("ok"), Finish("stop")]


async def test_engine_yields_partial_output_as_it_grows(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.taskprocessing.script(partial=["The ", "answer ", "is ", "four"], output="The answer is four.",
                                    start_after=0.0, partial_interval=0.08, delay=0.5)
    events = await collect(engine(nc, poll_interval=0.02).stream("alice", CHAT))
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert "".join(deltas) == "The answer is four."
    assert len(deltas) >= 3  # streamed in parts, each only the new suffix
    assert deltas[-1] == "." and events[-1] == Finish("stop")


async def test_engine_failure_is_a_provider_error(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.taskprocessing.script(error="llm2: model file missing", delay=0.05)
    with pytest.raises(errors.ProviderError) as info:
        await collect(engine(nc).stream("alice", CHAT))
    assert "failed" in info.value.message and info.value.partial is False

    # Where Nextcloud exposes the provider's message, it is passed on.
    nextcloud.taskprocessing.expose_error_message = True
    with pytest.raises(errors.ProviderError) as info:
        await collect(engine(nc).stream("alice", CHAT))
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
    consumer = asyncio.create_task(collect(engine(nc).stream("alice", CHAT)))
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
        await collect(engine(nc, max_wait=0.2).stream("alice", CHAT))
    task_id = nextcloud.taskprocessing.last().id
    await wait_for(lambda: nextcloud.taskprocessing.status(task_id) == "STATUS_CANCELLED")


async def test_schedule_when_nextcloud_is_unreachable(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.down()
    with pytest.raises(errors.NextcloudError):
        await collect(engine(nc).stream("alice", CHAT))


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
    assert await collect(engine(nc).stream("alice", CHAT)) == [TextDelta("fine"), Finish("stop")]


async def test_rate_limit_becomes_rate_limited(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.taskprocessing.rate_limit = 2
    nextcloud.taskprocessing.script(output="x", delay=0.0, start_after=0.0)
    for _ in range(2):
        await collect(engine(nc).stream("alice", CHAT))
    with pytest.raises(errors.RateLimited) as info:
        await collect(engine(nc).stream("alice", CHAT))
    assert info.value.status == 429 and "Retry-After" in info.value.headers
    assert nextcloud.calls_to("/taskprocessing/schedule")[-1].status == 429
    await collect(engine(nc).stream("bob", CHAT))  # the limit is per user


async def test_default_rate_limit_is_twenty_per_user(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    for i in range(20):
        await nc.taskprocessing.schedule_chat("alice", system_prompt="", input=str(i), history=[], custom_id="")
    with pytest.raises(errors.RateLimited):
        await nc.taskprocessing.schedule_chat("alice", system_prompt="", input="21", history=[], custom_id="")


async def test_no_chat_provider_is_not_configured(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.taskprocessing.available = False
    with pytest.raises(errors.NotConfigured):
        await collect(engine(nc).stream("alice", CHAT))


async def test_a_task_of_another_user_is_not_found(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    task_id = await nc.taskprocessing.schedule_chat("alice", system_prompt="", input="q", history=[], custom_id="")
    with pytest.raises(errors.NotFound):
        await nc.taskprocessing.get_task("bob", task_id)
    await nc.taskprocessing.cancel_task("bob", task_id)  # not found is not an error, and does not touch alice's task
    assert nextcloud.taskprocessing.status(task_id) != "STATUS_CANCELLED"


# --- unreachable: refused and hanging --------------------------------------------------------------


async def test_hanging_nextcloud_times_out(nextcloud: NextcloudDouble) -> None:
    client = NextcloudServer(nextcloud.env(), timeout=0.5)
    try:
        nextcloud.down("hang")
        started = time.monotonic()
        with pytest.raises(errors.NextcloudError) as info:
            await client.appconfig.fetch(["streaming_model"])
        assert time.monotonic() - started < 3 and "in time" in info.value.message
        nextcloud.up()
        assert await client.appconfig.fetch(["streaming_model"]) == {"streaming_model": None}
    finally:
        await client.aclose()


async def test_client_recovers_after_a_restart(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.set_appconfig("streaming_model", "m1")
    assert (await nc.appconfig.fetch(["streaming_model"]))["streaming_model"] == "m1"
    nextcloud.down()
    with pytest.raises(errors.NextcloudError):
        await nc.appconfig.fetch(["streaming_model"])
    nextcloud.up()
    assert (await nc.appconfig.fetch(["streaming_model"]))["streaming_model"] == "m1"


# --- ConfigStore over NextcloudClient ------------------------------------------------------------


async def test_configstore_precedence_env_over_appconfig_over_default(nextcloud: NextcloudDouble,
                                                                      nc: NextcloudServer) -> None:
    nextcloud.set_appconfig("streaming_model", "from-nextcloud")
    nextcloud.set_appconfig("streaming_api_url", "https://nc.example/v1")
    nextcloud.set_appconfig("streaming_api_key", API_KEY, sensitive=True)
    store = ConfigStore(nc.appconfig, ttl=10, environ={"STREAMING_MODEL": "from-env"})
    s = await store.get()
    assert s.streaming_model == "from-env" and s.sources["streaming_model"] == "env"
    assert s.streaming_api_url == "https://nc.example/v1" and s.sources["streaming_api_url"] == "appconfig"
    assert s.streaming_api_key == Secret(API_KEY) and s.sources["streaming_api_key"] == "appconfig"
    assert s.history_length == 20 and s.sources.get("history_length", "default") == "default"
    assert s.stale is False


async def test_configstore_caches_for_its_ttl(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.set_appconfig("streaming_model", "old")
    store = ConfigStore(nc.appconfig, ttl=0.4, environ={})
    assert (await store.get()).streaming_model == "old"
    nextcloud.set_appconfig("streaming_model", "new")
    results = await asyncio.gather(*(store.get() for _ in range(5)))
    assert {r.streaming_model for r in results} == {"old"}
    assert len(nextcloud.calls_to("/ex-app/config/get-values")) == 1  # a burst costs no round trip
    await asyncio.sleep(0.45)
    assert (await store.get()).streaming_model == "new"
    assert len(nextcloud.calls_to("/ex-app/config/get-values")) == 2


async def test_configstore_keeps_last_good_values_and_logs_the_outage_once(
        nextcloud: NextcloudDouble, nc: NextcloudServer, caplog: pytest.LogCaptureFixture) -> None:
    nextcloud.set_appconfig("streaming_model", "good-model")
    nextcloud.set_appconfig("streaming_api_key", API_KEY, sensitive=True)
    store = ConfigStore(nc.appconfig, ttl=0, environ={})
    caplog.set_level(logging.DEBUG)  # every logger, every level: the key must appear in none

    assert (await store.get()).streaming_model == "good-model"
    nextcloud.down()
    for _ in range(4):
        s = await store.get()
        assert s.stale is True
        assert s.streaming_model == "good-model" and s.streaming_api_key == Secret(API_KEY)
    outage = [r for r in caplog.records if r.name == "assistant_stream.core.settings" and r.levelno >= logging.WARNING]
    assert len(outage) == 1 and "unreachable" in outage[0].getMessage()

    nextcloud.up()
    s = await store.get()
    assert s.stale is False and s.streaming_model == "good-model"
    assert any("reachable again" in r.getMessage() for r in caplog.records)

    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        assert API_KEY not in text and nextcloud.app_secret not in text
        assert base64.b64encode(f":{nextcloud.app_secret}".encode()).decode()[4:] not in text
