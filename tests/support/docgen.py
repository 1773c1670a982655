"""Documents for tests and the extraction benchmark, written from scratch: ordinary PDF, DOCX, ODT and
PNG files, and hostile ones (zip bombs, reference loops, entity expansion, deep nesting).

Everything is built in memory with the standard library, so tests need no fixtures on disk and no
third-party writer whose output might hide the case under test.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterable
from xml.sax.saxutils import escape

# --- PDF ---------------------------------------------------------------------------------------------


def _pdf_string(text: str) -> bytes:
    # Latin-1 with the three PDF string specials escaped: enough for Helvetica's WinAnsi text.
    raw = text.encode("latin-1", "replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _assemble(objects: list[bytes], root: int, *, trailer_extra: bytes = b"") -> bytes:
    """A PDF file from numbered object bodies (object n is ``objects[n-1]``) with a correct xref."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, root, trailer_extra, xref))
    return out.getvalue()


def _stream(data: bytes, *, compress: bool = True) -> bytes:
    if compress:
        data = zlib.compress(data)
        return b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def pdf(pages: Iterable[str | list[str]], *, compress: bool = True) -> bytes:
    """A PDF with one page per item; an item is a line or a list of lines (Helvetica 11 pt)."""
    page_lines = [[p] if isinstance(p, str) else list(p) for p in pages]
    n = len(page_lines)
    # 1 catalog, 2 pages, 3 font, then (page, content) pairs.
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b"",
                            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    kids = []
    for lines in page_lines:
        page_no = len(objects) + 1
        kids.append(b"%d 0 R" % page_no)
        ops = [b"BT /F1 11 Tf 14 TL 56 790 Td"]
        ops += [_pdf_string(line) + b" '" for line in lines]
        ops.append(b"ET")
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
                       b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_no + 1))
        objects.append(_stream(b"\n".join(ops), compress=compress))
    objects[1] = b"<< /Type /Pages /Kids [" + b" ".join(kids) + b"] /Count %d >>" % n
    return _assemble(objects, 1)


def pdf_reference_loop() -> bytes:
    """A page tree that contains itself (Pages 2 lists 2 as a kid) and a page whose parent is a loop too."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 4 0 R 2 0 R] /Count 3 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Pages /Parent 4 0 R /Kids [4 0 R 2 0 R] /Count 2 >>",
    ]
    return _assemble(objects, 1)


def pdf_length_loop() -> bytes:
    """A content stream whose /Length is an indirect reference to an object that refers back to itself."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length 5 0 R >>\nstream\nBT (loop) Tj ET\nendstream",
        b"5 0 R",
    ]
    return _assemble(objects, 1)


def pdf_xref_loop() -> bytes:
    """A trailer whose /Prev points at its own cross-reference table: a reader that follows it never ends."""
    body = pdf(["xref loop"])
    start = body.rindex(b"startxref\n") + len(b"startxref\n")
    xref = int(body[start:body.index(b"\n", start)])
    return body.replace(b"/Root 1 0 R ", b"/Root 1 0 R /Prev %d " % xref)


def pdf_flate_bomb(megabytes: int = 1024) -> bytes:
    """A one-page PDF whose content stream inflates to ``megabytes`` MiB (about 1 MiB compressed per GiB)."""
    comp = zlib.compressobj(9)
    block = b" " * (1 << 20)
    parts = [comp.compress(b"BT /F1 11 Tf 56 790 Td (bomb) Tj ET\n")]
    parts += [comp.compress(block) for _ in range(megabytes)]
    parts.append(comp.flush())
    data = b"".join(parts)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream",
    ]
    return _assemble(objects, 1)


def pdf_deep_nesting(depth: int = 100_000) -> bytes:
    """A page dictionary holding an array nested ``depth`` levels deep (recursive parsers overflow)."""
    nested = b"[" * depth + b"]" * depth
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Deep " + nested + b" >>",
    ]
    return _assemble(objects, 1)


# --- OOXML (DOCX) and ODF (ODT) ------------------------------------------------------------------------

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
# Word always declares the relationships namespace on the root; some readers (docx2python) rely on it.
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>'
)
_DOC_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"></Relationships>'
)


def docx_xml(paragraphs: Iterable[str]) -> str:
    body = "".join(f'<w:p><w:r><w:t xml:space="preserve">{escape(p)}</w:t></w:r></w:p>' for p in paragraphs)
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{_W}" xmlns:r="{_R}">'
            f"<w:body>{body}</w:body></w:document>")


def docx(paragraphs: Iterable[str] = (), *, document_xml: str | bytes | None = None) -> bytes:
    """A minimal valid DOCX (what Word needs to open it): one paragraph per item."""
    xml = document_xml if document_xml is not None else docx_xml(paragraphs)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("word/_rels/document.xml.rels", _DOC_RELS)
        z.writestr("word/document.xml", xml)
    return buf.getvalue()


_ODT_MIME = "application/vnd.oasis.opendocument.text"
_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
    f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{_ODT_MIME}"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)


def odt_xml(paragraphs: Iterable[str]) -> str:
    body = "".join(f"<text:p>{escape(p)}</text:p>" for p in paragraphs)
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
            'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
            f"<office:body><office:text>{body}</office:text></office:body></office:document-content>")


def odt(paragraphs: Iterable[str] = (), *, content_xml: str | bytes | None = None) -> bytes:
    """A minimal valid ODT: ``mimetype`` first and stored, then the manifest and content."""
    xml = content_xml if content_xml is not None else odt_xml(paragraphs)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), _ODT_MIME, compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml", _MANIFEST)
        z.writestr("content.xml", xml)
    return buf.getvalue()


def _zip_with_big_member(name: str, head: bytes, filler: bytes, megabytes: int, tail: bytes,
                         others: dict[str, str]) -> bytes:
    """A zip whose ``name`` inflates to about ``megabytes`` MiB, written in streaming fashion."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for other, data in others.items():
            if other == "mimetype":
                z.writestr(zipfile.ZipInfo(other), data, compress_type=zipfile.ZIP_STORED)
            else:
                z.writestr(other, data)
        block = filler * ((1 << 20) // len(filler))
        with z.open(name, "w", force_zip64=True) as member:
            member.write(head)
            for _ in range(megabytes):
                member.write(block)
            member.write(tail)
    return buf.getvalue()


def docx_zip_bomb(megabytes: int = 1024) -> bytes:
    """A zip bomb disguised as DOCX: word/document.xml inflates to ``megabytes`` MiB of paragraphs."""
    head = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{_W}"><w:body>'.encode()
    return _zip_with_big_member("word/document.xml", head, b"<w:p><w:r><w:t>bomb</w:t></w:r></w:p>",
                                megabytes, b"</w:body></w:document>",
                                {"[Content_Types].xml": _CONTENT_TYPES, "_rels/.rels": _RELS,
                                 "word/_rels/document.xml.rels": _DOC_RELS})


def odt_zip_bomb(megabytes: int = 1024) -> bytes:
    """The same for ODT: content.xml inflates to ``megabytes`` MiB."""
    head = odt_xml([]).split("<office:text>")[0].encode() + b"<office:text>"
    return _zip_with_big_member("content.xml", head, b"<text:p>bomb</text:p>", megabytes,
                                b"</office:text></office:body></office:document-content>",
                                {"mimetype": _ODT_MIME, "META-INF/manifest.xml": _MANIFEST})


def lie_about_sizes(data: bytes, member: str, declared: int = 1000) -> bytes:
    """Rewrite a zip so that ``member`` declares ``declared`` bytes uncompressed (local header and central
    directory), while its data still inflates to the real size: a bomb that hides from a size check."""
    out = bytearray(data)
    name = member.encode()
    # Central directory entries: signature PK\1\2, uncompressed size at +24, name length at +28, name at +46.
    pos = 0
    while (pos := out.find(b"PK\x01\x02", pos)) >= 0:
        name_len = struct.unpack_from("<H", out, pos + 28)[0]
        if bytes(out[pos + 46:pos + 46 + name_len]) == name:
            struct.pack_into("<I", out, pos + 24, declared)
            local = struct.unpack_from("<I", out, pos + 42)[0]
            if out[local:local + 4] == b"PK\x03\x04":
                struct.pack_into("<I", out, local + 22, declared)
        pos += 4
    return bytes(out)


def billion_laughs_xml(root: str = "w:document", ns: str = f'xmlns:w="{_W}"') -> str:
    """The classic entity expansion attack: ten levels of ten references, about 10**9 "lol"s."""
    ents = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return (f'<?xml version="1.0"?><!DOCTYPE lolz [{"".join(ents)}]>'
            f"<{root} {ns}><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></{root}>")


def external_entity_xml(path: str = "/etc/passwd") -> str:
    """An XML external entity (XXE) that asks the parser to read a local file into the document."""
    return (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file://{path}">]>'
            f'<w:document xmlns:w="{_W}"><w:body><w:p><w:r><w:t>&xxe;</w:t></w:r></w:p></w:body></w:document>')


def deeply_nested_xml(depth: int = 200_000) -> str:
    """document.xml with ``depth`` nested elements: recursive walkers overflow, libxml2 stops at 256."""
    inner = "<w:p>" * depth + "<w:r><w:t>deep</w:t></w:r>" + "</w:p>" * depth
    return (f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{_W}">'
            f"<w:body>{inner}</w:body></w:document>")


# --- images --------------------------------------------------------------------------------------------


def png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid truecolour PNG of one colour."""
    row = b"\x00" + bytes(rgb) * width
    raw = row * height

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
