"""Free questions on documents: what an analyst types, not a schema field.

* ``run_cuad_questions``: CUAD validation contracts, each asked a question per field in ``FIELDS`` worded
  from the held-out ``eval`` family of `longctx.datasets.contract_questions` (never the schema's wording, no
  field key, so the question takes the span reader's route). A field with an annotated clause counts as
  found when the top-1 answer overlaps one of its clauses; a field without one is right when the reader
  gives no answer. Both are reported at the answer line (what a user sees) and, for present fields, also
  for the reader's best passage whatever its score (retrieval, for comparing readers).
* ``run_short_contracts``: generated short contracts (`longctx.datasets.short_contracts`, ``eval``
  family: wordings never trained on), 1-30 pages; governing law, term and parties must be answered with the
  right sentence at the answer line, questions about absent clauses left unanswered.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from longctx.analysis.reader import Answer, Query, Reader, ReaderDocument
from longctx.datasets.contract_questions import field_questions
from longctx.datasets.cuad import cuad_dir, cuad_split, load_cuad
from longctx.datasets.short_contracts import contract_set

from .report import machine, table, write_json

FIELDS = (
    "Governing Law",
    "Expiration Date",
    "Renewal Term",
    "Termination for Convenience",
    "Cap on Liability",
    "Anti-Assignment",
    "Non-Compete",
    "Audit Rights",
)


@contextlib.contextmanager
def answer_line(reader: Reader, threshold: float) -> Iterator[None]:
    """Temporarily move a reader's answer line (0: always answer with the best passage)."""
    targets = [reader] if hasattr(reader, "answer_threshold") else []
    old = [t.answer_threshold for t in targets]
    for t in targets:
        t.answer_threshold = threshold
    try:
        yield
    finally:
        for t, v in zip(targets, old, strict=True):
            t.answer_threshold = v


def _overlaps(a: Answer, spans: Sequence[tuple[int, int]]) -> bool:
    if a.text is None or a.char_start is None or a.char_end is None:
        return False
    return any(a.char_start < e and s < a.char_end for s, e in spans)


def run_cuad_questions(
    reader: Reader,
    split: str = "validation",
    n_contracts: int = 40,
    fields: Sequence[str] = FIELDS,
    family: str = "eval",
    seed: int = 0,
    data_root: Path | str | None = None,
    out: Path | str | None = None,
    log: Callable[[str], None] | None = print,
) -> dict:
    t0 = time.perf_counter()
    root = cuad_dir(data_root)
    ids = cuad_split(p.name for p in (root / "txt").glob("*.txt"))[split]
    rng = random.Random(f"cuad-questions|{seed}")
    picked = sorted(rng.sample(ids, min(n_contracts, len(ids))))
    docs = load_cuad(root, set(picked))
    per_field: dict[str, dict[str, list]] = {f: {"line": [], "best": [], "absent": []} for f in fields}
    for d in docs:
        rdoc = ReaderDocument.from_text(d.cid, d.text)
        queries, golds = [], []
        for f in fields:
            if d.labelled.get(f) and not d.gold.get(f):
                continue  # labelled but not located: no reliable gold
            options = field_questions(f, family)
            queries.append(Query(options[rng.randrange(len(options))]))
            golds.append((f, d.gold.get(f, [])))
        at_line = reader.answer(rdoc, queries, top_k=1)
        with answer_line(reader, 0.0):
            best = reader.answer(rdoc, queries, top_k=1)
        for (f, spans), a_line, a_best in zip(golds, at_line, best, strict=True):
            if spans:
                per_field[f]["line"].append(_overlaps(a_line[0], spans))
                per_field[f]["best"].append(_overlaps(a_best[0], spans))
            else:
                per_field[f]["absent"].append(a_line[0].text is None)

    def mean(xs: list) -> float | None:
        return float(np.mean(xs)) if xs else None

    rows = {
        f: {
            "present": len(v["line"]),
            "found_at_line": mean(v["line"]),
            "found_best": mean(v["best"]),
            "absent": len(v["absent"]),
            "absent_unanswered": mean(v["absent"]),
        }
        for f, v in per_field.items()
    }
    allv = {k: [x for v in per_field.values() for x in v[k]] for k in ("line", "best", "absent")}
    result = {
        "suite": "cuad-questions",
        "reader": getattr(reader, "name", type(reader).__name__),
        "split": split,
        "family": family,
        "contracts": len(docs),
        "fields": rows,
        "found_at_line": mean(allv["line"]),
        "found_best": mean(allv["best"]),
        "absent_unanswered": mean(allv["absent"]),
        "questions": sum(len(v) for v in allv.values()) - len(allv["best"]),
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": machine(),
    }
    result["table"] = cuad_questions_table(result)
    if log:
        log(result["table"])
    write_json(result, out)
    return result


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def cuad_questions_table(result: dict) -> str:
    rows = [
        [
            f,
            v["present"],
            _f(v["found_best"]),
            _f(v["found_at_line"]),
            v["absent"],
            _f(v["absent_unanswered"]),
        ]
        for f, v in result["fields"].items()
    ]
    rows.append(
        [
            "all",
            sum(v["present"] for v in result["fields"].values()),
            _f(result["found_best"]),
            _f(result["found_at_line"]),
            sum(v["absent"] for v in result["fields"].values()),
            _f(result["absent_unanswered"]),
        ]
    )
    return table(
        ["field", "present", "top-1 overlaps clause", "at answer line", "absent", "absent left unanswered"],
        rows,
    )


def run_short_contracts(
    reader: Reader,
    n: int = 40,
    family: str = "eval",
    seed: int = 0,
    out: Path | str | None = None,
    log: Callable[[str], None] | None = print,
) -> dict:
    t0 = time.perf_counter()
    cases = contract_set(n, family, seed)
    per: dict[str, list[bool]] = {}
    absent: list[bool] = []
    wrong: list[dict] = []
    pages = []
    for c in cases:
        doc = ReaderDocument.from_pages(f"short-{c.seed}", [(i + 1, p) for i, p in enumerate(c.pages)])
        if doc.text[: len(c.text)].replace("\n", "\f") != c.text.replace("\n", "\f"):
            raise ValueError("page texts do not rebuild the contract text")
        pages.append(len(c.pages))
        answers = reader.answer(doc, [Query(q.text) for q in c.questions], top_k=1)
        for q, a in zip(c.questions, answers, strict=True):
            if q.gold:
                ok = _overlaps(a[0], q.gold)
                per.setdefault(q.field, []).append(ok)
            else:
                ok = a[0].text is None
                absent.append(ok)
            if not ok:
                wrong.append(
                    {
                        "contract": c.seed,
                        "field": q.field,
                        "question": q.text,
                        "present": bool(q.gold),
                        "got": None if a[0].text is None else a[0].text[:160],
                        "score": a[0].score,
                    }
                )
    present = [x for v in per.values() for x in v]
    result = {
        "suite": "short-contracts",
        "reader": getattr(reader, "name", type(reader).__name__),
        "family": family,
        "contracts": len(cases),
        "pages": {"min": min(pages), "max": max(pages), "mean": float(np.mean(pages))},
        "fields": {f: {"n": len(v), "right": float(np.mean(v))} for f, v in sorted(per.items())},
        "present_right": float(np.mean(present)) if present else None,
        "absent_unanswered": float(np.mean(absent)) if absent else None,
        "n_present": len(present),
        "n_absent": len(absent),
        "wrong": wrong,
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": machine(),
    }
    rows = [[f, v["n"], f"{v['right']:.3f}"] for f, v in result["fields"].items()]
    rows.append(["absent clauses (left unanswered)", len(absent), _f(result["absent_unanswered"])])
    result["table"] = table(["question", "n", "right at the answer line"], rows)
    if log:
        log(result["table"])
    write_json(result, out)
    return result


__all__ = ["FIELDS", "answer_line", "run_cuad_questions", "run_short_contracts"]
