"""Hostile files built once per run, and the check every hostile-file test makes: a clear refusal, then an
ordinary file still extracts (the runner is healthy)."""

from __future__ import annotations

import functools

import pytest

from assistant_stream.files.extract import Limits
from assistant_stream.files.kinds import HEAD_BYTES, detect
from assistant_stream.files.result import ExtractionError
from assistant_stream.files.runner import Extractor
from tests.support import docgen


@functools.cache
def bomb(kind: str) -> bytes:
    """A GiB-sized bomb takes a few seconds to compress: each is built once per run."""
    return {"docx": lambda: docgen.docx_zip_bomb(1024), "odt": lambda: docgen.odt_zip_bomb(1024),
            "pdf": lambda: docgen.pdf_flate_bomb(1024),
            "liar": lambda: docgen.lie_about_sizes(docgen.docx_zip_bomb(256), "word/document.xml")}[kind]()


async def refused(extractor: Extractor, name: str, data: bytes) -> ExtractionError:
    """Extract ``data`` as ``name``, expect a refusal, then check that an ordinary file still works."""
    with pytest.raises(ExtractionError) as err:
        kind = detect(name, data[:HEAD_BYTES]).kind
        await extractor.extract(kind, data, Limits())
    ok = await extractor.extract(detect("ok.pdf", b"%PDF-").kind, docgen.pdf(["still healthy"]), Limits())
    assert ok.text == "still healthy"
    assert "Traceback" not in err.value.message
    return err.value
