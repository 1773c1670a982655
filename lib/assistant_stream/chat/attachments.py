"""Attaching files: read (from Nextcloud as the user, or uploaded), checked, turned into text, stored."""

from __future__ import annotations

import base64
import logging
from typing import Any, Protocol

from ..core import errors
from ..core.config_store import ConfigStore
from ..core.settings import Settings
from ..files.extract import Limits
from ..files.kinds import HEAD_BYTES, Kind, detect
from ..files.result import BUSY, TOO_LARGE, UNSUPPORTED, ExtractionError
from ..files.runner import Extractor
from ..store.attachments import chip

log = logging.getLogger(__name__)


class FileReader(Protocol):
    """nextcloud.files.UserFiles: reads a file of the user, as the user."""

    async def read(self, user: str, path: str, *, max_bytes: int) -> Any: ...


def rejected(exc: ExtractionError) -> errors.AppError:
    """The app error for an extraction failure (the message says which: damaged, encrypted, a bomb...)."""
    if exc.code == UNSUPPORTED:
        return errors.FileTypeUnsupported(exc.message)
    if exc.code == TOO_LARGE:
        return errors.FileTooLarge(exc.message)
    if exc.code == BUSY:
        return errors.RateLimited(exc.message, retry_after=5)
    return errors.FileRejected(exc.message)


def image_data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


class AttachmentService:
    def __init__(self, *, storage: Any, config: ConfigStore, extractor: Extractor, files: FileReader | None) -> None:
        self._storage = storage
        self._config = config
        self._extractor = extractor
        self._files = files

    async def from_files(self, user: str, session_id: int, path: str) -> dict[str, object]:
        """Attach a file of the user's Nextcloud; read through WebDAV as the user (never as the app)."""
        if self._files is None:
            raise errors.InvalidInput("Files from Nextcloud can only be attached when the app runs in Nextcloud")
        await self._storage.get_session(user, session_id)  # 404 before any file is read
        settings = await self._config.get()
        remote = await self._files.read(user, path, max_bytes=self.upload_limit(settings))
        return await self._ingest(user, session_id, settings, name=remote.name, data=remote.data, source="files",
                                  file_id=remote.file_id, path=remote.path)

    async def from_upload(self, user: str, session_id: int, name: str, data: bytes) -> dict[str, object]:
        await self._storage.get_session(user, session_id)
        settings = await self._config.get()
        return await self._ingest(user, session_id, settings, name=name, data=data, source="upload")

    async def remove(self, user: str, attachment_id: int) -> None:
        await self._storage.delete_attachment(user, attachment_id)

    def upload_limit(self, settings: Settings) -> int:
        # Images have their own (smaller) limit, checked once the type is known; this bounds the read.
        return max(settings.attachment_max_bytes, settings.attachment_max_image_bytes)

    async def _ingest(self, user: str, session_id: int, settings: Settings, *, name: str, data: bytes, source: str,
                      file_id: int | None = None, path: str | None = None) -> dict[str, object]:
        try:
            kind = detect(name, data[:HEAD_BYTES])
        except ExtractionError as exc:
            raise rejected(exc) from None
        common: dict[str, Any] = {"source": source, "name": name, "mime": kind.mime, "size": len(data),
                                  "file_id": file_id, "path": path}
        if kind.kind is Kind.IMAGE:
            check_vision(settings, settings.streaming_model, name)
            if len(data) > settings.attachment_max_image_bytes:
                raise errors.FileTooLarge(f"{name} is {_size(len(data))}; images up to "
                                          f"{_size(settings.attachment_max_image_bytes)} can be attached")
            row = await self._storage.add_attachment(user, session_id, kind="image", data=data, **common)
            return chip(row)
        if len(data) > settings.attachment_max_bytes:
            raise errors.FileTooLarge(f"{name} is {_size(len(data))}; files up to "
                                      f"{_size(settings.attachment_max_bytes)} can be attached")
        try:
            extracted = await self._extractor.extract(kind.kind, data,
                                                      Limits(max_chars=settings.attachment_max_chars))
        except ExtractionError as exc:
            # The reason, never the content: extracted text is not logged, and neither is the file name.
            log.info("An attached %s file was refused: %s", kind.kind, exc.code)
            raise rejected(exc) from None
        row = await self._storage.add_attachment(user, session_id, kind="text", text=extracted.text,
                                                 truncated=extracted.truncated, **common)
        return chip(row)


def check_vision(settings: Settings, model: str, name: str) -> None:
    if not settings.vision(model):
        raise errors.VisionUnsupported(
            f"{name} is an image, and the model {model} is not marked as able to see images. Ask your "
            "administrator to add it to vision_models, or attach the text instead.")



def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB" if n >= 1e3 else f"{n} bytes"
