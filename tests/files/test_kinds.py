"""Type detection: the name and the first bytes must agree."""

from __future__ import annotations

import pytest

from assistant_stream.files import kinds
from assistant_stream.files.kinds import Kind, detect
from assistant_stream.files.result import UNSUPPORTED, ExtractionError
from tests.support import docgen


@pytest.mark.parametrize(("name", "data", "kind"), [
    ("notes.txt", b"hello", Kind.TEXT),
    ("README.md", b"# title", Kind.TEXT),
    ("data.csv", b"a,b\n1,2", Kind.TEXT),
    ("x.json", b'{"a": 1}', Kind.TEXT),
    ("main.rs", b"fn main() {}", Kind.TEXT),
    ("Makefile", b"all:\n\techo", Kind.TEXT),
    ("unknown.weird", b"plain words only", Kind.TEXT),
    ("report.PDF", docgen.pdf(["x"]), Kind.PDF),
    ("letter.docx", docgen.docx(["x"]), Kind.DOCX),
    ("letter.odt", docgen.odt(["x"]), Kind.ODT),
    ("photo.png", docgen.png(), Kind.IMAGE),
    ("photo.JPG", b"\xff\xd8\xff\xe0rest", Kind.IMAGE),
])
def test_detect_accepts_what_name_and_content_agree_on(name: str, data: bytes, kind: Kind) -> None:
    assert detect(name, data[:kinds.HEAD_BYTES]).kind is kind


@pytest.mark.parametrize(("name", "data", "says"), [
    ("fake.pdf", b"PK\x03\x04 a zip", "not a PDF"),
    ("fake.docx", b"%PDF-1.7", "not a .docx"),
    ("fake.png", b"GIF89a....", "not a valid PNG"),
    ("program.exe", b"MZ\x90\x00\x03\x00\x00\x00", "not supported"),
    ("binary.txt", b"\x00\x01\x02\x03ELF", "binary"),
    ("sheet.xlsx", b"PK\x03\x04", "cannot be read yet"),
])


def test_detect_refuses_mismatches_and_unknown_types(name: str, data: bytes, says: str) -> None:
    with pytest.raises(ExtractionError) as err:
        detect(name, data)
    assert err.value.code == UNSUPPORTED
    assert says in err.value.message


def test_binary_file_named_txt() -> None:
    with pytest.raises(ExtractionError) as err:
        detect("notes.txt", b"\x7fELF\x02\x01\x01\x00\x00\x00")
    assert "binary" in err.value.message
