"""The sweep's own watchdog and bookkeeping, and the benchmark report, on generated files."""

from __future__ import annotations

import importlib
import threading

from longctx.ingest import ParseLimits, sweep
from longctx.ingest.sweep import reason_category
from tests.pdfgen import encrypt_pdf, garbage_pdf, make_pdf


def _files(tmp_path):
    good = tmp_path / "good.pdf"
    good.write_bytes(make_pdf(["one", "two", "three"]))
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(encrypt_pdf(make_pdf(["x"]), user_password="secret"))
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(garbage_pdf())
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(make_pdf(["", ""]))
    return [good, locked, junk, scan]


def test_sweep_counts(tmp_path):
    seen = []
    result = sweep(
        _files(tmp_path), limits=ParseLimits(), jobs=2, progress=lambda d, n, o: seen.append((d, n))
    )
    s = result.summary()
    assert (s["ingested"], s["failed"], s["crashed"], s["hung"]) == (1, 3, 0, 0)
    assert s["total_pages"] == 3
    assert s["failed_by_category"] == {"password required": 1, "not a valid PDF": 1, "empty document": 1}
    assert sorted(seen) == [(i, 4) for i in range(1, 5)]
    assert [o.path for o in result.outcomes] == [str(p) for p in _files(tmp_path)]


def test_sweep_watchdog_and_crashes(tmp_path, monkeypatch):
    block = threading.Event()

    def fake_parse_file(path, limits=None, **kw):
        if path.name == "good.pdf":
            block.wait(30)  # a parse_file that never returns (sandbox bug)
        if path.name == "junk.pdf":
            raise RuntimeError("bug")
        from longctx.ingest import parse_file

        return parse_file(path, limits=limits, **kw)

    sweep_module = importlib.import_module("longctx.ingest.sweep")  # the package attribute is the function
    monkeypatch.setattr(sweep_module, "parse_file", fake_parse_file)
    monkeypatch.setattr(sweep_module, "WATCHDOG_GRACE_S", 0.5)
    try:
        result = sweep(_files(tmp_path), limits=ParseLimits(parse_timeout_s=0.5), jobs=2)
    finally:
        block.set()
    assert (result.hung, result.crashed, result.failed) == (1, 1, 2)
    assert result.outcomes[0].status == "hung"
    assert result.outcomes[2].reason == "RuntimeError: bug"


def test_reason_categories():
    assert reason_category("parsing timed out after 120 s") == "timed out"
    assert reason_category("too many pages: 6000 > limit 5000") == "too many pages"
    assert reason_category("parser crashed (signal 11)") == "parser crashed"
    assert reason_category("not a valid PDF: PdfReadError: x") == "not a valid PDF"
    assert reason_category("something new: detail") == "something new"


def test_bench_report(tmp_path):
    from longctx.bench.ingest import MARK_END, MARK_START, run

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for p in _files(corpus):
        assert p.exists()
    out = tmp_path / "ingestion.md"
    out.write_text(f"# Notes\n\nhand-written\n\n{MARK_START}\nstale-block-xyz\n{MARK_END}\n\nfooter\n")
    data = run([corpus], out, jobs=2, command="longctx bench ingest corpus --out ingestion.md")
    text = out.read_text()
    assert "hand-written" in text and "footer" in text and "stale-block-xyz" not in text
    assert "longctx bench ingest corpus --out ingestion.md" in text
    assert data["summary"]["files"] == 4 and data["summary"]["crashed"] == 0
    assert data["speed"]["raw_pypdf"]["pages"] == 3
