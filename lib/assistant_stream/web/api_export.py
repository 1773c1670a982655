"""Export of a conversation's active branch: download it, or save it to the user's Files."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from starlette.responses import Response

from ..chat.export import FORMATS
from ..core.errors import InvalidParameter
from .endpoint import Call, route
from .params import P, session_id

router = APIRouter()

FORMAT = P("format", "str", required=False, default="markdown", max_len=16,
           description="markdown or json")


def _format(call: Call) -> Any:
    fmt = call.params["format"]
    if fmt not in FORMATS:
        raise InvalidParameter("Parameter format must be markdown or json")
    return fmt


@route(router, "GET", "/chat/export", [session_id(), FORMAT], cache="no-store",
       ok={"type": "string"}, ok_media="text/markdown")
async def export(call: Call) -> Any:
    """The active branch as a file (Content-Disposition: attachment)."""
    file = await call.chat.exports.build(call.user, call.params["sessionId"], _format(call))
    ascii_name = file.name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return Response(file.content, media_type=file.media_type, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file.name)}"})


@route(router, "POST", "/chat/export_to_files", [session_id(), FORMAT], extra_status=(502,), ok={
    "type": "object", "required": ["path", "fileId", "name"],
    "properties": {"path": {"type": "string"}, "fileId": {"type": ["integer", "null"]}, "name": {"type": "string"}}})
async def export_to_files(call: Call) -> Any:
    """Save the export into the user's Files (folder "Chat exports"), as the user; link it with /f/<fileId>."""
    return await call.chat.exports.save_to_files(call.user, call.params["sessionId"], _format(call))
