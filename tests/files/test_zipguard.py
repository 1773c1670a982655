"""The zip bomb defence: declared sizes and ratios, real sizes while inflating, no DTD."""

from __future__ import annotations

import pytest

from assistant_stream.files.extract import Limits, extract
from assistant_stream.files.kinds import Kind
from assistant_stream.files.result import BOMB, DAMAGED, ExtractionError
from assistant_stream.files.zipguard import inflate_all, open_checked
from tests.support import docgen


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


def test_too_many_parts() -> None:
    with pytest.raises(ExtractionError) as err:
        open_checked(docgen.docx(["x"]), what="DOCX document", required=[], max_total=1 << 20, max_members=3)
    assert err.value.code == BOMB and "4 parts" in err.value.message


def test_sizes_that_lie_are_caught_while_inflating() -> None:
    liar = docgen.lie_about_sizes(docgen.docx_zip_bomb(8), "word/document.xml")
    archive = open_checked(liar, what="DOCX document", required=["word/document.xml"], max_total=1 << 20)
    assert archive.getinfo("word/document.xml").file_size == 1000  # passes the declared-size check...
    with pytest.raises(ExtractionError) as err:
        inflate_all(archive, what="DOCX document", max_total=1 << 20)
    assert err.value.code == DAMAGED and "declared size" in err.value.message  # ...not the real one


def test_real_size_over_the_limit_is_a_bomb() -> None:
    archive = open_checked(docgen.docx(["x" * 5000]), what="DOCX document", required=[], max_total=1 << 20)
    with pytest.raises(ExtractionError) as err:
        inflate_all(archive, what="DOCX document", max_total=2000)
    assert err.value.code == BOMB


def test_a_document_type_declaration_is_refused() -> None:
    archive = open_checked(docgen.docx(document_xml=docgen.external_entity_xml()), what="DOCX document",
                           required=[], max_total=1 << 20)
    with pytest.raises(ExtractionError) as err:
        inflate_all(archive, what="DOCX document", max_total=1 << 20)
    assert err.value.code == BOMB and "document type declaration" in err.value.message
