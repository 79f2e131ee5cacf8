"""A scanned contract through the REST API: OCR summary on the document, the page-words endpoint (tenancy),
answers citing OCR pages with their confidence and the low-confidence warning (REST, CSV, CLI), and the UI's
highlight drawn from the OCR word boxes."""

from __future__ import annotations

import csv
import io

import pytest
from typer.testing import CliRunner

from longctx.bench.ocr import text_pdf
from longctx.ingest import ocr
from tests.pdfgen import make_pdf
from tests.test_api import CONTRACT_PAGES, GOV_LAW, upload

ENGINE = ocr.engine_status()
pytestmark = pytest.mark.skipif(
    ENGINE.problem is not None,
    reason=f"needs Tesseract ({ENGINE.problem}); `.ci/run` installs it (apt-get install tesseract-ocr)",
)


@pytest.fixture(scope="module")
def scan_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return text_pdf(CONTRACT_PAGES, tmp_path_factory.mktemp("scan") / "scan.pdf", dpi=200).read_bytes()


def test_scanned_contract_end_to_end(client, make_tenant, data_env, scan_bytes, monkeypatch):  # noqa: ANN001
    tk = make_tenant("acme")
    other = make_tenant("globex")
    doc_id = upload(client, tk, scan_bytes, name="scan.pdf").json()["id"]
    text_id = upload(client, tk, make_pdf(CONTRACT_PAGES), name="digital.pdf").json()["id"]

    doc = client.get(f"/v1/documents/{doc_id}", headers=tk.headers).json()
    assert doc["status"] == "ready", doc
    assert doc["ocr"]["pages"] == [1, 2] and doc["ocr"]["engine"].startswith("tesseract")
    assert doc["ocr"]["confidence"] > 80 and doc["ocr"]["low_confidence_pages"] == []
    assert doc["progress"] is None and doc["stage"] is None
    assert client.get(f"/v1/documents/{text_id}", headers=tk.headers).json()["ocr"] is None

    # the words of a page: offsets into the page text, boxes as page fractions; 404 for another tenant
    page = client.get(f"/v1/documents/{doc_id}/pages/2", headers=tk.headers).json()
    words = client.get(f"/v1/documents/{doc_id}/pages/2/words", headers=tk.headers).json()
    assert words["ocr"] is True and words["low_confidence"] is False and words["confidence"] > 80
    for w in words["words"]:
        assert page["text"][w["start"] : w["end"]].strip()
        assert 0 <= w["box"][0] < w["box"][2] <= 1 and 0 <= w["box"][1] < w["box"][3] <= 1
    assert client.get(f"/v1/documents/{doc_id}/pages/2/words", headers=other.headers).status_code == 404
    assert client.get(f"/v1/documents/{doc_id}/pages/9/words", headers=tk.headers).status_code == 404
    plain = client.get(f"/v1/documents/{text_id}/pages/1/words", headers=tk.headers).json()
    assert plain == {
        "document_id": text_id,
        "number": 1,
        "ocr": False,
        "confidence": None,
        "low_confidence": False,
        "words": [],
    }

    # the governing-law answer on the scan: same clause and page as on the digital PDF, with its confidence
    answers = {}
    for name, did in (("scan", doc_id), ("digital", text_id)):
        job = client.post(
            "/v1/questions", json={"document_ids": [did], "questions": [GOV_LAW]}, headers=tk.headers
        ).json()
        items = client.get(f"/v1/jobs/{job['job_id']}/findings", headers=tk.headers).json()["items"]
        answers[name] = (items[0], job["job_id"])
    scan_top, scan_job = answers["scan"]
    digital_top, _ = answers["digital"]
    assert "Delaware" in scan_top["answer"] and scan_top["page"] == digital_top["page"] == 2
    assert scan_top["ocr_confidence"] > 80 and scan_top["warning"] is None
    assert digital_top["ocr_confidence"] is None and digital_top["warning"] is None

    # a threshold above the page's confidence flags the answer: REST items, CSV export and the CLI
    from longctx.jobs import findings_csv, findings_for_job
    from longctx.storage.session import session_scope

    with session_scope(data_env) as s:
        flagged = findings_for_job(s, tk.tenant_id, scan_job, low_confidence=99.9)
    assert flagged[0]["warning"].startswith(
        "low OCR confidence: the cited text was read from a scan of page 2"
    )
    rows = list(csv.DictReader(io.StringIO(findings_csv(flagged))))
    assert rows[0]["warning"] == flagged[0]["warning"] and float(rows[0]["ocr_confidence"]) > 80

    from longctx.cli import app

    monkeypatch.setenv("LONGCTX_OCR_LOW_CONFIDENCE", "99.9")
    res = CliRunner().invoke(app, ["jobs", "findings", scan_job, "--tenant", "acme"])
    assert res.exit_code == 0, res.output
    assert "warning:" in res.output and "low OCR confidence" in res.output

    # the UI draws the answer's box from these words, on the clause's line of the rendered scan
    from webui.highlight import answer_span_in_page, render_ocr_highlight

    span = answer_span_in_page(page["char_start"], page["text"], scan_top["char_start"], scan_top["char_end"])
    shot = render_ocr_highlight(scan_bytes, 2, page["text"], words["words"], span, scan_top["answer"])
    assert shot.matched == "answer" and shot.boxes
    delaware = [w for w in words["words"] if page["text"][w["start"] : w["end"]].startswith("Delaware")]
    width, height = shot.image.size
    x0, y0, x1, y1 = delaware[0]["box"]
    cx, cy = (x0 + x1) / 2 * width, (y0 + y1) / 2 * height
    assert any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in shot.boxes)
    assert "Delaware" in shot.text


def test_a_long_scan_takes_turns_on_the_cpu_queue(client, make_tenant, inline_queue, scan_bytes, monkeypatch):  # noqa: ANN001
    """The worker OCRs for LONGCTX_OCR_SLICE_S, then sends the document to the back of the queue with its
    finished pages kept: here one page per slice, so two ingest messages for a two-page scan."""
    monkeypatch.setenv("LONGCTX_OCR_SLICE_S", "0.001")
    monkeypatch.setattr(ocr, "BATCH_PAGES", 1)
    tk = make_tenant("slices")
    doc_id = upload(client, tk, scan_bytes, name="scan.pdf").json()["id"]
    doc = client.get(f"/v1/documents/{doc_id}", headers=tk.headers).json()
    assert doc["status"] == "ready" and doc["ocr"]["pages"] == [1, 2]
    assert inline_queue.sent.count(("longctx.ingest", [doc_id])) == 2
