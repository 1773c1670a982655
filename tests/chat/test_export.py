"""Exports (chat/export.py): the active branch as Markdown and JSON, a safe file name, Files only with Nextcloud."""

from __future__ import annotations

import json

import pytest

from assistant_stream.chat.export import JSON_FORMAT, Exports, filename
from assistant_stream.core.errors import NotConfigured, NotFound
from assistant_stream.store.storage import Storage
from tests.support.storage import A, B

WHEN = 1_767_225_600  # 2026-01-01 00:00 UTC


async def conversation(storage: Storage) -> int:
    sid = (await storage.create_session(A, "Trip: Paris/Lyon?", 1))["id"]
    q = (await storage.add_message(A, sid, "human", "Where to?", WHEN))["id"]
    old = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=q, model="gpt-4o")
    await storage.finish_message(old["id"], status="done", content="An old version", reasoning="")
    new = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=q, model="llama",
                                    connection="lab", parent=q)
    await storage.finish_message(new["id"], status="done", content="**Lyon**, then Paris.", reasoning="hmm",
                                 finish_reason="length", prompt_tokens=3, completion_tokens=4, total_tokens=7)
    await storage.add_message(A, sid, "human", "Thanks")
    await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=q)  # still running: left out
    return sid


async def test_markdown_and_json_hold_the_branch_shown(storage: Storage) -> None:
    exports = Exports(storage, None)
    sid = await conversation(storage)
    md = await exports.build(A, sid, "markdown")
    text = md.content.decode()
    assert md.media_type.startswith("text/markdown") and md.name.startswith("Trip Paris Lyon ") and md.name.endswith(
        ".md")
    assert text.startswith("# Trip: Paris/Lyon?\n")
    assert "### You" in text and "### Assistant (llama)" in text and "**Lyon**, then Paris." in text
    assert "cut off at the length limit" in text and "An old version" not in text and "hmm" not in text
    doc = json.loads((await exports.build(A, sid, "json")).content)
    assert doc["format"] == JSON_FORMAT and doc["session"]["title"] == "Trip: Paris/Lyon?"
    assert [(m["role"], m["content"]) for m in doc["messages"]] == [
        ("human", "Where to?"), ("assistant", "**Lyon**, then Paris."), ("human", "Thanks")]
    answer = doc["messages"][1]
    assert (answer["model"], answer["connection"], answer["versions"], answer["reasoning"]) == ("llama", "lab", 2,
                                                                                                "hmm")
    assert answer["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    with pytest.raises(NotFound):
        await exports.build(B, sid, "json")
    with pytest.raises(NotConfigured, match="needs Nextcloud"):
        await exports.save_to_files(A, sid, "json")


def test_file_names_are_safe_everywhere() -> None:
    assert filename('a/b\\c:d*e?f"g<h>i|j\x00k', "md", WHEN) == "a b c d e f g h i j k 2026-01-01 00-00.md"
    assert filename(None, "json", WHEN) == "Conversation 2026-01-01 00-00.json"
    assert filename(" .. ", "md", WHEN).startswith("Conversation ")
    assert len(filename("x" * 500, "md", WHEN)) < 130


async def test_a_failed_answer_is_exported_in_the_words_every_user_is_told(storage: Storage) -> None:
    sid = (await storage.create_session(A, None, 1))["id"]
    q = (await storage.add_message(A, sid, "human", "Hi?", WHEN))["id"]
    a = await storage.add_message(A, sid, "assistant", "", status="generating", reply_to=q)
    await storage.finish_message(a["id"], status="error", content="", reasoning="", error_code="provider_unavailable",
                                 error="http://10.0.0.5:8000/v1 answered HTTP 503: upstream overloaded")
    exports = Exports(storage, None)
    for fmt in ("markdown", "json"):
        text = (await exports.build(A, sid, fmt)).content.decode()
        assert "10.0.0.5" not in text and "overloaded" not in text  # the provider's words: an admin's detail
    doc = json.loads((await exports.build(A, sid, "json")).content)
    assert doc["messages"][1]["error"] and doc["messages"][1]["status"] == "error"
