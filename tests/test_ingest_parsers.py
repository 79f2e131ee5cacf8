"""Each parser in-process (no sandbox): PDF, DOCX, text; reasons users will read are asserted verbatim."""

from __future__ import annotations

import zipfile

import docx
import pytest
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from longctx.ingest import (
    MEDIA_DOCX,
    MEDIA_MARKDOWN,
    MEDIA_PDF,
    MEDIA_TEXT,
    IngestError,
    ParseLimits,
    parse_path_inprocess,
)
from tests.pdfgen import encrypt_pdf, garbage_pdf, make_pdf, truncated_pdf

LIMITS = ParseLimits()


def parse(path, **kw):
    return parse_path_inprocess(path, limits=kw.pop("limits", LIMITS), **kw)


def reason_of(path, **kw) -> str:
    with pytest.raises(IngestError) as info:
        parse(path, **kw)
    return info.value.reason


# --- PDF -----------------------------------------------------------------------------------------------


def test_pdf_multi_page(tmp_path):
    pages = ["First page (one)", "Second page\nwith two lines", "Third: caf\xe9 \u20ac"]
    path = tmp_path / "a.pdf"
    path.write_bytes(make_pdf(pages, title="Deal"))
    doc = parse(path)
    assert doc.media_type == MEDIA_PDF
    assert [p.text for p in doc.pages] == pages
    assert [p.number for p in doc.pages] == [1, 2, 3]
    assert doc.metadata["title"] == "Deal"
    assert doc.metadata["encrypted"] is False
    assert doc.metadata["warnings"] == []
    at = doc.text.index("two lines")
    assert doc.page_for_offset(at) == 2


def test_pdf_encrypted_with_empty_user_password_opens(tmp_path):
    path = tmp_path / "owner-only.pdf"
    path.write_bytes(encrypt_pdf(make_pdf(["secret terms", "page two"]), user_password=""))
    doc = parse(path)
    assert [p.text for p in doc.pages] == ["secret terms", "page two"]
    assert doc.metadata["encrypted"] is True


def test_pdf_encrypted_with_password_fails(tmp_path):
    path = tmp_path / "locked.pdf"
    path.write_bytes(encrypt_pdf(make_pdf(["hidden"]), user_password="secret"))
    assert reason_of(path) == "password required: the PDF is encrypted"


def test_pdf_truncated_fails_with_reason(tmp_path):
    path = tmp_path / "cut.pdf"
    path.write_bytes(truncated_pdf(make_pdf(["some text here"] * 3), keep=0.3))
    assert reason_of(path).startswith("not a valid PDF: ")


def test_pdf_garbage_fails_with_reason(tmp_path):
    path = tmp_path / "junk.pdf"
    path.write_bytes(garbage_pdf())
    assert reason_of(path).startswith("not a valid PDF: ")


def test_pdf_without_text_layer(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(make_pdf(["", "", ""]))
    off = ParseLimits(ocr=False)
    assert reason_of(path, limits=off) == (
        "no extractable text (scanned PDF without a text layer; OCR is off: set LONGCTX_OCR=1 to read scans)"
    )
    # with OCR on, blank pages (nothing drawn at all) are not sent to the engine: no text to find
    assert reason_of(path) == "empty document: 3 blank pages (no text layer, nothing to read on them)"


def test_pdf_some_pages_without_text_warns(tmp_path):
    path = tmp_path / "mixed.pdf"
    path.write_bytes(make_pdf(["cover text", "", "", "back"]))
    doc = parse(path)
    assert len(doc.pages) == 4
    assert doc.pages[1].text == ""
    assert any(w.startswith("no text layer (scanned?) on 2 pages") for w in doc.metadata["warnings"])
    assert doc.metadata["empty_pages"] == [2, 3]


def test_pdf_page_failure_becomes_empty_page(tmp_path, monkeypatch):
    import pypdf

    original = pypdf.PageObject.extract_text
    calls = {"n": 0}

    def flaky(self, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyError("/Font")
        return original(self, *a, **kw)

    monkeypatch.setattr(pypdf.PageObject, "extract_text", flaky)
    path = tmp_path / "flaky.pdf"
    path.write_bytes(make_pdf(["one", "two", "three"]))
    doc = parse(path)
    assert [p.text for p in doc.pages] == ["one", "", "three"]
    assert doc.metadata["failed_pages"] == [2]
    assert "text extraction failed on pages 2" in doc.metadata["warnings"][0]


def test_pdf_every_page_failing_fails(tmp_path, monkeypatch):
    import pypdf

    def broken(self, *a, **kw):
        raise ValueError("bad content stream")

    monkeypatch.setattr(pypdf.PageObject, "extract_text", broken)
    path = tmp_path / "broken.pdf"
    path.write_bytes(make_pdf(["one", "two"]))
    assert reason_of(path).startswith("text extraction failed on every page")


def test_pdf_too_many_pages(tmp_path):
    path = tmp_path / "long.pdf"
    path.write_bytes(make_pdf([f"page {i}" for i in range(6)]))
    assert reason_of(path, limits=ParseLimits(max_pages=5)) == "too many pages: 6 > limit 5"


def test_pdf_text_budget(tmp_path):
    path = tmp_path / "big.pdf"
    path.write_bytes(make_pdf(["x" * 80] * 3))
    assert reason_of(path, limits=ParseLimits(max_text_chars=100)).startswith("extracted text too large")


# --- DOCX ----------------------------------------------------------------------------------------------


def _rendered_break_before(paragraph):
    """Insert <w:lastRenderedPageBreak/> at the start of the paragraph's first run, as Word does."""
    run = paragraph.runs[0]._r
    run.insert(1 if run.find(qn("w:rPr")) is not None else 0, OxmlElement("w:lastRenderedPageBreak"))


def test_docx_page_breaks_and_tables(tmp_path):
    d = docx.Document()
    d.core_properties.title = "Supply Agreement"
    d.add_paragraph("Intro paragraph.")
    d.add_paragraph("Second paragraph.")
    d.add_page_break()
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Party"
    table.cell(0, 1).text = "Role"
    table.cell(1, 0).text = "Acme"
    table.cell(1, 1).text = "Supplier"
    after = d.add_paragraph("After the table.")
    d.add_page_break()
    # Word also marks the start of the page after an explicit break: it must not add a blank page.
    last = d.add_paragraph("Signature page.")
    _rendered_break_before(last)
    path = tmp_path / "a.docx"
    d.save(path)

    doc = parse(path)
    assert doc.media_type == MEDIA_DOCX
    assert len(doc.pages) == 3
    assert doc.pages[0].text == "Intro paragraph.\nSecond paragraph."
    assert doc.pages[1].text.startswith("Party\tRole\nAcme\tSupplier\nAfter the table.")
    assert doc.pages[2].text == "Signature page."
    assert doc.metadata["title"] == "Supply Agreement"
    assert doc.page_for_offset(doc.text.index("Acme")) == 2
    assert after.text == "After the table."


def test_docx_rendered_breaks_only(tmp_path):
    d = docx.Document()
    for i in range(3):
        p = d.add_paragraph(f"Page {i + 1} text.")
        if i:
            _rendered_break_before(p)
    path = tmp_path / "rendered.docx"
    d.save(path)
    doc = parse(path)
    assert [p.text for p in doc.pages] == ["Page 1 text.", "Page 2 text.", "Page 3 text."]


def test_docx_without_breaks_is_one_page(tmp_path):
    d = docx.Document()
    d.add_paragraph("Only page.")
    d.add_paragraph("Still the only page.")
    path = tmp_path / "one.docx"
    d.save(path)
    doc = parse(path)
    assert len(doc.pages) == 1
    assert doc.text == "Only page.\nStill the only page.\n"


def test_docx_zip_bomb_refused(tmp_path):
    path = tmp_path / "bomb.docx"
    d = docx.Document()
    d.add_paragraph("hi")
    d.save(path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/media/huge.bin", b"\0" * (12 * 1024 * 1024))
    reason = reason_of(path, limits=ParseLimits(parse_memory_mb=16))
    assert reason.startswith("DOCX too large when unpacked")


def test_zip_that_is_not_docx(tmp_path):
    path = tmp_path / "files.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    assert reason_of(path) == "unsupported file type: zip archive (not a .docx)"


def test_broken_docx(tmp_path):
    path = tmp_path / "broken.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<not-xml")
    assert reason_of(path).startswith("not a valid DOCX")


# --- text ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("na\xefve caf\xe9 \u20ac".encode(), "utf-8"),
        ("\ufeffna\xefve caf\xe9 \u20ac".encode(), "utf-8"),
        ("na\xefve caf\xe9 \u20ac".encode("utf-16"), None),
        ("na\xefve caf\xe9 \u20ac".encode("cp1252"), "cp1252"),
    ],
)
def test_text_encodings(tmp_path, data, encoding):
    path = tmp_path / "t.txt"
    path.write_bytes(data)
    doc = parse(path)
    assert doc.media_type == MEDIA_TEXT
    assert doc.pages[0].text == "na\xefve caf\xe9 \u20ac"
    if encoding:
        assert doc.metadata["encoding"] == encoding


def test_text_form_feeds_split_pages_and_newlines_normalised(tmp_path):
    path = tmp_path / "t.md"
    path.write_bytes(b"# One\r\nbody\x07\fTwo\rline\f\fFour\f")
    doc = parse(path)
    assert doc.media_type == MEDIA_MARKDOWN
    assert [p.text for p in doc.pages] == ["# One\nbody", "Two\nline", "", "Four"]
    assert doc.page_for_offset(doc.text.index("Four")) == 4


def test_text_binary_refused(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"looks like text\n" * 1000 + b"\x00\x01")
    assert reason_of(path) == "unsupported file type: binary data"


@pytest.mark.parametrize("data", [b"", b"   \n\t\n\f \n"])
def test_empty_documents(tmp_path, data):
    path = tmp_path / "e.txt"
    path.write_bytes(data)
    assert reason_of(path).startswith("empty document")


def test_explicit_media_type_must_be_supported(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("hello")
    assert reason_of(path, media_type="image/png") == "unsupported file type: image/png"


def test_missing_file(tmp_path):
    assert reason_of(tmp_path / "nope.pdf").startswith("cannot read file")


def test_file_too_large(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("hello world")
    assert reason_of(path, limits=ParseLimits(max_upload_bytes=5)) == "file too large: 11 bytes > limit 5"
