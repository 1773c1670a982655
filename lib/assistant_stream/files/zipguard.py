"""Checks on a zip package (DOCX, ODT) before any parser inflates it: the zip bomb defence."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable

from .result import BOMB, DAMAGED, ExtractionError

# A text document's XML compresses about 5-20 times; 100 leaves room for very repetitive documents.
MAX_RATIO = 100
RATIO_FLOOR = 1 << 20  # members smaller than this may compress as well as they like


def open_checked(data: bytes, *, what: str, required: Iterable[str], max_total: int,
                 max_members: int = 2000) -> zipfile.ZipFile:
    """The package as a ZipFile, once its declared sizes show it is no bomb (see inflate_all for liars)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise ExtractionError(DAMAGED, f"The {what} is damaged: it is not a readable zip package") from None
    if len(infos) > max_members:
        raise ExtractionError(BOMB, f"The {what} holds {len(infos)} parts; at most {max_members} are allowed")
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ExtractionError(
                BOMB, f"The {what} looks like a zip bomb: a part of {_mb(info.compress_size)} unpacks to "
                      f"{_mb(info.file_size)}")
    if total > max_total:
        raise ExtractionError(BOMB, f"The {what} unpacks to {_mb(total)}, more than the {_mb(max_total)} allowed")
    names = {info.filename for info in infos}
    missing = [name for name in required if name not in names]
    if missing:
        raise ExtractionError(DAMAGED, f"The {what} is damaged: {missing[0]} is missing")
    return archive


def _mb(size: int) -> str:
    return f"{size / (1 << 20):.1f} MB" if size >= 1 << 20 else f"{max(1, size // 1024)} KB"


def inflate_all(archive: zipfile.ZipFile, *, what: str, max_total: int, chunk: int = 1 << 16) -> None:
    """Inflate every member in bounded steps, without keeping the output, stopping at ``max_total`` bytes.

    Declared sizes can lie (tests/docgen.py ``lie_about_sizes``), and ``ZipFile.read`` inflates a member
    in one call whatever it declared: so the real sizes are measured here, before a parser reads the
    package. Also refuses a DTD in an XML part: Word and LibreOffice never write one, and a DTD is what
    entity-expansion and external-entity attacks need.
    """
    total = 0
    for info in archive.infolist():
        try:
            with archive.open(info) as member:
                first = True
                while data := member.read(chunk):
                    total += len(data)
                    if total > max_total:
                        raise ExtractionError(
                            BOMB, f"The {what} looks like a zip bomb: it unpacks to more than {_mb(max_total)}")
                    if first and info.filename.endswith(".xml") and b"<!DOCTYPE" in data[:4096].upper():
                        raise ExtractionError(BOMB, f"The {what} contains an XML document type declaration, "
                                                    "which Word and LibreOffice never write: refused as unsafe")
                    first = False
        except ExtractionError:
            raise
        except zipfile.BadZipFile as exc:
            if "CRC" in str(exc):
                # What a member whose declared size lies looks like: it ends at the declared size.
                raise ExtractionError(DAMAGED, f"The {what} is damaged: a part does not match its declared "
                                               "size and checksum (a disguised zip bomb?)") from None
            raise ExtractionError(DAMAGED, f"The {what} is damaged: a part of it cannot be unpacked") from None
        except (NotImplementedError, ValueError, EOFError, OSError, RuntimeError):
            # Unsupported compression, encryption, truncated data.
            raise ExtractionError(DAMAGED, f"The {what} is damaged: a part of it cannot be unpacked") from None
