"""The wire contract (web/wire.py): one encoder for every event, and a replay from the database that is byte for
byte what the live stream sent, engine and error code included."""

from __future__ import annotations

import re

import httpx
import pytest

from assistant_stream.chat.answer import AnswerView
from assistant_stream.core.errors import ProviderDropped, ProviderRateLimited
from assistant_stream.core.events import Usage
from assistant_stream.web import wire
from tests.support.appserver import API_KEY, AppFactory, RunningApp
from tests.support.chat import new_chat
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.scripted_provider import DROP, ScriptedProvider, ScriptedResponse, chat_chunk, sse
from tests.support.sse import parse_events

DROPPED = "The connection to the AI provider broke off during the answer"
# What only administrators may be told: an address of the provider, an exception's name, the diagnosis.
INTERNAL = re.compile(rb"127\.0\.0\.1|://|\b[A-Z][A-Za-z]*(Error|Exception)\b|lost during the answer")


def leaks(body: bytes | str, provider: ScriptedProvider) -> bool:
    raw = body.encode() if isinstance(body, str) else body
    return bool(INTERNAL.search(raw)) or provider.base_url.split("://")[1].encode() in raw


async def stream_bytes(client: httpx.AsyncClient, sid: int, mid: int, last_event_id: int | None = None) -> bytes:
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else None
    async with client.stream("GET", "/chat/stream", params={"sessionId": sid, "messageId": mid},
                             headers=headers) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        return await r.aread()


async def expire_logs(app: RunningApp, client: httpx.AsyncClient) -> None:
    """With a retention of 0, opening any other log sweeps the finished ones: start another answer."""
    sid, mid = await new_chat(client, "another question")
    await stream_bytes(client, sid, mid)


async def live_then_replayed(app: RunningApp, client: httpx.AsyncClient, question: str) -> tuple[bytes, bytes]:
    sid, mid = await new_chat(client, question)
    live = await stream_bytes(client, sid, mid)
    answer_id = parse_events(live)[0][1]["messageId"]
    assert await app.services.chat.has_events(f"m{answer_id}")
    await expire_logs(app, client)
    assert not await app.services.chat.has_events(f"m{answer_id}")
    return live, await stream_bytes(client, sid, mid)


@pytest.fixture
async def stream_app(app_factory: AppFactory, scripted_provider: ScriptedProvider) -> RunningApp:
    return await app_factory(STREAMING_API_URL=scripted_provider.chat_url, STREAMING_API_KEY=API_KEY,
                             STREAMING_MODEL="test-model", eventlog_retention=0.0)


async def test_a_done_answer_replays_byte_identical(stream_app: RunningApp, scripted_provider: ScriptedProvider
                                                    ) -> None:
    role = sse(chat_chunk("", role="assistant"))
    usage = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
    scripted_provider.always(ScriptedResponse(body=[
        role, sse(chat_chunk(reasoning_content="Thinking it over.")), sse(chat_chunk("The answer: 42.")),
        sse(chat_chunk(finish_reason="stop")), sse({"choices": [], "usage": usage}), sse("[DONE]")]))
    live, replayed = await live_then_replayed(stream_app, stream_app.client("alice"), "What is it?")
    assert replayed == live
    events = [e for _, e in parse_events(live)]
    assert events[0]["engine"] == "stream" and events[1] == {"reasoning": "Thinking it over."}
    assert events[-1]["done"] is True and events[-1]["usage"] == usage
    assert events[-1]["message"]["engine"] == "stream" and events[-1]["message"]["error_code"] is None


async def test_a_failed_answer_replays_byte_identical_with_its_code(stream_app: RunningApp,
                                                                    scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(ScriptedResponse(body=[sse(chat_chunk("", role="assistant")),
                                                    sse(chat_chunk("Partial answer")), DROP]))
    live, replayed = await live_then_replayed(stream_app, stream_app.client("alice"), "Will it fail?")
    assert replayed == live
    last = parse_events(live)[-1][1]
    # The provider's own code, not a generic one: the row remembers it (migration 0002). A connection cut
    # mid-answer is no failure to reach the provider (issue #13).
    assert last["code"] == "provider_dropped" and last["message"]["error_code"] == "provider_dropped"
    assert last["message"]["status"] == "error" and last["message"]["content"] == "Partial answer"
    # Alice is no administrator: neither the event nor the stored message names the provider or the exception.
    assert last["error"] == last["message"]["error"] == DROPPED and "detail" not in last
    assert "error_detail" not in last["message"] and not leaks(live, scripted_provider)


async def test_a_taskprocessing_answer_replays_byte_identical(app_factory: AppFactory,
                                                              nextcloud: NextcloudDouble) -> None:
    nextcloud.add_user("alice")
    nextcloud.taskprocessing.script(output="Bonjour", delay=0.05)
    app = await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret, eventlog_retention=0.0)
    live, replayed = await live_then_replayed(app, app.client("alice"), "Say hello in French")
    assert replayed == live
    events = [e for _, e in parse_events(live)]
    assert events[0]["engine"] == "taskprocessing" and events[0]["model"] == "nextcloud"
    assert events[1] == {"chunk": "Bonjour"} and events[-1]["message"]["engine"] == "taskprocessing"


async def test_a_resuming_reader_gets_only_the_last_event(stream_app: RunningApp,
                                                          scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(ScriptedResponse(body=[sse(chat_chunk("Whole")), sse(chat_chunk(finish_reason="stop")),
                                                    sse("[DONE]")]))
    c = stream_app.client("alice")
    sid, mid = await new_chat(c)
    live = parse_events(await stream_bytes(c, sid, mid))
    await expire_logs(stream_app, c)
    resumed = parse_events(await stream_bytes(c, sid, mid, last_event_id=2))
    assert resumed == [(3, live[-1][1])]


def view(**kw: object) -> AnswerView:
    base: dict[str, object] = {"kind": "answer", "message_id": 7, "reply_to": 6, "model": "m", "engine": "stream",
                               "status": "generating", "text": "", "reasoning": ""}
    return AnswerView(**{**base, **kw})  # type: ignore[arg-type]


def test_consecutive_text_merges_into_one_event_with_the_last_id() -> None:
    started = view()
    done = view(status="done", text="abc", usage=Usage(1, 2, 3), tokens_per_second=4.5, message={"id": 7})
    text = wire.encode_events([(1, "started", started), (2, "chunk", "a"), (3, "chunk", "b"), (4, "reasoning", "r"),
                               (5, "chunk", "c"), (6, "done", done)])
    assert parse_events(text) == [
        (1, {"started": True, "messageId": 7, "replyTo": 6, "model": "m", "engine": "stream", "connection": None}),
        (3, {"chunk": "ab"}), (4, {"reasoning": "r"}), (5, {"chunk": "c"}),
        (6, {"done": True, "message": {"id": 7}, "status": "done", "finishReason": None,
             "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}, "tokensPerSecond": 4.5})]


def test_text_frames_escape_what_would_break_the_stream() -> None:
    hostile = 'a\n\ndata: {"done": true}\r\nid: 9 "quoted" \u2028 é'
    assert parse_events(wire.encode_events([(1, "chunk", hostile)])) == [(1, {"chunk": hostile})]


def test_an_error_carries_retry_after_where_the_provider_gave_one() -> None:
    failed = view(status="error", error=ProviderRateLimited("slow down", retry_after=2.5), message={"id": 7})
    kind, payload = wire.final(failed)
    assert kind == "error"
    assert payload == {"error": "The AI provider is rate limiting requests", "code": "provider_rate_limited",
                       "retryAfter": 3, "message": {"id": 7}}
    body = wire.poll_body(failed, 0, 0)
    assert body["code"] == "provider_rate_limited" and body["retryAfter"] == 3 and body["done"] is True


def test_poll_body_sends_only_what_is_past_the_cursors() -> None:
    running = view(text="Hello world", reasoning="hmm")
    body = wire.poll_body(running, 6, 3)
    assert body == {"messageId": 7, "replyTo": 6, "status": "generating", "done": False, "text": "world",
                    "cursor": 11, "reasoning": "", "rcursor": 3}


def test_check_generation_statuses() -> None:
    assert wire.check_generation(view(text="so far", first_token=True, message={"id": 7}))[0] == 417
    assert wire.check_generation(view(text="", message={"id": 7}))[1]["task_status"] == 1
    assert wire.check_generation(view(status="done", message={"id": 7})) == (200, {"id": 7})
    failed = wire.check_generation(view(status="error", message={"id": 7}))
    assert failed == (400, {"error": "The answer failed", "code": "generation_failed", "message": {"id": 7}})


# --- rendered per reader: the administrator's detail for administrators only ---------------------------

DETAIL = "The connection to the AI provider at http://10.0.0.5:8000/v1 was lost during the answer (ReadError)"


def failed_view() -> AnswerView:
    row = {"id": 7, "status": "error", "error": DETAIL, "error_code": "provider_dropped", "content": "So far"}
    return view(status="error", text="So far", error=ProviderDropped(DETAIL, partial=True), message=row)


@pytest.mark.parametrize("admin", [False, True])
def test_every_way_an_error_leaves_tells_the_detail_to_administrators_only(admin: bool) -> None:
    failed = failed_view()
    rendered = {
        "final": wire.final(failed, admin)[1],
        "encoded": parse_events(wire.encode_events([(1, "chunk", "So far"), (2, "error", failed)], admin))[-1][1],
        "replay": parse_events(wire.replay(failed, 0, admin))[-1][1],
        "resume": parse_events(wire.replay(failed, 5, admin))[-1][1],
        "poll": wire.poll_body(failed, 0, 0, admin),
        "check": wire.check_generation(failed, admin)[1],
    }
    for where, body in rendered.items():
        assert (body["error"], body["code"]) == (DROPPED, "provider_dropped"), where
        assert body["message"]["error"] == DROPPED and body["message"]["error_code"] == "provider_dropped", where
        assert body.get("detail") == (DETAIL if admin else None), where
        assert body["message"].get("error_detail") == (DETAIL if admin else None), where
        assert ("10.0.0.5" in str(body)) is admin and ("ReadError" in str(body)) is admin, where
    assert wire.records([failed.message, {"id": 8, "error": None}], admin)[0] == rendered["final"]["message"]
    frame = wire.error_frame(ProviderDropped(DETAIL), admin)
    assert ("10.0.0.5" in frame) is admin and ("ReadError" in frame) is admin
    assert failed.message["error"] == DETAIL  # the stored row itself is never changed


def test_the_role_is_asked_only_where_an_error_is_told() -> None:
    done = view(status="done", text="ok", message={"id": 7, "error": None})
    assert wire.batch_ends_in_error([(1, "chunk", "x"), (2, "error", failed_view())])
    assert not wire.batch_ends_in_error([(1, "chunk", "x")]) and not wire.batch_ends_in_error([(2, "done", done)])
    assert not wire.tells_error([None, {"id": 1, "error": None}]) and wire.tells_error([failed_view().message])
    # A client error's words are for everyone: the row goes out as stored.
    row = {"id": 7, "error": "The model cannot see images", "error_code": "vision_unsupported"}
    assert wire.record(row, False) is row and wire.record(row, True) is row


async def test_over_http_only_an_administrator_is_told_where_and_how_the_provider_failed(
        app_factory: AppFactory, nextcloud: NextcloudDouble, scripted_provider: ScriptedProvider) -> None:
    """Issue #13: the server itself keeps the provider's URL and the exception from a non-admin, in the SSE
    error event, the poll body, the stored message and its history; a Nextcloud admin gets them as detail."""
    nextcloud.add_user("root", ["admin"])
    nextcloud.add_user("alice")
    scripted_provider.always(ScriptedResponse(body=[sse(chat_chunk("", role="assistant")),
                                                    sse(chat_chunk("Partial answer")), DROP]))
    app = await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret,
                            STREAMING_API_URL=scripted_provider.chat_url, STREAMING_API_KEY=API_KEY,
                            STREAMING_MODEL="test-model")
    for user, admin in (("alice", False), ("root", True)):
        client = app.client(user)
        sid, mid = await new_chat(client, "Will it fail?")
        live = await stream_bytes(client, sid, mid)
        answer = parse_events(live)[-1][1]["message"]["id"]
        poll = await client.get("/chat/poll", params={"sessionId": sid, "messageId": mid, "timeout": 0})
        history = await client.get("/chat/messages", params={"sessionId": sid})
        one = await client.get("/chat/message", params={"sessionId": sid, "messageId": answer})
        check = await client.get("/chat/check_generation", params={"sessionId": sid, "taskId": answer})
        assert (poll.status_code, history.status_code, one.status_code, check.status_code) == (200, 200, 200, 400)
        told = [parse_events(live)[-1][1], poll.json(), history.json()[-1], one.json(), check.json()]
        assert [t.get("code") or t["error_code"] for t in told] == ["provider_dropped"] * 5
        assert all(t["error"] == DROPPED for t in told), told
        for body in (live, poll.content, history.content, one.content, check.content):
            assert leaks(body, scripted_provider) is admin, (user, body)
        if admin:
            detail = poll.json()["detail"]
            assert "lost during the answer" in detail and scripted_provider.base_url.split("://")[1] in detail
            assert parse_events(live)[-1][1]["detail"] == detail == history.json()[-1]["error_detail"]
