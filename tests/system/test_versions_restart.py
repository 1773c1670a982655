"""Issue 14's "done when": a conversation with three branches survives a restart (SIGKILL in the middle of an
answer) and resumes streaming on the branch that was active, with that branch's context only."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx

from tests.support.appserver import appapi_headers, spawn_with_provider
from tests.support.chat import new_chat, read_stream, text_of
from tests.support.ports import free_port
from tests.support.scripted_provider import ScriptedProvider, openai_stream

SLOW = [f"w{i} " for i in range(300)]


async def test_three_branches_survive_a_restart_and_streaming_resumes_on_the_active_one(
        tmp_path: Path, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.script(openai_stream(["A1"]), openai_stream(["A1b"]), openai_stream(["A1c"]),
                             openai_stream(SLOW, delay=0.03), openai_stream([" resumed."]), openai_stream(["A3"]))
    port = free_port()
    proc = await spawn_with_provider(tmp_path, scripted_provider.chat_url, port)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=appapi_headers("alice"),
                                 trust_env=False, timeout=20) as c:
        try:
            sid, q1 = await new_chat(c, "Q1")
            a1 = (await read_stream(c, {"sessionId": sid, "messageId": q1}))[-1][1]["message"]["id"]
            for _ in range(2):  # two more versions of the answer: three branches
                await c.post("/chat/regenerate", json={"sessionId": sid, "messageId": a1})
                await read_stream(c, {"sessionId": sid, "messageId": q1})
            versions = (await c.get("/chat/message", params={"sessionId": sid, "messageId": a1})).json()["sibling_ids"]
            assert len(versions) == 3
            await c.post("/chat/switch_branch", json={"sessionId": sid, "messageId": versions[1]})  # the middle one
            q2 = (await c.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": "Q2"})).json()
            events = await read_stream(c, {"sessionId": sid, "messageId": q2["id"]}, stop_after_chunks=20)
            assert text_of(events).startswith("w0 w1 ")
            await asyncio.sleep(1.5)  # the answer's text is saved about once a second
            proc.send_signal(signal.SIGKILL)
            await proc.wait()

            proc = await spawn_with_provider(tmp_path, scripted_provider.chat_url, port)
            page = (await c.get("/chat/messages", params={"sessionId": sid, "limit": 50})).json()
            assert [m["content"][:3] for m in page] == ["Q1", "A1b", "Q2", "w0 "]
            assert page[1]["sibling_ids"] == versions and page[3]["status"] == "interrupted"
            partial = page[3]["content"]

            # Resume: Continue streams into the same answer, on the branch that was active.
            r = await c.post("/chat/continue", json={"sessionId": sid, "messageId": page[3]["id"]})
            assert r.status_code == 200, r.text
            events = await read_stream(c, {"sessionId": sid, "messageId": q2["id"]})
            assert text_of(events) == partial + " resumed."
            assert events[-1][1]["message"]["status"] == "done" and events[-1][1]["message"]["id"] == page[3]["id"]
            sent = [(m["role"], m["content"]) for m in scripted_provider.requests[-1].json["messages"]
                    if m["role"] != "system"]
            assert sent == [("user", "Q1"), ("assistant", "A1b"), ("user", "Q2"), ("assistant", partial)]

            # And the conversation goes on there.
            q3 = (await c.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": "Q3"})).json()
            assert q3["parent_id"] == page[3]["id"]
            await read_stream(c, {"sessionId": sid, "messageId": q3["id"]})
            assert [m["content"] for m in scripted_provider.requests[-1].json["messages"][1:]][:2] == ["Q1", "A1b"]
        finally:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
