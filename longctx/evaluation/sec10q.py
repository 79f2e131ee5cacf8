"""SEC 10-Q single-document questions: is the gold answer inside the reader's top cited passage.

PDFs are parsed with the service's parser (pypdfium2 fallback). Matching: an amount or percentage of the gold
answer (years, "10" and numbers in the question left out) occurs in the passage, or, for answers without such
numbers, half of the answer's content terms do. The "top cited passage" is the top-1 answer's passage (its
answer text when it has none); no answer counts as a miss. Hits within the top-3 passages are reported as
well.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from longctx.analysis.reader import Answer, Query, Reader, ReaderDocument
from longctx.datasets.sec10q import load_report, question_pdf, sec10q_dir, single_doc_questions
from longctx.text.terms import terms

from .report import machine, table, write_json


def norm_text(s: str) -> str:
    return " ".join(s.lower().replace(",", "").split())


def answer_needles(answer: str, question: str) -> list[str]:
    """Amounts and percentages of the gold answer, what must appear in a passage; years, form numbers
    ("10-Q") and numbers already in the question are left out, since any passage may contain them."""
    asked = set(re.findall(r"\d+", question))
    out = []
    for n in re.findall(r"\$?\d[\d,]*(?:\.\d+)?%?", answer):
        n = n.replace("$", "").replace(",", "").rstrip("%").rstrip(".")
        if len(n) >= 2 and n != "10" and not re.fullmatch(r"(19|20)\d\d", n) and n not in asked:
            out.append(n)
    return out


def passage_contains_answer(passage: str, answer: str, question: str) -> bool:
    needles = answer_needles(answer, question)
    if needles:
        norm = norm_text(passage)
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
    root = sec10q_dir(data_root)
    t0 = time.perf_counter()
    rows = single_doc_questions(root)
    if limit:
        rows = rows[:limit]
    docs: dict[str, ReaderDocument] = {}
    parsed_with: dict[str, int] = {}
    top1, top3, answered, skipped = [], [], 0, 0
    by_type: dict[str, list[bool]] = {}
    for r in rows:
        path = question_pdf(root, r)
        if path is None:
            skipped += 1
            continue
        if path.name not in docs:
            docs[path.name], how = load_report(path)
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
