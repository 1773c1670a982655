"""Hostile files, each through the bounded runner: a clear error, and the runner healthy afterwards."""

from __future__ import annotations

import functools

import pytest

from assistant_stream.files.extract import Limits
from assistant_stream.files.kinds import HEAD_BYTES, detect
from assistant_stream.files.result import BOMB, DAMAGED, NO_TEXT, TOO_COMPLEX, ExtractionError
from assistant_stream.files.runner import Extractor
from tests import docgen

pytestmark = pytest.mark.timeout(90)


@functools.cache
def bomb(kind: str) -> bytes:
    # Built once per run (a GiB-sized bomb takes a few seconds to compress).
    return {"docx": lambda: docgen.docx_zip_bomb(1024), "odt": lambda: docgen.odt_zip_bomb(1024),
            "pdf": lambda: docgen.pdf_flate_bomb(1024),
            "liar": lambda: docgen.lie_about_sizes(docgen.docx_zip_bomb(256), "word/document.xml")}[kind]()


@pytest.fixture(scope="module")
def extractor() -> Extractor:
    return Extractor()


async def refused(extractor: Extractor, name: str, data: bytes) -> ExtractionError:
    """Extract ``data`` as ``name``, expect a refusal, then check that an ordinary file still works."""
    with pytest.raises(ExtractionError) as err:
        kind = detect(name, data[:HEAD_BYTES]).kind
        await extractor.extract(kind, data, Limits())
    ok = await extractor.extract(detect("ok.pdf", b"%PDF-").kind, docgen.pdf(["still healthy"]), Limits())
    assert ok.text == "still healthy"
    assert "Traceback" not in err.value.message
    return err.value


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


async def test_pdf_page_tree_reference_loop(extractor: Extractor) -> None:
    err = await refused(extractor, "loop.pdf", docgen.pdf_reference_loop())
    assert err.code == DAMAGED and "reference loop" in err.message


async def test_pdf_length_that_refers_to_itself(extractor: Extractor) -> None:
    err = await refused(extractor, "length.pdf", docgen.pdf_length_loop())
    assert err.code in (DAMAGED, NO_TEXT)


async def test_pdf_xref_prev_loop_is_read_once(extractor: Extractor) -> None:
    # A /Prev pointing at its own table must not loop: the file is otherwise fine and its text is read.
    result = await extractor.extract(detect("x.pdf", b"%PDF-").kind, docgen.pdf_xref_loop(), Limits())
    assert result.text == "xref loop"


async def test_pdf_flate_bomb(extractor: Extractor) -> None:
    err = await refused(extractor, "bomb.pdf", bomb("pdf"))
    assert err.code == BOMB and "decompression bomb" in err.message


async def test_pdf_deeply_nested_arrays(extractor: Extractor) -> None:
    err = await refused(extractor, "deep.pdf", docgen.pdf_deep_nesting())
    assert err.code == DAMAGED


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


async def test_binary_file_named_txt() -> None:
    with pytest.raises(ExtractionError) as err:
        detect("notes.txt", b"\x7fELF\x02\x01\x01\x00\x00\x00")
    assert "binary" in err.value.message
