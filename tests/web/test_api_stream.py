"""/chat/stream, /chat/poll, /chat/stop and stream tokens against the real app and a scripted provider."""

from __future__ import annotations

import asyncio
import time

from tests.support.appserver import RunningApp
from tests.support.chat import new_chat, read_stream, text_of, wait_done
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.scripted_provider import DROP, ScriptedProvider, chat_chunk, openai_stream, sse
from tests.support.sse import sse_events

WORDS = [f"tok{i} " for i in range(20)]
TEXT = "".join(WORDS)


async def test_stream_contract(chat_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(WORDS, delay=0.01))
    c = chat_app.client("alice")
    sid, mid = await new_chat(c)
    events = await read_stream(c, {"sessionId": sid, "messageId": mid})
    ids = [i for i, _ in events]
    assert all(i is not None for i in ids) and ids == sorted(ids) and len(set(ids)) == len(ids)
    assert events[0][1]["started"] is True and events[0][1]["replyTo"] == mid
    assert text_of(events) == TEXT
    last = events[-1][1]
    assert last["done"] is True and last["message"]["content"] == TEXT and last["message"]["status"] == "done"
    assert last["finishReason"] == "stop" and last["usage"]["completion_tokens"] == len(WORDS)
    # Asking again for the same message replays the stored answer instead of generating another.
    again = await read_stream(c, {"sessionId": sid, "messageId": mid})
    assert text_of(again) == TEXT and again[-1][1]["done"] is True
    assert len(scripted_provider.requests) == 1


async def test_reconnect_with_last_event_id_gives_text_exactly_once(
        chat_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(WORDS, delay=0.03))
    c = chat_app.client("alice")
    sid, mid = await new_chat(c)
    first = await read_stream(c, {"sessionId": sid, "messageId": mid}, stop_after_chunks=5)
    last_id = first[-1][0]
    assert last_id is not None
    rest = await read_stream(c, {"sessionId": sid, "messageId": mid}, headers={"Last-Event-ID": str(last_id)})
    assert all(i is not None and i > last_id for i, _ in rest)
    assert text_of(first) + text_of(rest) == TEXT
    assert rest[-1][1]["message"]["content"] == TEXT
    assert len(scripted_provider.requests) == 1  # the generation was never restarted


async def test_closing_the_browser_does_not_stop_the_generation(
        chat_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(WORDS, delay=0.02))
    c = chat_app.client("alice")
    sid, mid = await new_chat(c)
    first = await read_stream(c, {"sessionId": sid, "messageId": mid}, stop_after_chunks=2)
    task_id = first[0][1]["messageId"]
    final = await wait_done(c, sid, task_id)
    assert final.status_code == 200 and final.json()["content"] == TEXT


async def test_two_readers_see_the_same_events(chat_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(WORDS, delay=0.02))
    c1, c2 = chat_app.client("alice"), chat_app.client("alice")
    sid, mid = await new_chat(c1)
    a, b = await asyncio.gather(read_stream(c1, {"sessionId": sid, "messageId": mid}),
                                read_stream(c2, {"sessionId": sid, "messageId": mid}))
    assert text_of(a) == text_of(b) == TEXT
    assert len(scripted_provider.requests) == 1


async def test_stop_keeps_partial_text_and_closes_upstream(
        chat_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(WORDS, delay=0.1))
    c = chat_app.client("alice")
    sid, mid = await new_chat(c)
    seen: list[str] = []
    async with c.stream("GET", "/chat/stream", params={"sessionId": sid, "messageId": mid}) as r:
        async for _id, event in sse_events(r):
            if "chunk" in event:
                seen.append(event["chunk"])
                if len(seen) == 3:
                    stop = await chat_app.client("alice").post("/chat/stop", json={"sessionId": sid, "messageId": mid})
                    assert stop.status_code == 200, stop.text
            if "done" in event:
                final = event
                break
    message = final["message"]
    assert message["status"] == "cancelled"
    assert message["content"].startswith("".join(seen[:3])) and len(message["content"]) < len(TEXT)
    assert await scripted_provider.wait_closed_by_client()
    stored = await c.get("/chat/message", params={"sessionId": sid, "messageId": message["id"]})
    assert stored.json()["status"] == "cancelled" and stored.json()["content"] == message["content"]


async def test_provider_error_mid_stream_keeps_partial_text(
        chat_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    body = [sse(chat_chunk("", role="assistant")), sse(chat_chunk("Partial ")), sse(chat_chunk("answer")), DROP]
    from tests.support.scripted_provider import ScriptedResponse

    scripted_provider.always(ScriptedResponse(body=body, delay=0.02))
    c = chat_app.client("alice")
    sid, mid = await new_chat(c)
    events = await read_stream(c, {"sessionId": sid, "messageId": mid})
    last = events[-1][1]
    assert "error" in last and last["code"].startswith("provider")
    assert last["message"]["status"] == "error" and last["message"]["content"] == "Partial answer"
    check = await c.get("/chat/check_generation", params={"taskId": last["message"]["id"], "sessionId": sid})
    assert check.status_code == 400 and check.json()["message"]["content"] == "Partial answer"


async def test_long_poll_delivers_progressively_and_completely(
        chat_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(WORDS, delay=0.05))
    c = chat_app.client("alice")
    sid, mid = await new_chat(c)
    cursor, text, responses = 0, "", 0
    while True:
        r = await c.get("/chat/poll", params={"sessionId": sid, "messageId": mid, "cursor": cursor, "timeout": 10})
        assert r.status_code == 200 and r.headers["cache-control"] == "no-cache"
        body = r.json()
        responses += 1
        text += body["text"]
        cursor = body["cursor"]
        if body["done"]:
            break
    assert text == TEXT and body["message"]["content"] == TEXT and body["status"] == "done"
    assert responses >= 5  # it came in pieces, not all at the end
    assert len(scripted_provider.requests) == 1


async def test_long_poll_wakes_on_new_text_not_on_timeout(
        chat_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    from tests.support.scripted_provider import ScriptedResponse, Sleep

    body = [sse(chat_chunk("", role="assistant")), Sleep(0.5), sse(chat_chunk("late")), sse("[DONE]")]
    scripted_provider.always(ScriptedResponse(body=body))
    c = chat_app.client("alice")
    sid, mid = await new_chat(c)
    began = time.monotonic()
    r = await c.get("/chat/poll", params={"sessionId": sid, "messageId": mid, "cursor": 0, "timeout": 20})
    waited = time.monotonic() - began
    assert r.json()["text"] == "late"
    # Woken by the text (sent after 0.5 s), not by its 20 s timeout: behaviour, not a speed target.
    assert waited < 10


async def test_poll_by_task_id_after_completion(chat_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(WORDS))
    c = chat_app.client("alice")
    sid, _ = await new_chat(c)
    task = (await c.get("/chat/generate", params={"sessionId": sid})).json()["taskId"]
    await wait_done(c, sid, task)
    r = (await c.get("/chat/poll", params={"sessionId": sid, "taskId": task, "cursor": 4})).json()
    assert r["done"] is True and r["text"] == TEXT[4:] and r["cursor"] == len(TEXT)


async def test_stream_tokens(app_factory, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(WORDS))
    app = await app_factory(STREAMING_API_URL=scripted_provider.chat_url,
                            STREAMING_PUBLIC_URL="https://cloud.example.com/assistant-stream",
                            nextcloud_url="http://127.0.0.1:9")
    alice = app.client("alice")
    sid, mid = await new_chat(alice)
    _, other = await new_chat(alice, "another question")
    r = await alice.post("/chat/stream_token", json={"sessionId": sid, "messageId": mid})
    assert r.status_code == 200
    token = r.json()["token"]
    assert r.json()["url"].startswith("https://cloud.example.com/assistant-stream/chat/stream?")
    anon = app.anonymous()
    ok = await anon.get("/chat/stream", params={"sessionId": sid, "messageId": mid, "token": token},
                        headers={"Origin": "http://127.0.0.1:9"})
    assert ok.status_code == 200 and "tok0" in ok.text
    assert ok.headers["access-control-allow-origin"] == "http://127.0.0.1:9"
    evil = await anon.get("/chat/stream", params={"sessionId": sid, "messageId": mid, "token": token},
                          headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in evil.headers
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for params in ({"sessionId": sid, "messageId": mid, "token": forged},
                   {"sessionId": sid, "messageId": other, "token": token},
                   {"sessionId": sid, "messageId": mid, "token": "garbage"}):
        bad = await anon.get("/chat/stream", params=params)
        assert bad.status_code == 401, params
    expired, _ = app.services.tokens.mint("alice", sid, mid, ttl=-1)
    assert (await anon.get("/chat/stream", params={"sessionId": sid, "messageId": mid,
                                                   "token": expired})).status_code == 401
    # A token opens nothing but the stream and the poll.
    assert (await anon.get("/chat/sessions", params={"token": token})).status_code == 401
    assert (await anon.get("/chat/messages", params={"sessionId": sid, "token": token})).status_code == 401


async def test_keepalives_forever_hit_the_answer_deadline(app_factory, scripted_provider: ScriptedProvider,
                                                          nextcloud: NextcloudDouble) -> None:
    from tests.support.scripted_provider import ScriptedResponse, Sleep

    # Comments reset the provider's idle timeout; only the whole-answer deadline ends this.
    body = [sse(chat_chunk("", role="assistant")), sse(chat_chunk("so far"))]
    body += [piece for _ in range(100) for piece in (b": keep-alive\n\n", Sleep(0.05))]
    scripted_provider.always(ScriptedResponse(body=body))
    nextcloud.set_admin("alice")  # told the detail
    app = await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret,
                            STREAMING_API_URL=scripted_provider.chat_url, ANSWER_TIMEOUT="1")
    c = app.client("alice")
    sid, mid = await new_chat(c)
    events = await read_stream(c, {"sessionId": sid, "messageId": mid})
    last = events[-1][1]
    assert last["code"] == "provider_timeout" and "1 s" in last["detail"]
    assert last["message"]["status"] == "error" and last["message"]["content"] == "so far"
    assert await scripted_provider.wait_closed_by_client()
