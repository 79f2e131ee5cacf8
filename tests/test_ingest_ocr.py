"""OCR of pages without a usable text layer: the contract (offsets, word boxes, confidence, reasons,
settings), its faults (a page that times out, a batch that stops) and the real engine on image-only PDFs
made here.

Tests that run Tesseract skip with a reason when it is absent (`.ci/run` installs Debian's tesseract-ocr);
the rest need no engine.
"""

from __future__ import annotations

import io
import shutil
import stat
import time
from pathlib import Path

import pypdf
import pytest

from longctx.bench.ocr import char_accuracy, text_page_image, text_pdf
from longctx.ingest import IngestError, OcrPaused, ParseLimits, ocr, parse_file, parse_path_inprocess
from longctx.ingest.types import MEDIA_PDF, assemble_pages
from tests.pdfgen import make_pdf

ENGINE = ocr.engine_status()
needs_engine = pytest.mark.skipif(
    ENGINE.problem is not None,
    reason=f"needs Tesseract ({ENGINE.problem}); `.ci/run` installs it (apt-get install tesseract-ocr)",
)

SCAN_PAGES = [
    "MASTER SERVICES AGREEMENT\nThis Agreement is made on March 1, 2024 between Northwind Analytics Inc. "
    "and Contoso Legal LLP.\n1. Services. Northwind shall provide document review services.",
    "2. Fees. Contoso shall pay each invoice within thirty days.\n3. Governing Law. This Agreement shall be "
    "governed by the laws of the State of Delaware.",
]


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return text_pdf(SCAN_PAGES, tmp_path_factory.mktemp("scan") / "scan.pdf", dpi=200)


def _write_pdf(pages: list, path: Path) -> Path:
    """One page per entry; an entry (under, over) draws `over` on top of `under`."""
    writer = pypdf.PdfWriter()
    for page in pages:
        under, over = page if isinstance(page, tuple) else (page, None)
        added = writer.add_page(under)
        if over is not None:
            added.merge_page(over)
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def _image_page(text: str, height_pt: float = 792) -> pypdf.PageObject:
    image = text_page_image(text, 200, page_pt=(612, height_pt))
    buffer = io.BytesIO()
    image.save(buffer, format="PDF", resolution=200.0)
    return pypdf.PdfReader(io.BytesIO(buffer.getvalue())).pages[0]


def _text_page(text: str) -> pypdf.PageObject:
    return pypdf.PdfReader(io.BytesIO(make_pdf([text]))).pages[0]


# ---- no engine needed -----------------------------------------------------------------------------------


def test_settings_reach_the_parser(monkeypatch):
    from longctx.config import Settings

    monkeypatch.setenv("LONGCTX_OCR", "0")
    monkeypatch.setenv("LONGCTX_OCR_LANGUAGES", "eng+deu")
    monkeypatch.setenv("LONGCTX_OCR_DPI", "200")
    monkeypatch.setenv("LONGCTX_OCR_PAGE_TIMEOUT_S", "15")
    monkeypatch.setenv("LONGCTX_OCR_TESSERACT", "/opt/tess/bin/tesseract")
    monkeypatch.setenv("LONGCTX_OCR_LOW_CONFIDENCE", "80")
    settings = Settings()
    lim = ParseLimits.of(settings)
    assert (lim.ocr, lim.ocr_languages, lim.ocr_dpi, lim.ocr_page_timeout_s, lim.ocr_tesseract) == (
        False,
        "eng+deu",
        200,
        15.0,
        "/opt/tess/bin/tesseract",
    )
    assert settings.ocr_low_confidence == 80.0


def test_engine_absent_says_how_to_enable(scan):
    lim = ParseLimits(ocr_tesseract="/nonexistent/tesseract")
    with pytest.raises(IngestError) as info:
        parse_file(scan, limits=lim)
    reason = info.value.reason
    assert reason.startswith("no extractable text (scanned PDF without a text layer; OCR is not available: ")
    assert "apt-get install tesseract-ocr" in reason and "LONGCTX_OCR_TESSERACT" in reason


def test_ocr_off_says_how_to_enable(scan):
    with pytest.raises(IngestError) as info:
        parse_file(scan, limits=ParseLimits(ocr=False))
    assert info.value.reason == (
        "no extractable text (scanned PDF without a text layer; OCR is off: set LONGCTX_OCR=1 to read scans)"
    )


def test_engine_absent_on_a_partly_scanned_pdf_warns(tmp_path):
    path = _write_pdf(
        [_text_page("A digital cover page with enough words."), _image_page("scanned")], tmp_path / "m.pdf"
    )
    doc = parse_path_inprocess(path, limits=ParseLimits(ocr_tesseract="/nonexistent/tesseract"))
    assert doc.pages[1].text == ""
    assert any(
        w.startswith(
            "no text layer (scanned?) on 1 pages: 2 (OCR is not available: the OCR engine is not installed"
        )
        for w in doc.metadata["warnings"]
    )
    assert "ocr" not in doc.metadata


def test_parse_tsv_offsets_boxes_confidence():
    head = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    rows = [
        "1\t1\t0\t0\t0\t0\t0\t0\t1000\t2000\t-1\t",
        "5\t1\t1\t1\t1\t1\t100\t200\t100\t20\t90\tGoverning",
        "5\t1\t1\t1\t1\t2\t220\t200\t50\t20\t80\tLaw.",
        "5\t1\t1\t1\t2\t1\t100\t240\t60\t20\t70\tThis",
        "5\t1\t1\t1\t2\t2\t170\t240\t10\t20\t95\t ",  # a blank word: dropped
        "5\t1\t2\t1\t1\t1\t100\t400\t80\t20\t60\tDelaware\x07",  # a control character: dropped
    ]
    page = ocr.parse_tsv("\n".join([head, *rows]), 1000, 2000)
    assert page.text == "Governing Law.\nThis\n\nDelaware"
    for start, end, *_ in page.words:
        assert page.text[start:end].strip() == page.text[start:end] and page.text[start:end]
    assert [page.text[w[0] : w[1]] for w in page.words] == ["Governing", "Law.", "This", "Delaware"]
    assert page.words[0][2:6] == [0.1, 0.1, 0.2, 0.11]
    assert page.words[0][6] == 90.0
    expected = (90 * 9 + 80 * 4 + 70 * 4 + 60 * 8) / 25
    assert page.confidence == pytest.approx(expected, abs=0.01)


def test_rotated_boxes_map_back_to_the_page():
    page = ocr.PageOcr("x", [[0, 1, 0.1, 0.2, 0.3, 0.4, 90.0]], 90.0)
    # read on the image turned 90 degrees clockwise: the box's top-left corner came from the page's left edge
    assert ocr._rotate_boxes(page, 90).words[0][2:6] == [0.2, 0.7, 0.4, 0.9]
    assert ocr._rotate_boxes(page, 180).words[0][2:6] == [0.7, 0.6, 0.9, 0.8]
    assert ocr._rotate_boxes(page, 270).words[0][2:6] == [0.6, 0.1, 0.8, 0.3]
    assert ocr._rotate_boxes(ocr._rotate_boxes(page, 90), 270).words[0][2:6] == page.words[0][2:6]


def _fake_engine(monkeypatch):
    fake = ocr.Engine("/fake/tesseract", "tesseract 0 (test)", ("eng", "osd"), None)
    monkeypatch.setattr(ocr, "engine_status", lambda *a, **k: fake)
    return fake


def _planned(n_pages: int) -> object:
    doc = assemble_pages([""] * n_pages, MEDIA_PDF, {"warnings": []})
    doc.metadata["ocr_plan"] = [[n, 0] for n in range(1, n_pages + 1)]
    return doc


def _result(number: int, text: str, conf: float = 92.0) -> dict:
    return {
        "page": number,
        "why": "no text layer",
        "used": True,
        "text": text,
        "words": [[0, len(text), 0.1, 0.1, 0.5, 0.12, conf]],
        "confidence": conf,
        "rotated": 0,
        "dpi": 300,
    }


def test_a_batch_that_stops_fails_only_the_page_it_was_reading(monkeypatch, tmp_path):
    _fake_engine(monkeypatch)
    calls: list[list[int]] = []

    def run_batch(path, pages, out_dir, limits):  # noqa: ANN001
        calls.append([n for n, _ in pages])
        for number, _ in pages:
            if number == 2:
                return "OCR crashed (signal 9)"  # the child died while reading page 2
            ocr._write_result(out_dir, number, _result(number, f"page{number}"))
        return None

    doc = ocr.complete(_planned(3), tmp_path / "x.pdf", ParseLimits(), run_batch, work_dir=tmp_path / "w")
    assert calls == [[1, 2, 3], [3]]  # page 3 was tried again in the next batch
    assert [p.text for p in doc.pages] == ["page1", "", "page3"]
    assert doc.metadata["ocr"]["pages"] == [1, 3] and doc.metadata["ocr"]["failed_pages"] == [2]
    assert any(
        w.startswith("OCR failed on pages 2 (OCR crashed (signal 9))") for w in doc.metadata["warnings"]
    )


def test_every_page_failing_fails_the_document_with_the_reason(monkeypatch, tmp_path):
    _fake_engine(monkeypatch)

    def run_batch(path, pages, out_dir, limits):  # noqa: ANN001
        for number, _ in pages:
            ocr._write_result(out_dir, number, {"page": number, "error": "OCR timed out (page limit 1 s)"})

    with pytest.raises(IngestError) as info:
        ocr.complete(_planned(2), tmp_path / "x.pdf", ParseLimits(), run_batch)
    assert info.value.reason == "OCR failed on every page (OCR timed out (page limit 1 s))"


def test_pause_at_the_deadline_and_go_on(monkeypatch, tmp_path):
    """A caller with a deadline stops between batches; the next call with the same folder reads only the
    remaining pages (what the cpu worker does for a long scan, `ocr_slice_s`)."""
    _fake_engine(monkeypatch)
    monkeypatch.setattr(ocr, "BATCH_PAGES", 2)
    read: list[int] = []
    seen: list[tuple[int, int]] = []

    def run_batch(path, pages, out_dir, limits):  # noqa: ANN001
        for number, _ in pages:
            read.append(number)
            ocr._write_result(out_dir, number, _result(number, f"text of page {number}"))

    work = tmp_path / "work"
    with pytest.raises(OcrPaused) as info:
        ocr.complete(
            _planned(5),
            tmp_path / "x.pdf",
            ParseLimits(),
            run_batch,
            work_dir=work,
            deadline=time.monotonic(),
        )
    assert (info.value.done, info.value.total) == (2, 5) and read == [1, 2]
    doc = ocr.complete(
        _planned(5),
        tmp_path / "x.pdf",
        ParseLimits(),
        run_batch,
        work_dir=work,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert read == [1, 2, 3, 4, 5]
    assert seen == [(2, 5), (4, 5), (5, 5)]
    assert [p.text for p in doc.pages] == [f"text of page {n}" for n in range(1, 6)]
    # other settings never reuse these results
    assert list(work.iterdir()) == [work / ocr.work_key(ParseLimits(), ocr.engine_status())]


def test_merge_keeps_exact_offsets(monkeypatch):
    engine = _fake_engine(monkeypatch)
    doc = assemble_pages(["digital page one", "", "digital three"], MEDIA_PDF, {"warnings": []})
    results = {2: _result(2, "Scanned words here")}
    new = ocr.merge(doc, [[2, 0]], results, ParseLimits(), engine)
    assert new.text == "digital page one\nScanned words here\ndigital three\n"
    page = new.pages[1]
    assert new.text[page.char_start : page.char_end] == "Scanned words here"
    words = new.metadata["ocr_words"]["2"]["words"]
    assert page.text[words[0][0] : words[0][1]] == "Scanned words here"
    assert new.metadata["ocr"]["confidence"] == 92.0 and new.metadata["ocr"]["page_confidence"] == {"2": 92.0}


# ---- the real engine ------------------------------------------------------------------------------------


@needs_engine
def test_scan_is_read_with_offsets_and_word_boxes(scan):
    progress: list[tuple[int, int]] = []
    doc = parse_file(scan, limits=ParseLimits(), progress=lambda d, t: progress.append((d, t)))
    assert len(doc.pages) == 2 and progress[-1] == (2, 2)
    assert char_accuracy(doc.text, "\n".join(SCAN_PAGES)) > 0.97
    info = doc.metadata["ocr"]
    assert info["pages"] == [1, 2] and info["engine"].startswith("tesseract") and info["confidence"] > 80
    for page in doc.pages:
        assert doc.text[page.char_start : page.char_end] == page.text
        words = doc.metadata["ocr_words"][str(page.number)]["words"]
        assert words
        for start, end, x0, y0, x1, y1, conf in words:
            word = page.text[start:end]
            assert word and not any(ch.isspace() for ch in word)
            assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 and 0 <= conf <= 100
    # the word "Delaware" is on page 2, in the second line block, inside the left/right margins
    at = doc.text.index("Delaware")
    assert doc.page_for_offset(at) == 2
    page = doc.pages[1]
    hit = [
        w for w in doc.metadata["ocr_words"]["2"]["words"] if page.text[w[0] : w[1]].startswith("Delaware")
    ]
    assert len(hit) == 1
    x0, y0, x1, y1 = hit[0][2:6]
    assert x0 >= 72 / 612 - 0.01 and x1 <= 1 - 72 / 612 + 0.01  # inside the 1-inch margins
    assert 72 / 792 < y0 < 0.3  # in the first lines of the page


@needs_engine
def test_sandbox_and_inprocess_agree(scan):
    a = parse_file(scan, limits=ParseLimits())
    b = parse_path_inprocess(scan, limits=ParseLimits())
    assert a.text == b.text and a.metadata["ocr_words"] == b.metadata["ocr_words"]


@needs_engine
def test_pasted_image_of_text_is_read_and_a_searchable_scan_is_not(tmp_path):
    # a digital page with an image of text pasted into its lower half
    top = "Digital heading of the exhibit page\nwith a second digital line of text"
    pasted = "PASTED EXHIBIT\nThe Licensee shall pay royalties of five percent of net sales every quarter."
    mixed = _write_pdf([(_text_page(top), _image_page(pasted, height_pt=396))], tmp_path / "mixed.pdf")
    doc = parse_file(mixed, limits=ParseLimits())
    assert doc.metadata["ocr"]["pages"] == [1]
    assert "royalties" in doc.text and "Digital heading" in doc.text

    # a scan with its own (OCRmyPDF-style) text layer over the image: the layer is kept, nothing re-read
    layer = "\n".join(f"Line {i} of the searchable scan text layer over its image." for i in range(8))
    searchable = _write_pdf([(_image_page(layer), _text_page(layer))], tmp_path / "searchable.pdf")
    doc = parse_file(searchable, limits=ParseLimits())
    assert "ocr" not in doc.metadata
    assert doc.pages[0].text == layer


@needs_engine
def test_missing_language_is_a_clear_reason(scan):
    with pytest.raises(IngestError) as info:
        parse_file(scan, limits=ParseLimits(ocr_languages="eng+xqz"))
    assert "OCR language(s) xqz not installed for Tesseract" in info.value.reason
    assert info.value.reason.startswith("no extractable text")


@needs_engine
def test_a_page_that_times_out_fails_only_that_page(tmp_path):
    """A fake engine that answers --version/--list-langs and then hangs: the page limit kills it (with its
    process group), that page gets a warning, the page with a text layer keeps the document alive."""
    fake = tmp_path / "tesseract"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        '  --version) echo "tesseract 5.3.0 (hanging test double)";;\n'
        "  --list-langs) printf 'List of available languages (2):\\neng\\nosd\\n';;\n"
        "  *) sleep 60 & wait;;\n"
        "esac\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    lim = ParseLimits(ocr_tesseract=str(fake), ocr_page_timeout_s=1.0)
    path = _write_pdf(
        [_text_page("A digital page with plenty of words on it."), _image_page("scan")], tmp_path / "t.pdf"
    )
    started = time.monotonic()
    doc = parse_file(path, limits=lim)
    assert time.monotonic() - started < 30
    assert doc.pages[0].text.startswith("A digital page") and doc.pages[1].text == ""
    assert doc.metadata["ocr"]["failed_pages"] == [2]
    assert any(
        "OCR failed on pages 2 (OCR timed out (page limit 1 s))" in w for w in doc.metadata["warnings"]
    )
    # a scan whose only page times out fails with that reason
    only = _write_pdf([_image_page("scan")], tmp_path / "only.pdf")
    with pytest.raises(IngestError) as info:
        parse_file(only, limits=lim)
    assert info.value.reason == "OCR failed on every page (OCR timed out (page limit 1 s))"


@needs_engine
def test_ingest_stores_ocr_pages_progress_and_continues_in_slices(
    data_env, make_tenant, tmp_path, monkeypatch
):
    from longctx.documents import add_file, ingest_document, ocr_work_dir
    from longctx.storage import repositories as repo
    from longctx.storage.models import DocumentStatus, Page
    from longctx.storage.session import session_scope

    monkeypatch.setattr(ocr, "BATCH_PAGES", 1)
    tk = make_tenant("scans")
    path = text_pdf(SCAN_PAGES, tmp_path / "scan.pdf", dpi=200)
    doc_id = add_file(path, tk.tenant_id, data_env).document.id
    stages: list[str] = []

    doc = ingest_document(doc_id, data_env, lambda st, f: stages.append(st), slice_s=0.001)
    assert doc.status is DocumentStatus.queued  # one page read, then back in the queue
    assert doc.parse_stage == "OCR: 1 of 2 pages (continues in turn)" and 0.1 < doc.parse_progress < 0.6
    assert doc.attempts == 0
    with session_scope(data_env) as s:
        assert repo.get_document(s, tk.tenant_id, doc_id).status is DocumentStatus.queued

    doc = ingest_document(doc_id, data_env, slice_s=0.001)
    assert doc.status is DocumentStatus.ready, doc.error
    assert doc.ocr["pages"] == [1, 2] and doc.ocr["low_confidence_pages"] == []
    assert doc.parse_progress is None and doc.parse_stage is None
    assert not ocr_work_dir(data_env, doc.sha256).exists()
    assert "ocr" in stages
    with session_scope(data_env) as s:
        pages = repo.get_pages(s, doc_id)
        assert all(p.ocr_confidence and p.ocr_confidence > 80 for p in pages)
        words = s.get(Page, pages[1].id).ocr_words["words"]
        assert pages[1].text[words[0][0] : words[0][1]] == pages[1].text.split()[0]


def test_engine_status_is_cached_and_names_the_binary(tmp_path):
    missing = ocr.engine_status(str(tmp_path / "nope"))
    assert missing.binary is None and "not found" in missing.problem
    if shutil.which("tesseract"):
        found = ocr.engine_status()
        assert found.problem is None and found.version.startswith("tesseract") and "eng" in found.languages
        assert ocr.engine_status() is found


def test_tables_of_ocr_pages_go_the_others_stay(monkeypatch):
    """Table spans are page-relative until the document is stored (`ingest.tables.rebase_tables`): a table
    on a page that keeps its text layer stays as it is; one on a page replaced by OCR text goes with it."""
    import dataclasses

    from longctx.ingest.types import ParsedDocument

    if "tables" not in {f.name for f in dataclasses.fields(ParsedDocument)}:
        pytest.skip("ParsedDocument has no tables in this checkout")
    engine = _fake_engine(monkeypatch)
    doc = assemble_pages(["one", "", "Revenue 10"], MEDIA_PDF, {"warnings": []})
    table_2 = {"page": 2, "char_start": 0, "char_end": 1, "rows": []}
    table_3 = {"page": 3, "char_start": 0, "char_end": 10, "rows": []}
    doc.tables = [table_2, table_3]
    new = ocr.merge(doc, [[2, 0]], {2: _result(2, "scanned text")}, ParseLimits(), engine)
    assert new.tables == [table_3]
    assert new.pages[2].text[table_3["char_start"] : table_3["char_end"]] == "Revenue 10"


@needs_engine
def test_a_page_scanned_sideways_is_read_upright_with_boxes_on_the_page(tmp_path):
    text = "3. Governing Law. This Agreement shall be governed by the laws of the State of Delaware."
    image = text_page_image(text, 200).rotate(90, expand=True)  # the scanner turned it: text runs upwards
    path = tmp_path / "sideways.pdf"
    image.save(path, format="PDF", resolution=200.0)
    doc = parse_file(path, limits=ParseLimits())
    assert "Governing Law" in doc.text and "Delaware" in doc.text
    page = doc.metadata["ocr_words"]["1"]
    assert page["rotated"] == 90
    first, second = page["words"][:2]
    assert doc.pages[0].text[first[0] : first[1]] == "3."
    # upright, the first word sat at the top left (x 0.12, y 0.09): on the turned page it is at the bottom
    # left, and the next word lies above it, in a box taller than wide
    assert first[2] < 0.15 and first[3] > 0.8
    assert second[3] < first[3] and (second[5] - second[3]) > (second[4] - second[2])
