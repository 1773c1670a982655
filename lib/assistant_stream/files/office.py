"""DOCX (python-docx) and ODT (odfdo) text, after zipguard has measured what the package unpacks to."""

from __future__ import annotations

import io

from .result import BOMB, DAMAGED, NO_TEXT, TOO_COMPLEX, ExtractionError
from .sink import SinkFull, TextSink
from .zipguard import inflate_all, open_checked


def _xml_error(exc: Exception, what: str) -> ExtractionError:
    detail = str(exc)
    if "amplification" in detail or "entit" in detail.lower():
        return ExtractionError(BOMB, f"The {what} uses XML entity expansion (a 'billion laughs' attack): refused")
    if "memory" in detail.lower() or "unknown error" in detail:
        # libxml2 reports a failed allocation as a syntax error, often without a message.
        return ExtractionError(TOO_COMPLEX, f"Reading the {what} needs more memory than allowed")
    if "depth" in detail:
        return ExtractionError(TOO_COMPLEX, f"The {what} is nested too deeply to be read")
    return ExtractionError(DAMAGED, f"The {what} is damaged: its XML cannot be read")


def extract_docx(data: bytes, sink: TextSink, *, max_unpacked: int) -> None:
    import docx
    from docx.table import Table
    from lxml.etree import XMLSyntaxError

    what = "DOCX document"
    archive = open_checked(data, what=what, required=["word/document.xml"], max_total=max_unpacked)
    inflate_all(archive, what=what, max_total=max_unpacked)
    try:
        document = docx.Document(io.BytesIO(data))
        found = False
        # Paragraphs and tables in reading order; a table row becomes one line of cells joined by " | ".
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                for row in block.rows:
                    line = " | ".join(cell.text.strip() for cell in row.cells)
                    found = found or bool(line.strip(" |"))
                    sink.add(line + "\n")
                sink.add("\n")
            else:
                found = found or bool(block.text.strip())
                sink.add(block.text + "\n")
    except SinkFull:
        return
    except XMLSyntaxError as exc:
        raise _xml_error(exc, what) from None
    except (KeyError, ValueError, AttributeError, TypeError, IndexError):
        # python-docx signals a package without the parts Word needs this way (PackageNotFoundError is a
        # subclass of Exception only; caught below by type name to avoid importing its private module).
        raise ExtractionError(DAMAGED, f"The {what} is damaged: it lacks parts Word needs") from None
    except Exception as exc:
        if type(exc).__name__ == "PackageNotFoundError":
            raise ExtractionError(DAMAGED, f"The {what} is damaged: it is not a Word package") from None
        raise
    if not found:
        raise ExtractionError(NO_TEXT, f"The {what} contains no text")


def extract_odt(data: bytes, sink: TextSink, *, max_unpacked: int) -> None:
    import odfdo
    from lxml.etree import XMLSyntaxError
    from odfdo.security import SecurityError

    what = "ODT document"
    archive = open_checked(data, what=what, required=["content.xml"], max_total=max_unpacked)
    inflate_all(archive, what=what, max_total=max_unpacked)
    try:
        text = odfdo.Document(io.BytesIO(data)).get_formatted_text()
    except SecurityError:
        raise ExtractionError(BOMB, f"The {what} looks like a zip bomb: refused") from None
    except XMLSyntaxError as exc:
        raise _xml_error(exc, what) from None
    except (KeyError, ValueError, AttributeError, TypeError, IndexError):
        raise ExtractionError(DAMAGED, f"The {what} is damaged: it lacks parts LibreOffice needs") from None
    if not text.strip():
        raise ExtractionError(NO_TEXT, f"The {what} contains no text")
    try:
        sink.add(text)
    except SinkFull:
        return
