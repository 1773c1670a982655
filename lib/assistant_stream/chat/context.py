"""The prompt of an answer: the bounded history, with the files attached to its user messages."""

from __future__ import annotations

from typing import Protocol

from ..core.events import ChatMessage
from ..core.limits import MAX_PROMPT_IMAGES
from ..core.settings import Settings
from ..store.values import Record
from .attachments import image_data_uri
from .prompt import FileContext, build_prompt


class ContextStore(Protocol):
    async def history_messages(self, session_id: int, last_id: int, limit: int) -> list[tuple[int, str, str]]: ...

    async def attachments_for(self, message_ids: list[int]) -> dict[int, list[Record]]: ...

    async def attachment_images(self, attachment_ids: list[int]) -> dict[int, bytes]: ...


async def answer_prompt(storage: ContextStore, session_id: int, human_id: int, settings: Settings,
                        model: str, system_prompt: str | None = None) -> list[ChatMessage]:
    """The branch that ends with the question ``human_id`` (never another version), its files, and the system
    prompt (the conversation's, else the admin's)."""
    rows = await storage.history_messages(session_id, human_id, max(1, settings.history_length))
    attached = await storage.attachments_for([i for i, role, _ in rows if role == "human"])
    return await prompt_of(storage, rows, attached, settings, model, system_prompt)


async def prompt_of(storage: ContextStore, rows: list[tuple[int, str, str]], attached: dict[int, list[Record]],
                    settings: Settings, model: str, system_prompt: str | None = None) -> list[ChatMessage]:
    """The prompt from history rows and their files as already read (store.answers.start_answer reads both
    in the answer's one transaction); image bytes are read only when a vision model gets images."""
    history = [(role, content) for _, role, content in rows]
    if not attached:
        return build_prompt(history, settings, model=model, system_prompt=system_prompt)
    vision = settings.vision(model)
    # Images are re-sent with every answer, so only the newest few: each can be megabytes.
    image_ids: list[int] = []
    if vision:
        for message_id, _role, _content in reversed(rows):
            for row in attached.get(message_id, []):
                if row["kind"] == "image" and len(image_ids) < MAX_PROMPT_IMAGES:
                    image_ids.append(row["id"])
    images = await storage.attachment_images(image_ids)
    files: dict[int, FileContext] = {}
    for index, (message_id, _role, _content) in enumerate(rows):
        items = attached.get(message_id)
        if not items:
            continue
        files[index] = FileContext(
            files=tuple((r["name"], r["text"], bool(r["truncated"])) for r in items if r["kind"] == "text"),
            images=tuple((r["name"], image_data_uri(r["mime"], images[r["id"]]) if r["id"] in images else "")
                         for r in items if r["kind"] == "image"))
    return build_prompt(history, settings, files=files, model=model, system_prompt=system_prompt)
