"""Versions through the HTTP API: edit, regenerate and switch build a tree; the model only sees the active branch;
the Assistant-compatible routes show that branch as a list; Continue appends to the same answer."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.appserver import RunningApp
from tests.support.chat import new_chat, read_stream, text_of
from tests.support.scripted_provider import ScriptedProvider, openai_stream


async def answer(c: httpx.AsyncClient, sid: int, hid: int) -> dict[str, Any]:
    """Stream the answer to question ``hid`` to its end; the final event."""
    events = await read_stream(c, {"sessionId": sid, "messageId": hid})
    assert "done" in events[-1][1], events[-1]
    return events[-1][1]


def sent(provider: ScriptedProvider, index: int = -1) -> list[tuple[str, str]]:
    """(role, content) of the messages a chat request sent, without the system prompt."""
    chats = [r for r in provider.requests if r.path.endswith("/chat/completions")]
    return [(m["role"], m["content"]) for m in chats[index].json["messages"] if m["role"] != "system"]


async def branch(c: httpx.AsyncClient, sid: int) -> list[str]:
    page = (await c.get("/chat/messages", params={"sessionId": sid, "limit": 200})).json()
    return [m["content"] for m in page]


async def ask(c: httpx.AsyncClient, sid: int, text: str) -> int:
    r = await c.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": text})
    assert r.status_code == 200, r.text
    return int(r.json()["id"])


async def test_edit_regenerate_and_switch_build_branches_and_the_model_sees_only_the_active_one(
        chat_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    c = chat_app.client("alice")
    scripted_provider.script(*(openai_stream([t]) for t in ("A1", "A1b", "A2", "A3", "B1")))
    sid, q1 = await new_chat(c, "Q1")
    a1 = (await answer(c, sid, q1))["message"]["id"]
    r = await c.post("/chat/regenerate", json={"sessionId": sid, "messageId": a1})
    assert r.status_code == 200, r.text
    a1b = (await answer(c, sid, q1))["message"]
    assert a1b["id"] == r.json()["messageId"] and a1b["content"] == "A1b"
    assert a1b["sibling_ids"] == [a1, a1b["id"]] and a1b["parent_id"] == q1
    assert await branch(c, sid) == ["Q1", "A1b"]  # the old answer is kept, one arrow away

    q2 = await ask(c, sid, "Q2")
    await answer(c, sid, q2)
    assert sent(scripted_provider) == [("user", "Q1"), ("assistant", "A1b"), ("user", "Q2")]

    r = await c.post("/chat/switch_branch", json={"sessionId": sid, "messageId": a1})
    assert r.status_code == 200 and [m["content"] for m in r.json()["messages"]] == ["A1"]
    assert r.json()["more"] is False and await branch(c, sid) == ["Q1", "A1"]
    q3 = await ask(c, sid, "Q3")  # continues the branch shown
    await answer(c, sid, q3)
    assert sent(scripted_provider) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q3")]

    r = await c.post("/chat/edit_message", json={"sessionId": sid, "messageId": q1, "content": "Q1 edited"})
    assert r.status_code == 200, r.text
    edited = r.json()
    assert edited["parent_id"] is None and edited["sibling_ids"] == [q1, edited["id"]]
    await answer(c, sid, edited["id"])
    assert sent(scripted_provider) == [("user", "Q1 edited")]
    assert await branch(c, sid) == ["Q1 edited", "B1"]

    # Back to the first version: each level shows the version last seen there.
    r = await c.post("/chat/switch_branch", json={"sessionId": sid, "messageId": q1})
    assert [m["content"] for m in r.json()["messages"]] == ["Q1", "A1", "Q3", "A3"]
    assert await branch(c, sid) == ["Q1", "A1", "Q3", "A3"]
    r = await c.post("/chat/switch_branch", json={"sessionId": sid, "messageId": a1b["id"]})
    assert await branch(c, sid) == ["Q1", "A1b", "Q2", "A2"]


async def test_assistant_routes_show_the_active_branch_as_a_list(chat_app: RunningApp,
                                                                scripted_provider: ScriptedProvider) -> None:
    c = chat_app.client("alice")
    scripted_provider.always(openai_stream(["answer"]))
    sid, q1 = await new_chat(c, "first")
    await answer(c, sid, q1)
    q2 = await ask(c, sid, "second")
    await answer(c, sid, q2)
    await c.post("/chat/edit_message", json={"sessionId": sid, "messageId": q2, "content": "second, edited"})
    # An old client: /chat/generate answers the last question of the branch shown, paging walks that branch.
    r = await c.get("/chat/generate", params={"sessionId": sid})
    assert r.status_code == 200, r.text
    for _ in range(200):
        done = await c.get("/chat/check_generation", params={"sessionId": sid, "taskId": r.json()["taskId"]})
        if done.status_code != 417:
            break
    assert done.status_code == 200 and done.json()["reply_to"] != q2
    newest = (await c.get("/chat/messages", params={"sessionId": sid, "limit": 2, "cursor": 0})).json()
    older = (await c.get("/chat/messages", params={"sessionId": sid, "limit": 2, "cursor": 2})).json()
    assert [m["content"] for m in older + newest] == ["first", "answer", "second, edited", "answer"]
    assert newest[0]["sibling_ids"] == [q2, newest[0]["id"]]


async def test_switching_or_editing_while_an_answer_runs_is_refused(chat_app: RunningApp,
                                                                    scripted_provider: ScriptedProvider) -> None:
    c = chat_app.client("alice")
    scripted_provider.script(openai_stream(["slow"] * 40, delay=0.1))
    sid, q1 = await new_chat(c, "Q1")
    started = await c.post("/chat/generate", json={"sessionId": sid})
    assert started.status_code == 200
    for path, body in (("/chat/switch_branch", {"messageId": q1}),
                       ("/chat/edit_message", {"messageId": q1, "content": "other"})):
        r = await c.post(path, json={"sessionId": sid, **body})
        assert r.status_code == 400 and r.json()["code"] == "session_already_thinking", (path, r.text)
    await c.post("/chat/stop", json={"sessionId": sid, "messageId": q1})


async def test_another_users_messages_cannot_be_edited_or_switched(chat_app: RunningApp) -> None:
    alice, bob = chat_app.client("alice"), chat_app.client("bob")
    sid, q1 = await new_chat(alice, "mine")
    for path, body in (("/chat/switch_branch", {}), ("/chat/edit_message", {"content": "x"}),
                       ("/chat/continue", {})):
        r = await bob.post(path, json={"sessionId": sid, "messageId": q1, **body})
        assert r.status_code == 404, (path, r.text)
    r = await alice.post("/chat/edit_message", json={"sessionId": sid, "messageId": q1, "content": "  "})
    assert r.status_code == 400 and r.json()["code"] == "empty_message"


async def test_deleting_a_question_takes_its_answers_and_keeps_what_followed(
        chat_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    c = chat_app.client("alice")
    scripted_provider.script(*(openai_stream([t]) for t in ("A1", "A1b", "A2")))
    sid, q1 = await new_chat(c, "Q1")
    a1 = (await answer(c, sid, q1))["message"]["id"]
    await c.post("/chat/regenerate", json={"sessionId": sid, "messageId": a1})
    await answer(c, sid, q1)
    q2 = await ask(c, sid, "Q2")
    await answer(c, sid, q2)
    r = await c.request("DELETE", "/chat/delete_message", json={"sessionId": sid, "messageId": q1})
    assert r.status_code == 200
    assert await branch(c, sid) == ["Q2", "A2"]
    gone = await c.get("/chat/message", params={"sessionId": sid, "messageId": a1})
    assert gone.status_code == 404


async def test_continue_appends_to_the_same_answer(chat_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    c = chat_app.client("alice")
    scripted_provider.script(openai_stream(["The first ", "half"], finish="length"),
                             openai_stream([" and the rest."]))
    sid, q1 = await new_chat(c, "Tell me")
    first = (await answer(c, sid, q1))["message"]
    assert first["finish_reason"] == "length" and first["total_tokens"] == 9
    r = await c.post("/chat/continue", json={"sessionId": sid, "messageId": first["id"]})
    assert r.status_code == 200 and r.json()["messageId"] == first["id"], r.text
    events = await read_stream(c, {"sessionId": sid, "messageId": q1})
    # A reader from the start gets the text so far first, then the new text: the same answer, grown.
    assert text_of(events) == "The first half and the rest."
    final = events[-1][1]["message"]
    assert final["id"] == first["id"] and final["content"] == "The first half and the rest."
    assert final["finish_reason"] == "stop" and final["total_tokens"] == 9 + 8  # both requests counted
    assert sent(scripted_provider)[-1] == ("assistant", "The first half")  # the model goes on from there
    assert await branch(c, sid) == ["Tell me", "The first half and the rest."]
    again = await c.post("/chat/continue", json={"sessionId": sid, "messageId": first["id"]})
    assert again.status_code == 400 and again.json()["code"] == "cannot_continue"
    question = await c.post("/chat/continue", json={"sessionId": sid, "messageId": q1})
    assert question.status_code == 404
