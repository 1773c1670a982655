"""Saving a file into a user's Files over WebDAV, AS that user (exports of conversations)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from nc_py_api import AsyncNextcloudApp

from ..core import errors
from .client import NextcloudClient

MAX_NAME_TRIES = 20  # "name (2).md" ... before giving up on finding a free name


@dataclass(frozen=True, slots=True)
class SavedFile:
    path: str  # in the user's files, "/Chat exports/Title 2026-12-01.md"
    file_id: int | None


def numeric_id(oc_file_id: str | None) -> int | None:
    """The file id of a link (/f/<id>) from WebDAV's OC-FileId, "<zero-padded id><instance id>" (measured: a
    PUT's answer carries only this one; nc_py_api's info.fileid stays 0)."""
    match = re.match(r"\d+", oc_file_id or "")
    return int(match.group()) if match and int(match.group()) > 0 else None


def candidates(folder: str, name: str) -> Iterator[str]:
    """The paths an export may take, in order: "folder/name.md", then "folder/name (2).md" and so on."""
    stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix
    for n in range(1, MAX_NAME_TRIES + 1):
        yield f"/{folder}/{stem}{f' ({n})' if n > 1 else ''}{suffix}"


class UserExports:
    def __init__(self, client: NextcloudClient) -> None:
        self._client = client

    async def save(self, user: str, folder: str, name: str, content: bytes) -> SavedFile:
        """Write ``content`` as ``folder/name`` in ``user``'s files (the folder created if need be), never over an
        existing file: "name (2).ext" and so on. Nextcloud checks the user's rights and quota itself."""
        nc = await self._client.as_user(user)
        call = self._client.call
        await call("create the export folder", nc.files.makedirs(folder, exist_ok=True))
        for path in candidates(folder, name):
            if await self._exists(nc, path):
                continue
            node = await call("save the export", nc.files.upload(path, content))
            return SavedFile(path, numeric_id(node.file_id))
        raise errors.InvalidInput(f"{folder} already holds {MAX_NAME_TRIES} exports named {name}: rename some")

    async def _exists(self, nc: AsyncNextcloudApp, path: str) -> bool:
        try:
            return await self._client.call("look for the export file", nc.files.by_path(path)) is not None
        except errors.NextcloudError as exc:
            if exc.nc_status == 404:
                return False
            raise
