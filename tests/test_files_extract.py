"""Type detection and text extraction of ordinary files (in this process; the bounded runner is tested
in test_files_runner.py and test_files_hostile.py)."""

from __future__ import annotations

import pytest

from assistant_stream.files import kinds
from assistant_stream.files.extract import Limits, extract
from assistant_stream.files.kinds import Kind, detect
from assistant_stream.files.plaintext import decode
from assistant_stream.files.result import BOMB, DAMAGED, NO_TEXT, UNSUPPORTED, ExtractionError
from assistant_stream.files.sink import SinkFull, TextSink, clean
from tests import docgen


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


def test_decode_handles_boms_and_legacy_encodings() -> None:
    assert decode("é".encode("utf-8-sig")) == "é"
    assert decode("grüße".encode("utf-16")) == "grüße"
    assert decode("café".encode("cp1252")) == "café"
    with pytest.raises(ExtractionError):
        decode(b"abc\x00def")


def test_sink_stops_at_the_limit_and_marks_truncation() -> None:
    sink = TextSink(10)
    sink.add("12345")
    with pytest.raises(SinkFull):
        sink.add("67890abc")
    assert sink.text() == "1234567890"
    assert sink.truncated


def test_clean_removes_controls_and_long_blank_runs() -> None:
    assert clean("a\r\nb\x00c\x07\n\n\n\n\nd") == "a\nbc\n\nd"


def test_pdf_text_in_page_order() -> None:
    data = docgen.pdf([["Invoice 4711", "Total: 99 EUR"], ["Second page (with parentheses)"]])
    result = extract(Kind.PDF, data, Limits())
    assert "Invoice 4711\nTotal: 99 EUR" in result.text
    assert result.text.index("Total") < result.text.index("Second page (with parentheses)")
    assert result.pages == 2 and not result.truncated


def test_pdf_stops_reading_at_the_character_limit() -> None:
    data = docgen.pdf([[f"page {p} line {i} " * 4 for i in range(40)] for p in range(50)])
    result = extract(Kind.PDF, data, Limits(max_chars=2000))
    assert result.truncated and len(result.text) <= 2000
    assert result.pages is not None and result.pages < 5  # did not parse all 50 pages


def test_pdf_without_text_is_reported() -> None:
    with pytest.raises(ExtractionError) as err:
        extract(Kind.PDF, docgen.pdf([""]), Limits())
    assert err.value.code == NO_TEXT


def test_docx_paragraphs_and_tables() -> None:
    table = ('<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Name</w:t></w:r></w:p></w:tc>'
             '<w:tc><w:p><w:r><w:t>Amount</w:t></w:r></w:p></w:tc></w:tr>'
             '<w:tr><w:tc><w:p><w:r><w:t>Coffee</w:t></w:r></w:p></w:tc>'
             '<w:tc><w:p><w:r><w:t>3</w:t></w:r></w:p></w:tc></w:tr></w:tbl>')
    xml = docgen.docx_xml(["Before the table", "After the table"]).replace(
        "<w:p><w:r><w:t xml:space=\"preserve\">After", table + "<w:p><w:r><w:t xml:space=\"preserve\">After")
    result = extract(Kind.DOCX, docgen.docx(document_xml=xml), Limits())
    assert result.text.split("\n\n")[0].startswith("Before the table\nName | Amount\nCoffee | 3")
    assert result.text.endswith("After the table")


def test_odt_paragraphs() -> None:
    result = extract(Kind.ODT, docgen.odt(["Première ligne", "Second line"]), Limits())
    assert "Première ligne" in result.text and "Second line" in result.text


def test_text_truncated_at_limit() -> None:
    result = extract(Kind.TEXT, b"x" * 500, Limits(max_chars=100))
    assert result.text == "x" * 100 and result.truncated


def test_docx_that_is_no_zip_is_damaged() -> None:
    with pytest.raises(ExtractionError) as err:
        extract(Kind.DOCX, b"PK\x03\x04 but nothing else", Limits())
    assert err.value.code == DAMAGED


def test_docx_without_its_main_part_is_damaged() -> None:
    data = docgen.odt(["an ODT posing as DOCX"])
    with pytest.raises(ExtractionError) as err:
        extract(Kind.DOCX, data, Limits())
    assert err.value.code == DAMAGED and "word/document.xml" in err.value.message


def test_unpacked_size_limit_applies_to_honest_packages_too() -> None:
    data = docgen.docx([f"paragraph {i} " * 20 for i in range(2000)])
    with pytest.raises(ExtractionError) as err:
        extract(Kind.DOCX, data, Limits(max_unpacked=100_000))
    assert err.value.code == BOMB
