"""Exports of a conversation's active branch: Markdown for people, JSON for programs; downloaded or saved to Files."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, Literal

from ..core.error_render import public_message
from ..core.errors import NotConfigured, from_code
from ..nextcloud.server import NextcloudServer
from ..store.storage import Storage
from ..store.values import Record

Format = Literal["markdown", "json"]
FORMATS: dict[str, tuple[str, str]] = {  # format -> (file extension, media type)
    "markdown": ("md", "text/markdown; charset=utf-8"),
    "json": ("json", "application/json"),
}
FOLDER = "Chat exports"  # in the user's Files
JSON_FORMAT = "assistant_stream.conversation"
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
_NOTES = {"cancelled": "stopped", "interrupted": "interrupted"}


@dataclass(frozen=True, slots=True)
class ExportFile:
    name: str
    media_type: str
    content: bytes


def _utc(ts: int | None, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    return time.strftime(fmt, time.gmtime(ts or 0))


def filename(title: str | None, ext: str, when: int) -> str:
    """A file name from the title that every file system accepts, with the export's time."""
    safe = " ".join(_UNSAFE.sub(" ", title or "").split())[:100].strip(" .") or "Conversation"
    return f"{safe} {_utc(when, '%Y-%m-%d %H-%M')}.{ext}"


def markdown(session: Record, branch: list[Record], when: int) -> str:
    title = session["title"] or "Conversation"
    out = [f"# {title}", "", f"*Exported from Assistant Stream on {_utc(when)}: the versions shown in the chat.*", ""]
    for m in branch:
        if m["role"] == "human":
            head = "You"
        elif m["role"] == "assistant":
            head = f"Assistant ({m['model']})" if m["model"] else "Assistant"
        else:
            head = "System"
        out += ["---", "", f"### {head} · {_utc(m['timestamp'])}", "", m["content"].rstrip(), ""]
        note = _note(m)
        if note:
            out += [f"*{note}*", ""]
    return "\n".join(out).rstrip() + "\n"


def told(m: Record) -> str:
    """A failed answer's error as every user is told it: the provider's own words are an administrator's detail."""
    return public_message(from_code(m["error_code"], m["error"]))


def _note(m: Record) -> str:
    if m["status"] == "error":
        return f"The answer failed: {told(m)}"
    if m["status"] in _NOTES:
        return f"The answer was {_NOTES[m['status']]}."
    if m["finish_reason"] == "length":
        return "The answer was cut off at the length limit."
    return ""


def as_json(session: Record, options: Record, branch: list[Record], when: int) -> str:
    doc: dict[str, Any] = {
        "format": JSON_FORMAT, "version": 1, "exported_at": _utc(when, "%Y-%m-%dT%H:%M:%SZ"),
        "session": {"id": session["id"], "title": session["title"], "timestamp": session["timestamp"],
                    "options": options},
        "messages": [{
            "id": m["id"], "parent_id": m["parent_id"], "role": m["role"], "content": m["content"],
            "reasoning": m["reasoning"], "status": m["status"], "error": told(m) if m["error"] is not None else None,
            "finish_reason": m["finish_reason"], "model": m["model"], "connection": m["connection"],
            "timestamp": m["timestamp"], "versions": len(m["sibling_ids"]),
            "usage": {k: m[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")}}
            for m in branch],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


class Exports:
    def __init__(self, storage: Storage, nextcloud: NextcloudServer | None) -> None:
        self._storage = storage
        self._nextcloud = nextcloud

    async def build(self, user: str, session_id: int, fmt: Format) -> ExportFile:
        """The active branch of a conversation as a file."""
        session = await self._storage.get_session(user, session_id)
        branch = [m for m in await self._storage.branch(user, session_id) if m["status"] != "generating"]
        when = int(time.time())
        ext, media = FORMATS[fmt]
        if fmt == "json":
            text = as_json(session, await self._storage.session_options(user, session_id), branch, when)
        else:
            text = markdown(session, branch, when)
        return ExportFile(filename(session["title"], ext, when), media, text.encode())

    async def save_to_files(self, user: str, session_id: int, fmt: Format) -> dict[str, Any]:
        """The export written into the user's Files, as that user: its path and file id (for a link)."""
        if self._nextcloud is None:
            raise NotConfigured("Saving to Files needs Nextcloud (this is the local single-user mode): download the "
                                "export instead")
        file = await self.build(user, session_id, fmt)
        saved = await self._nextcloud.exports.save(user, FOLDER, file.name, file.content)
        return {"path": saved.path, "fileId": saved.file_id, "name": saved.path.rsplit("/", 1)[-1]}
