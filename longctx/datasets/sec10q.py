"""The SEC 10-Q set: 20 quarterly reports (PDF) and `qna_data.csv`, questions with answers and source docs.

Data: docugami KG-RAG-datasets (MIT).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from longctx.analysis.reader import ReaderDocument


def sec10q_dir(data_root: Path | str) -> Path:
    """The `sec10q` folder of the shared data; FileNotFoundError when its questions are absent."""
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
        return ReaderDocument.from_pages(path.name, parsed.pages), "longctx.ingest"
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
    return ReaderDocument.from_pages(path.name, pages), "pypdfium2"
