"""A user's files over WebDAV, read AS that user: size checked before the first byte, download bounded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import quote

from nc_py_api import AsyncNextcloudApp

from ..core import errors
from ..core.limits import MAX_FILE_PATH
from .client import NextcloudClient

_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class RemoteFile:
    path: str  # relative to the user's root, "/Documents/report.pdf"
    name: str
    file_id: int | None
    size: int
    mime: str
    data: bytes


def clean_path(path: object) -> str:
    """A path inside the user's own files, normalised; InvalidParameter for anything that could leave it.

    The path is always resolved under ``/remote.php/dav/files/<calling user>/``, and Nextcloud itself checks
    the user's rights; refusing ``..`` here also keeps a crafted path from naming another DAV root.
    """
    if not isinstance(path, str) or not path.strip():
        raise errors.MissingParameter("path is required")
    if len(path) > MAX_FILE_PATH or any(ord(c) < 32 or c in "\\\x7f" for c in path):
        raise errors.InvalidParameter("path is not a valid file path")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise errors.InvalidParameter("path must name a file in your own files (no '..')")
    if not parts:
        raise errors.InvalidParameter("path must name a file, not your whole Files folder")
    return "/" + "/".join(parts)


def _mb(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size} bytes"


class UserFiles:
    """Reads files through nc_py_api's WebDAV session of the calling user (never the app's own)."""

    def __init__(self, client: NextcloudClient) -> None:
        self._client = client

    async def read(self, user: str, path: str, *, max_bytes: int) -> RemoteFile:
        """The file at ``path`` of ``user``. NotFound when it does not exist for this user (another user's
        file included), FileTooLarge when Nextcloud reports more than ``max_bytes`` (nothing is downloaded)."""
        path = clean_path(path)
        nc = await self._client.as_user(user)
        try:
            node = await self._client.call("read file info", nc.files.by_path(path))
        except errors.NextcloudError as exc:
            if exc.nc_status in (403, 404):
                raise errors.NotFound(f"{PurePosixPath(path).name} does not exist in your files "
                                          "or you cannot read it") from None
            raise
        name = PurePosixPath(path).name
        if node is None:
            raise errors.NotFound(f"{name} does not exist in your files or you cannot read it")
        if node.is_dir:
            raise errors.InvalidParameter(f"{name} is a folder: attach the files in it one by one")
        size = int(node.info.size or 0)
        if size > max_bytes:
            raise errors.FileTooLarge(f"{name} is {_mb(size)}; files up to {_mb(max_bytes)} can be attached")
        data = await self._client.call("download file", self._download(nc, user, path, max_bytes))
        file_id = int(node.info.fileid) if node.info.fileid else None
        return RemoteFile(path, name, file_id, len(data), node.info.mimetype or "", data)

    async def _download(self, nc: AsyncNextcloudApp, user: str, path: str, max_bytes: int) -> bytes:
        # nc.files.download() reads the whole body whatever its size and download2stream() leaves the
        # response open when the writer stops it: so the bounded read is done here, on nc_py_api's own
        # WebDAV session (the one that signs requests as this user).
        session = nc._session.adapter_dav
        response = await session.get(quote(f"/files/{user}{path}"), stream=True)
        try:
            if response.status_code in (403, 404):
                raise errors.NotFound(f"{PurePosixPath(path).name} does not exist in your files "
                                          "or you cannot read it")
            if response.status_code >= 400:
                raise errors.NextcloudError(f"Nextcloud answered {response.status_code} (download file)",
                                            nc_status=response.status_code)
            chunks: list[bytes] = []
            size = 0
            # iter_content, not iter_raw: nginx may gzip the body, and the limit is on the file's own bytes.
            async for chunk in await response.iter_content(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    # The file grew since its size was read (or the server lies): stop reading.
                    raise errors.FileTooLarge(f"{PurePosixPath(path).name} is larger than the "
                                              f"{_mb(max_bytes)} that can be attached")
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            await response.close()
