"""Tiny PDF writer for test fixtures: hand-written objects (Helvetica text), exact xref, no dependencies.

Other test suites import it (`from tests.pdfgen import make_pdf`), so keep the functions stable.
"""

from __future__ import annotations

import io
import random
from pathlib import Path


def _pdf_string(text: str) -> bytes:
    """A PDF literal string in WinAnsi (cp1252); characters outside it become '?'."""
    raw = text.encode("cp1252", errors="replace")
    out = bytearray(b"(")
    for b in raw:
        if b in (0x28, 0x29, 0x5C):  # ( ) \
            out += b"\\" + bytes([b])
        elif b < 32 or b > 126:
            out += b"\\%03o" % b
        else:
            out.append(b)
    out += b")"
    return bytes(out)


def _content(text: str) -> bytes:
    """One text object; each line of `text` on its own line (T* moves down by the leading)."""
    if not text:
        return b""
    lines = text.split("\n")
    ops = [b"BT", b"/F1 11 Tf", b"14 TL", b"72 740 Td"]
    for i, line in enumerate(lines):
        if i:
            ops.append(b"T*")
        ops.append(_pdf_string(line) + b" Tj")
    ops.append(b"ET")
    return b"\n".join(ops)


def make_pdf(pages: list[str], *, title: str | None = None) -> bytes:
    """A valid PDF with one page per entry (an empty string gives a page without any text)."""
    n = len(pages)
    # Object numbers: 1 catalog, 2 pages, 3 font, 4 info, then (page, content) pairs.
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        4: b"<< /Producer (longctx tests.pdfgen)"
        + (b" /Title " + _pdf_string(title) if title else b"")
        + b" >>",
    }
    kids = []
    for i, text in enumerate(pages):
        page_no, content_no = 5 + 2 * i, 6 + 2 * i
        kids.append(b"%d 0 R" % page_no)
        objects[page_no] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % content_no
        )
        stream = _content(text)
        objects[content_no] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    objects[2] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), n)

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for num in sorted(objects):
        offsets[num] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (num, objects[num])
    size = max(objects) + 1
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for num in range(1, size):
        out += b"%010d 00000 n \n" % offsets[num]
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref_at)
    return bytes(out)


def encrypt_pdf(data: bytes, user_password: str = "", owner_password: str = "owner-secret") -> bytes:
    """The same PDF encrypted with pypdf (AES-256); user password "" opens without asking."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="AES-256")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def truncated_pdf(data: bytes, keep: float = 0.4) -> bytes:
    """The first part of a PDF: no xref, no trailer (an interrupted download)."""
    return data[: max(16, int(len(data) * keep))]


def garbage_pdf(size: int = 2048, seed: int = 0) -> bytes:
    """A PDF header followed by random bytes."""
    rng = random.Random(seed)
    return b"%PDF-1.7\n" + bytes(rng.randrange(256) for _ in range(size))


def write_pdf(path: str | Path, pages: list[str], **kwargs) -> Path:
    path = Path(path)
    path.write_bytes(make_pdf(pages, **kwargs))
    return path
