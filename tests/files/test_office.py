"""DOCX (python-docx) and ODT (odfdo); hostile packages through the bounded runner."""

from __future__ import annotations

import pytest

from assistant_stream.files.extract import Limits, extract
from assistant_stream.files.kinds import Kind
from assistant_stream.files.result import BOMB, DAMAGED, TOO_COMPLEX, ExtractionError
from assistant_stream.files.runner import Extractor
from tests.support import docgen
from tests.support.hostile import bomb, refused

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def extractor() -> Extractor:
    return Extractor()

def test_docx_paragraphs_and_tables() -> None:
    table = ('<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Name</w:t></w:r></w:p></w:tc>'
             '<w:tc><w:p><w:r><w:t>Amount</w:t></w:r></w:p></w:tc></w:tr>'
             '<w:tr><w:tc><w:p><w:r><w:t>Coffee</w:t></w:r></w:p></w:tc>'
             '<w:tc><w:p><w:r><w:t>3</w:t></w:r></w:p></w:tc></w:tr></w:tbl>')
    xml = docgen.docx_xml(["Before the table", "After the table"]).replace(
        "<w:p><w:r><w:t xml:space=\"preserve\">After", table + "<w:p><w:r><w:t xml:space=\"preserve\">After")
    result = extract(Kind.DOCX, docgen.docx(document_xml=xml), Limits())
    assert result.text.startswith("Before the table\nName | Amount\nCoffee | 3\n")
    assert result.text.endswith("After the table")


def test_odt_paragraphs() -> None:
    result = extract(Kind.ODT, docgen.odt(["Première ligne", "Second line"]), Limits())
    assert "Première ligne" in result.text and "Second line" in result.text


def test_docx_that_is_no_zip_is_damaged() -> None:
    with pytest.raises(ExtractionError) as err:
        extract(Kind.DOCX, b"PK\x03\x04 but nothing else", Limits())
    assert err.value.code == DAMAGED


async def test_zip_bomb_disguised_as_docx(extractor: Extractor) -> None:
    err = await refused(extractor, "quarterly.docx", bomb("docx"))
    assert err.code == BOMB and "zip bomb" in err.message and "1024.0 MB" in err.message


async def test_zip_bomb_whose_headers_lie_about_its_size(extractor: Extractor) -> None:
    # Declared 1000 bytes, inflates to 256 MiB: passes the size check, caught while inflating.
    err = await refused(extractor, "small.docx", bomb("liar"))
    assert err.code == DAMAGED and "declared size" in err.message


async def test_odt_bomb(extractor: Extractor) -> None:
    err = await refused(extractor, "minutes.odt", bomb("odt"))
    assert err.code == BOMB


async def test_billion_laughs_in_docx(extractor: Extractor) -> None:
    err = await refused(extractor, "lol.docx", docgen.docx(document_xml=docgen.billion_laughs_xml()))
    assert err.code == BOMB and "document type declaration" in err.message


async def test_billion_laughs_in_odt(extractor: Extractor) -> None:
    xml = docgen.billion_laughs_xml().replace("w:document", "office:document-content")
    err = await refused(extractor, "lol.odt", docgen.odt(content_xml=xml))
    assert err.code == BOMB


async def test_external_entity_is_never_resolved(extractor: Extractor) -> None:
    err = await refused(extractor, "xxe.docx", docgen.docx(document_xml=docgen.external_entity_xml()))
    assert err.code == BOMB and "root:" not in err.message


async def test_deeply_nested_docx_xml(extractor: Extractor) -> None:
    # 40,000 levels: small enough to pass the ratio check, so it is libxml2's depth limit that answers.
    err = await refused(extractor, "deep.docx", docgen.docx(document_xml=docgen.deeply_nested_xml(40_000)))
    assert err.code == TOO_COMPLEX and "nested too deeply" in err.message
