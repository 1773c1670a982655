"""PDF text with pypdf (pure Python: a hostile file meets Python exceptions, not a native crash).

Chosen over pypdfium2, PyMuPDF, pdfminer.six and kreuzberg by bench/extract_bench.py (results and
reasons in docs/configuration.md, "Attachments").
"""

from __future__ import annotations

import io
import logging

from .result import BOMB, DAMAGED, ENCRYPTED, NO_TEXT, ExtractionError
from .sink import SinkFull, TextSink


def extract(data: bytes, sink: TextSink, *, max_pages: int) -> int:
    """Add each page's text to ``sink``; returns the number of pages read."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError, PdfReadError, PdfStreamError

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)  # its warnings would only go to a discarded stderr
    pages = 0
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # Many PDFs are encrypted with an empty user password (only editing is restricted).
            try:
                ok = reader.decrypt("")
            except (DependencyError, NotImplementedError, FileNotDecryptedError):
                ok = 0
            if not ok:
                raise ExtractionError(ENCRYPTED, "The PDF is password protected: remove the password and "
                                                 "attach it again")
        found = False
        for page in reader.pages:
            if pages >= max_pages:
                sink.truncated = True
                break
            pages += 1
            text = page.extract_text() or ""
            found = found or bool(text.strip())
            sink.add(text.rstrip() + "\n\n")
    except SinkFull:
        return pages
    except LimitReachedError:
        raise ExtractionError(BOMB, "The PDF contains a compressed stream that unpacks to an unreasonable "
                                    "size (a decompression bomb): refused") from None
    except (PdfReadError, PdfStreamError, FileNotDecryptedError) as exc:
        if "cyclic" in str(exc).lower():
            raise ExtractionError(DAMAGED, "The PDF's page tree refers to itself (a reference loop): "
                                           "it cannot be read") from None
        raise ExtractionError(DAMAGED, "The PDF is damaged and cannot be read") from None
    if not found:
        raise ExtractionError(NO_TEXT, "The PDF has no text to read (a scanned document without a text layer?)")
    return pages
