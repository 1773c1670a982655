"""AttachmentService (chat/attachments.py): files from Nextcloud or uploaded, checked, extracted, stored."""

from __future__ import annotations

import pytest

from assistant_stream.chat.attachments import AttachmentService
from assistant_stream.core import errors
from assistant_stream.core.config_store import ConfigStore
from assistant_stream.files.runner import Extractor
from assistant_stream.nextcloud.files import RemoteFile
from assistant_stream.store.storage import Storage
from tests.support import docgen
from tests.support.storage import A


class Files:
    """Stands in for nextcloud.files.UserFiles (tested against the real Nextcloud): records what it is asked."""

    def __init__(self, data: bytes, name: str = "report.pdf") -> None:
        self.data, self.name, self.asked = data, name, []

    async def read(self, user: str, path: str, *, max_bytes: int) -> RemoteFile:
        self.asked.append((user, path, max_bytes))
        return RemoteFile(path, self.name, 42, len(self.data), "application/pdf", self.data)


def service(storage: Storage, files: Files | None = None, **env: str) -> AttachmentService:
    return AttachmentService(storage=storage, config=ConfigStore(None, environ=env), extractor=Extractor(),
                             files=files)


async def test_a_file_from_nextcloud_is_read_as_the_user_within_the_limit(storage: Storage) -> None:
    sid = (await storage.create_session(A, None, None))["id"]
    files = Files(docgen.pdf(["Quarterly numbers"]))
    chip = await service(storage, files, ATTACHMENT_MAX_BYTES="3000000").from_files(A, sid, "/Docs/report.pdf")
    assert files.asked == [(A, "/Docs/report.pdf", 4 << 20)]  # the larger of the document and image limits
    assert (chip["source"], chip["fileId"], chip["name"], chip["kind"]) == ("files", 42, "report.pdf", "text")


async def test_without_nextcloud_only_uploads(storage: Storage) -> None:
    sid = (await storage.create_session(A, None, None))["id"]
    with pytest.raises(errors.InvalidInput):
        await service(storage).from_files(A, sid, "/x.pdf")
    chip = await service(storage).from_upload(A, sid, "notes.md", b"# Notes")
    assert chip["source"] == "upload" and chip["chars"] == 7


async def test_extraction_failures_become_the_apps_errors(storage: Storage) -> None:
    sid = (await storage.create_session(A, None, None))["id"]
    s = service(storage)
    with pytest.raises(errors.FileRejected) as err:
        await s.from_upload(A, sid, "bomb.docx", docgen.docx_zip_bomb(64))
    assert err.value.status == 422 and "zip bomb" in err.value.message
    with pytest.raises(errors.FileTypeUnsupported) as unsupported:
        await s.from_upload(A, sid, "app.exe", b"MZ\x90\x00")
    assert unsupported.value.status == 415


async def test_limits_for_documents_and_images(storage: Storage) -> None:
    sid = (await storage.create_session(A, None, None))["id"]
    s = service(storage, ATTACHMENT_MAX_BYTES="100", ATTACHMENT_MAX_IMAGE_BYTES="150", VISION_MODELS="*")
    with pytest.raises(errors.FileTooLarge):
        await s.from_upload(A, sid, "big.txt", b"x" * 101)
    with pytest.raises(errors.FileTooLarge):
        await s.from_upload(A, sid, "big.png", docgen.png(200, 200))
    assert (await s.from_upload(A, sid, "small.png", docgen.png(1, 1)))["kind"] == "image"


async def test_images_only_for_a_vision_model(storage: Storage) -> None:
    sid = (await storage.create_session(A, None, None))["id"]
    with pytest.raises(errors.VisionUnsupported) as err:
        await service(storage, STREAMING_MODEL="text-only").from_upload(A, sid, "cat.png", docgen.png())
    assert "text-only" in err.value.message and "vision_models" in err.value.message
