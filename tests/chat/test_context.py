"""answer_prompt (chat/context.py): the stored history with its attached files, as the model is sent it."""

from __future__ import annotations

import base64

from assistant_stream.chat.context import answer_prompt
from assistant_stream.core.limits import MAX_PROMPT_IMAGES
from assistant_stream.core.settings import build_settings
from assistant_stream.store.storage import Storage
from tests.support import docgen
from tests.support.storage import A


async def ask(storage: Storage, sid: int, text: str, *files: tuple[str, str, bytes | None]) -> int:
    ids = []
    for name, kind, data in files:
        row = await storage.add_attachment(A, sid, source="upload", name=name, kind=kind, size=3,
                                           mime="image/png" if kind == "image" else "text/plain",
                                           text="" if kind == "image" else f"text of {name}", data=data)
        ids.append(row["id"])
    return (await storage.add_message(A, sid, "human", text, attachment_ids=ids))["id"]


async def test_files_of_earlier_questions_stay_in_later_turns(storage: Storage) -> None:
    sid = (await storage.create_session(A, None, None))["id"]
    await ask(storage, sid, "Read this", ("a.md", "text", None))
    await storage.add_message(A, sid, "assistant", "Done.")
    last = await ask(storage, sid, "And now?")
    prompt = await answer_prompt(storage, sid, last, build_settings({"SYSTEM_PROMPT": ""}, {}), "m")
    assert [m.role for m in prompt] == ["user", "assistant", "user"]
    assert prompt[0].content == '<file name="a.md">\ntext of a.md\n</file>\n\nRead this'
    assert prompt[2].content == "And now?"


async def test_only_the_newest_images_are_sent_again(storage: Storage) -> None:
    sid = (await storage.create_session(A, None, None))["id"]
    png = docgen.png()
    last = 0
    for i in range(MAX_PROMPT_IMAGES + 1):
        last = await ask(storage, sid, f"q{i}", (f"i{i}.png", "image", png))
        await storage.add_message(A, sid, "assistant", f"a{i}")
    settings = build_settings({"SYSTEM_PROMPT": "", "VISION_MODELS": "vision"}, {})
    prompt = await answer_prompt(storage, sid, last, settings, "vision")
    users = [m for m in prompt if m.role == "user"]
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    assert [len(m.images) for m in users] == [0] + [1] * MAX_PROMPT_IMAGES
    assert users[-1].images == (uri,)
    assert "[Earlier images not sent again: i0.png]" in users[0].content
    plain = await answer_prompt(storage, sid, last, settings, "text-only")
    assert all(not m.images for m in plain) and "cannot see images: i4.png" in plain[-1].content
