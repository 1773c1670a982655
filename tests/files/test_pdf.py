"""PDF text with pypdf; hostile PDFs through the bounded runner, each with a clear error."""

from __future__ import annotations

import pytest

from assistant_stream.files.extract import Limits, extract
from assistant_stream.files.kinds import Kind, detect
from assistant_stream.files.result import BOMB, DAMAGED, NO_TEXT, ExtractionError
from assistant_stream.files.runner import Extractor
from tests.support import docgen
from tests.support.hostile import bomb, refused

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def extractor() -> Extractor:
    return Extractor()

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
