"""The SEC 10-Q set: 20 quarterly reports (PDF) and `qna_data.csv`, questions with answers and source docs.

Data: docugami KG-RAG-datasets (MIT).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from longctx.analysis.reader import ReaderDocument


def sec10q_dir(data_root: Path | str | None = None) -> Path:
    """The `sec10q` folder of the shared data (None: the configured data root); FileNotFoundError when its
    questions are absent."""
    if data_root is None:
        from longctx.config import get_settings

        data_root = get_settings().data_root
    if data_root is None:
        raise FileNotFoundError("SEC 10-Q data not found (set LONGCTX_SHARED_DATA_DIR)")
    root = Path(data_root) / "sec10q"
    if not (root / "qna_data.csv").exists():
        raise FileNotFoundError("SEC 10-Q data not found (set LONGCTX_SHARED_DATA_DIR)")
    return root


def single_doc_questions(root: Path) -> list[dict[str, str]]:
    """The rows of `qna_data.csv` whose question is about one report (CSV columns as they are)."""
    with open(root / "qna_data.csv", encoding="utf-8-sig", newline="") as fh:
        return [r for r in csv.DictReader(fh) if "single" in r["Question Type"].lower()]


def question_pdf(root: Path, row: dict[str, str]) -> Path | None:
    """The report a question row names (`Source Docs`), or None when its PDF is not in `docs/`."""
    name = row["Source Docs"].strip().strip("*")
    return next(iter(sorted((root / "docs").glob(f"*{name}*"))), None)


def load_report(path: Path) -> tuple[ReaderDocument, str]:
    """A report as the reader sees it, and which parser read it: the service's own parser when it can read
    the file, else pypdfium2 (it tolerates what pypdf refuses)."""
    try:
        from longctx.ingest import parse_path_inprocess

        parsed = parse_path_inprocess(path)
        doc = ReaderDocument.from_pages(path.name, parsed.pages)
        doc.tables = _tables(parsed.tables, doc)
        return doc, "longctx.ingest"
    except Exception as exc:  # noqa: BLE001 - a parser failure must not end the evaluation
        print(f"{path.name}: longctx.ingest failed ({exc}); using pypdfium2", file=sys.stderr)
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(path))
    try:
        pages = []
        for i in range(len(pdf)):
            text = pdf[i].get_textpage().get_text_range()
            pages.append((i + 1, text.replace("\r\n", "\n").replace("\r", "\n")))
    finally:
        pdf.close()
    doc = ReaderDocument.from_pages(path.name, pages)
    from longctx.ingest.tables import extract_tables

    raw = [t.to_json() for t in extract_tables(str(path), [(n, s, doc.text[s:e]) for n, s, e in doc.pages])]
    doc.tables = _tables(raw, doc)
    return doc, "pypdfium2"


def _tables(raw: list[dict], doc: ReaderDocument) -> list:
    """Recovered tables (page-relative spans) as the service stores them: offsets into ``doc.text``."""
    from longctx.ingest.tables import Table, rebase_tables

    return [Table.from_json(t) for t in rebase_tables(raw, {n: s for n, s, _ in doc.pages})]
