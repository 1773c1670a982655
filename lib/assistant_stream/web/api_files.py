"""/chat/* routes for attachments and "Ask my documents": attach from Files, upload, remove, the switch."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from fastapi import APIRouter
from starlette.requests import ClientDisconnect

from ..core.errors import FileTooLarge, InvalidInput, InvalidParameter
from ..core.limits import MAX_FILE_NAME, MAX_FILE_PATH, MAX_ID
from . import schemas as sc
from .endpoint import Call, route
from .params import P, session_id

router = APIRouter()

_UPLOAD_CHUNK = 64 * 1024


@route(router, "POST", "/chat/attach_file", [session_id(), P("path", "str", max_len=MAX_FILE_PATH,
                                                             description="Path in the user's files, as the "
                                                                         "Files picker gives it")],
       extra_status=(413, 415, 422, 429, 502), ok=sc.ATTACHMENT_SCHEMA)
async def attach_file(call: Call) -> Any:
    """Read a file of the calling user from Nextcloud (WebDAV, as that user) and extract its text."""
    return await call.chat.attach_file(call.user, call.params["sessionId"], call.params["path"])


@route(router, "POST", "/chat/upload_file", [session_id(), P("name", "str", max_len=MAX_FILE_NAME,
                                                             description="The file's name (its extension "
                                                                         "and content decide its type)")],
       extra_status=(413, 415, 422, 429), ok=sc.ATTACHMENT_SCHEMA)
async def upload_file(call: Call) -> Any:
    """A file from the user's device: the request body is the file itself (parameters in the query)."""
    name = PurePosixPath(call.params["name"].replace("\\", "/")).name
    if not name:
        raise InvalidParameter("name must be a file name")
    data = await _read_body(call, await call.chat.upload_limit())
    return await call.chat.upload_file(call.user, call.params["sessionId"], name, data)


async def _read_body(call: Call, limit: int) -> bytes:
    """The body, refused as soon as it is over ``limit``: by its Content-Length before reading, else while read."""
    if "json" in call.request.headers.get("content-type", ""):
        # A JSON body is read as parameters (web/params.py), like every route's: it cannot be the file too.
        raise InvalidInput("Send the file itself as the request body (Content-Type: application/octet-stream), "
                           "with sessionId and name in the query")
    length = call.request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > limit:
        raise FileTooLarge(f"The file is {int(length) / 1e6:.1f} MB; files up to {limit / 1e6:.1f} MB can be attached")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in call.request.stream():  # one that stops arriving is cut off by web/protocol.py
            size += len(chunk)
            if size > limit:
                raise FileTooLarge(f"The file is larger than the {limit / 1e6:.1f} MB that can be attached")
            chunks.append(chunk)
    except ClientDisconnect:
        raise InvalidInput("The upload was cut off") from None  # nobody is left to answer
    return b"".join(chunks)


@route(router, "DELETE", "/chat/delete_attachment", [P("attachmentId", maximum=MAX_ID)], ok=sc.EMPTY_SCHEMA)
async def delete_attachment(call: Call) -> Any:
    """Remove a file attached to a message not sent yet."""
    await call.chat.remove_attachment(call.user, call.params["attachmentId"])
    return {}


@route(router, "GET", "/chat/documents", ok={
    "type": "object", "required": ["available", "reason"],
    "properties": {"available": {"type": "boolean"}, "reason": {"type": "string"}}})
async def documents(call: Call) -> Any:
    """Whether "Ask my documents" (Nextcloud's context_chat) can be used, and if not, why."""
    state = await call.chat.documents(call.user)
    return {"available": state.available, "reason": state.reason}
