"""Long-poll delivery through the real (buffering) stock proxy: early text, many steps, reload, one-burst speed.

No wall-clock thresholds: orders and counts only, with the send times the scripted provider records (the
monotonic clock is shared by the test, the app and the provider on this host).
"""

from __future__ import annotations

from tests.support.nextcloud_real.client import PROXY, new_message, new_session, poll_answer
from tests.support.nextcloud_real.plugin import RealStack
from tests.support.nextcloud_real.provider import marker
from tests.support.scripted_provider import ScriptedResponse, openai_stream

CHUNKS = [f"w{i} " for i in range(30)]
SPACING = 0.1  # seconds between two provider chunks: a 3 s answer
MANY = 6  # growth steps a paced answer must show at least (the issue measured 24-32 for 3.4 s)


async def test_paced_answer_arrives_in_many_steps_before_it_ends(real_nc: RealStack) -> None:
    await real_nc.settled()
    c = real_nc.as_user("alice")
    mark = marker()
    real_nc.provider.answer(mark, openai_stream(CHUNKS, delay=SPACING))
    r = await c.get(f"{PROXY}/chat/config")
    assert r.json()["delivery"]["mode"] == "poll"  # only the stock proxy here: the app says so
    sid = await new_session(c)
    hid = await new_message(c, sid, f"Count {mark}")
    run = await poll_answer(c, sid, hid)

    assert run.text == "".join(CHUNKS)
    assert run.final["status"] == "done"
    [exchange] = real_nc.provider.for_marker(mark)
    last_sent = exchange.sent_at[-1]
    first_text = run.growth[0].at
    assert first_text < last_sent, "the first text must reach the client while the provider is still writing"
    assert len(run.growth) >= MANY, f"only {len(run.growth)} growth steps for {len(CHUNKS)} paced chunks"
    # Text never shrinks or repeats: each step adds what follows the previous cursor.
    assert "".join(s.body["text"] for s in run.growth) == run.text
    assert isinstance(run.final.get("tokensPerSecond"), float)


async def test_reload_mid_answer_resumes_without_duplication(real_nc: RealStack) -> None:
    await real_nc.settled()
    c = real_nc.as_user("alice")
    mark = marker()
    real_nc.provider.answer(mark, openai_stream(CHUNKS, delay=SPACING))
    sid = await new_session(c)
    hid = await new_message(c, sid, f"Count {mark}")
    before = await poll_answer(c, sid, hid, stop_after=2)
    assert before.final["status"] == "generating"
    assert 0 < len(before.text) < len("".join(CHUNKS))

    # The page reloads: a new poll loop from cursor 0 gets the whole text so far, then only what follows.
    after = await poll_answer(real_nc.as_user("alice"), sid, hid)
    assert after.steps[0].body["text"].startswith(before.text)
    assert after.text == "".join(CHUNKS)
    assert after.final["status"] == "done"
    assert len(real_nc.provider.for_marker(mark)) == 1, "the reload must not start a second generation"
    r = await c.get(f"{PROXY}/chat/messages", params={"sessionId": sid})
    assert [m["content"] for m in r.json() if m["role"] == "assistant"] == ["".join(CHUNKS)]


async def test_one_burst_answer_has_no_speed(real_nc: RealStack) -> None:
    """Issue 11 defect 4: an answer that arrives in one burst showed "57516.4 tokens/s"."""
    await real_nc.settled()
    c = real_nc.as_user("alice")
    mark = marker()
    paced = openai_stream(CHUNKS)
    burst = ScriptedResponse(body=[b"".join(p for p in paced.body if isinstance(p, bytes))])
    real_nc.provider.answer(mark, burst)
    sid = await new_session(c)
    hid = await new_message(c, sid, f"Burst {mark}")
    run = await poll_answer(c, sid, hid)
    assert run.text == "".join(CHUNKS)
    assert run.final["tokensPerSecond"] is None
    assert run.final["message"]["tokens_per_second"] is None
    r = await c.get(f"{PROXY}/chat/message", params={"sessionId": sid, "messageId": run.final["messageId"]})
    assert r.json()["tokens_per_second"] is None
