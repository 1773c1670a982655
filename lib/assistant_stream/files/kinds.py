"""Which kind of file this is, from its name and its first bytes, and whether we read it at all."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

from .result import UNSUPPORTED, ExtractionError


class Kind(StrEnum):
    TEXT = "text"
    PDF = "pdf"
    DOCX = "docx"
    ODT = "odt"
    IMAGE = "image"


# Plain text, Markdown, data and source code: read directly.
_TEXT_WORDS = """
txt text md markdown mdown rst adoc asciidoc org tex log csv tsv json jsonl ndjson yaml yml toml ini cfg conf
env properties xml html htm xhtml css scss sass less svg
py pyi js mjs cjs ts tsx jsx vue svelte php rb go rs java kt kts scala swift c h cc cpp cxx hpp hh m mm cs fs
vb lua pl pm r jl dart ex exs erl hrl hs ml mli clj cljs elm nim zig v sql sh bash zsh fish ps1 bat cmd
gradle groovy cmake mk make dockerfile tf hcl proto graphql gql diff patch srt vtt ics vcf bib
"""
TEXT_EXTENSIONS = frozenset(_TEXT_WORDS.split())
TEXT_NAMES = frozenset({"makefile", "dockerfile", "containerfile", "readme", "license", "copying", "authors",
                        "changelog", "todo", "gemfile", "rakefile", "procfile", "vagrantfile", "jenkinsfile"})
IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
               "webp": "image/webp"}
MIME = {Kind.PDF: "application/pdf",
        Kind.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        Kind.ODT: "application/vnd.oasis.opendocument.text"}
_IMAGE_MAGIC = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",),
                "image/gif": (b"GIF87a", b"GIF89a")}
HEAD_BYTES = 8192  # how much of a file detection looks at


@dataclass(frozen=True, slots=True)
class FileType:
    kind: Kind
    mime: str


def extension(name: str) -> str:
    suffix = PurePosixPath(name).suffix
    return suffix[1:].lower() if suffix else ""


def detect(name: str, head: bytes) -> FileType:
    """The type of a file called ``name`` that starts with ``head`` (its first HEAD_BYTES bytes).

    The name says what the user expects; the bytes must agree, so that a renamed executable or a zip
    posing as a PDF is refused before any parser sees it. Raises ExtractionError(UNSUPPORTED).
    """
    ext = extension(name)
    label = f".{ext}" if ext else "without an extension"
    if ext == "pdf":
        # Readers accept the header anywhere in the first KiB (some generators put junk before it).
        if b"%PDF-" not in head[:1024]:
            raise ExtractionError(UNSUPPORTED, f"{name} is not a PDF file (its content does not start like one)")
        return FileType(Kind.PDF, MIME[Kind.PDF])
    if ext in ("docx", "odt"):
        if not head.startswith(b"PK\x03\x04"):
            raise ExtractionError(UNSUPPORTED, f"{name} is not a .{ext} document (it is not a zip package)")
        kind = Kind.DOCX if ext == "docx" else Kind.ODT
        return FileType(kind, MIME[kind])
    if ext in IMAGE_TYPES:
        mime = IMAGE_TYPES[ext]
        magics = _IMAGE_MAGIC.get(mime)
        ok = (head[:4] == b"RIFF" and head[8:12] == b"WEBP") if mime == "image/webp" else \
            any(head.startswith(m) for m in magics or ())
        if not ok:
            raise ExtractionError(UNSUPPORTED, f"{name} is not a valid {ext.upper()} image")
        return FileType(Kind.IMAGE, mime)
    if ext in ("doc", "xls", "xlsx", "ppt", "pptx", "odp", "ods", "rtf", "pages", "epub"):
        raise ExtractionError(UNSUPPORTED, f"{label} files cannot be read yet: save it as PDF, DOCX, ODT or text")
    known_text = ext in TEXT_EXTENSIONS or PurePosixPath(name).name.lower() in TEXT_NAMES
    if known_text or looks_like_text(head):
        if not looks_like_text(head):
            raise ExtractionError(UNSUPPORTED, f"{name} does not contain text (it looks like a binary file)")
        return FileType(Kind.TEXT, "text/plain")
    raise ExtractionError(UNSUPPORTED, f"Files {label} are not supported: attach text, Markdown, CSV, JSON, "
                                       "source code, PDF, DOCX, ODT or an image")


def looks_like_text(head: bytes) -> bool:
    """No NUL byte (UTF-16 with a BOM excepted) and mostly printable: what editors call a text file."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    if b"\x00" in head:
        return False
    if not head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls <= len(head) // 100
