"""SEC 10-Q single-document questions: is the gold answer inside the reader's top cited passage.

Reuses the baseline evaluation (`longctx.analysis.evaluate_baseline`): PDFs parsed with the service's parser
(pypdfium2 fallback), and its matching: an amount or percentage of the gold answer (years, "10" and numbers in
the question left out) occurs in the passage, or, for answers without such numbers, half of the answer's
content terms do. The "top cited passage" is the top-1 answer's passage (its answer text when it has none);
no answer counts as a miss. Hits within the top-3 passages are reported as well.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from longctx.analysis.evaluate_baseline import _answer_needles, _norm_text, _parse_pdf
from longctx.analysis.reader import Answer, Query, Reader, ReaderDocument
from longctx.analysis.text import terms

from .report import machine, table, write_json


def passage_contains_answer(passage: str, answer: str, question: str) -> bool:
    needles = _answer_needles(answer, question)
    if needles:
        norm = _norm_text(passage)
        return any(n in norm for n in needles)
    want = set(terms(answer))
    return bool(want) and len(want & set(terms(passage))) >= 0.5 * len(want)


def _cited(a: Answer) -> str:
    return a.passage if a.passage is not None else (a.text or "")


def run_sec10q(
    reader: Reader,
    data_root: Path | str | None = None,
    limit: int | None = None,
    out: Path | str | None = None,
    log: Callable[[str], None] | None = print,
) -> dict:
    if data_root is None:
        from longctx.config import get_settings

        data_root = get_settings().data_root
    root = Path(data_root) / "sec10q" if data_root is not None else None
    if root is None or not (root / "qna_data.csv").exists():
        raise FileNotFoundError("SEC 10-Q data not found (set LONGCTX_SHARED_DATA_DIR)")
    try:
        from longctx.ingest import parse_path_inprocess
    except ImportError:  # pragma: no cover
        parse_path_inprocess = None
    t0 = time.perf_counter()
    with open(root / "qna_data.csv", encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if "single" in r["Question Type"].lower()]
    if limit:
        rows = rows[:limit]
    docs: dict[str, ReaderDocument] = {}
    parsed_with: dict[str, int] = {}
    top1, top3, answered, skipped = [], [], 0, 0
    by_type: dict[str, list[bool]] = {}
    for r in rows:
        name = r["Source Docs"].strip().strip("*")
        path = next(iter(sorted((root / "docs").glob(f"*{name}*"))), None)
        if path is None:
            skipped += 1
            continue
        if path.name not in docs:
            docs[path.name], how = _parse_pdf(path, parse_path_inprocess)
            parsed_with[how] = parsed_with.get(how, 0) + 1
        answers = [a for a in reader.answer(docs[path.name], [Query(r["Question"])], top_k=3)[0] if a.text]
        answered += bool(answers)
        hits = [passage_contains_answer(_cited(a), r["Answer"], r["Question"]) for a in answers]
        top1.append(bool(hits) and hits[0])
        top3.append(any(hits))
        by_type.setdefault(r["Source Chunk Type"], []).append(top1[-1])
    result = {
        "suite": "sec10q",
        "reader": getattr(reader, "name", type(reader).__name__),
        "questions": len(top1),
        "skipped_no_pdf": skipped,
        "answered": answered,
        "top1_passage_contains_answer": float(np.mean(top1)) if top1 else float("nan"),
        "top3_passages_contain_answer": float(np.mean(top3)) if top3 else float("nan"),
        "top1_when_answered": float(np.sum(top1) / answered) if answered else float("nan"),
        "by_chunk_type": {k: {"n": len(v), "top1": float(np.mean(v))} for k, v in sorted(by_type.items())},
        "parsed_with": parsed_with,
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": machine(),
    }
    result["table"] = sec10q_table(result)
    if log:
        log(result["table"])
    write_json(result, out)
    return result


def sec10q_table(result: dict) -> str:
    rows = [
        ["single-document questions", result["questions"]],
        ["answered (not 'no answer')", result["answered"]],
        ["top-1 cited passage contains the gold answer", result["top1_passage_contains_answer"]],
        ["top-3 passages contain the gold answer", result["top3_passages_contain_answer"]],
        ["top-1 hit rate among answered questions", result["top1_when_answered"]],
    ]
    rows += [[f"top-1, {k} chunks (n={v['n']})", v["top1"]] for k, v in result["by_chunk_type"].items()]
    return table(["metric", "value"], rows)
