"""Ingestion on real documents from ../shared/data (skipped when absent): robustness and page citations."""

from __future__ import annotations

import ast
import csv
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from longctx.config import get_settings
from longctx.datasets.cuad import NormalisedText, normalise
from longctx.ingest import ParseLimits, parse_file, sweep

pytestmark = pytest.mark.data


def _data_dir(sub: str) -> Path:
    root = get_settings().data_root
    if root is None or not (root / sub).is_dir():
        pytest.skip(
            f"shared data folder {sub!r} not found (set LONGCTX_SHARED_DATA_DIR or add ../shared/data)"
        )
    return root / sub


def test_sweep_subset_of_pdf_corpus():
    corpus = _data_dir("pdf-corpus")
    files = sorted(p for p in corpus.rglob("*") if p.suffix.lower() == ".pdf")
    subset = files[:: max(1, len(files) // 30)][:30]  # fixed, spread over every source folder
    result = sweep(subset, limits=ParseLimits(parse_timeout_s=60), jobs=2)
    s = result.summary()
    assert s["crashed"] == 0, [o for o in result.outcomes if o.status == "crashed"]
    assert s["hung"] == 0
    assert s["ingested"] >= 10
    assert all(o.reason for o in result.outcomes if o.status == "failed")


# --- CUAD: labelled clauses must be found on the page page_for_offset reports --------------------------


def _clauses(cuad: Path) -> list[tuple[Path, str, str]]:
    pdfs = {p.stem.lower(): p for p in (cuad / "pdf").iterdir() if p.suffix.lower() == ".pdf"}
    with open(cuad / "master_clauses.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    categories = [c for c in rows[0] if c != "Filename" and not c.endswith("-Answer")]
    out = []
    for row in rows:
        pdf = pdfs.get(Path(row["Filename"]).stem.lower())  # names match up to the extension's case
        if pdf is None:
            continue
        for category in categories:
            try:
                values = ast.literal_eval(row[category] or "[]")
            except (ValueError, SyntaxError):
                continue
            out.extend((pdf, category, v) for v in values if isinstance(v, str) and len(v.strip()) >= 20)
    return out


def _check_clauses(n: int, seed: int) -> tuple[int, int]:
    cuad = _data_dir("cuad")
    picked = random.Random(seed).sample(_clauses(cuad), n)
    files = sorted({p for p, _, _ in picked})
    with ThreadPoolExecutor(2) as pool:
        docs = dict(zip(files, pool.map(parse_file, files), strict=True))
    located = {pdf: NormalisedText(doc.text) for pdf, doc in docs.items()}
    found = 0
    for pdf, category, clause in picked:
        doc = docs[pdf]
        hit = located[pdf].locate(clause)
        if hit is None or hit[2:] != ("exact", 1):
            continue  # label text differs from the PDF's text layer (OCR'd labels, <omitted>, hyphenation)
        found += 1
        start, end = hit[0], hit[1]
        needle = normalise(clause)
        assert normalise(doc.text[start:end]) == needle
        first, last = doc.page_span(start, end)
        assert first == doc.page_for_offset(start)
        pages_text = normalise(" ".join(p.text for p in doc.pages[first - 1 : last]))
        assert needle in pages_text, (pdf.name, category)
        if first == last:
            assert needle in normalise(doc.pages[first - 1].text)
        else:  # spans a page break: it starts at the end of `first` and ends at the top of `last`
            head = normalise(doc.text[start : doc.pages[first - 1].char_end])
            tail = normalise(doc.text[doc.pages[last - 1].char_start : end])
            assert needle.startswith(head) and needle.endswith(tail)
    return found, n


def test_cuad_clause_pages():
    found, n = _check_clauses(20, seed=1234)
    assert found >= 0.7 * n, f"only {found}/{n} labelled clauses found in the PDF text"


@pytest.mark.slow
def test_cuad_clause_pages_large_sample():
    found, n = _check_clauses(200, seed=99)
    print(f"CUAD clauses recovered from PDF text: {found}/{n}")
    assert found >= 0.75 * n
