"""CUAD clause extraction: AUPR and precision at 80% / 90% recall on one side of the shared contract split.

Matching rule (CUAD's `evaluate.py`): a predicted answer text matches a gold clause when the Jaccard overlap
of their word sets is >= 0.5 (words: lower-cased, `. , ; :` removed, `/` split, whitespace-separated), and
for Parties also when the gold text is a substring of the prediction. Every (contract, category) question is
asked with the category's schema query; each of the reader's top-k answers (k = 20 by default, the n-best
list size CUAD's models are scored with) is one prediction, its `score` the confidence. As in CUAD, the
reader's own no-answer cut-off is switched off for the run (``answer_threshold = 0`` where a reader has one),
so every question gets its top-k predictions and the ranking by confidence draws the whole curve; a reader
without that knob makes no prediction when it answers "no answer". All predictions of the split are ranked
by score; at each cutoff, as in CUAD, a gold clause matched by any prediction is a true positive and a
prediction matching none a false positive: precision = TP / (TP + FP), recall = TP / gold clauses (located
in the text by `longctx.datasets.cuad.load_cuad`). Precision is interpolated (best precision at any higher
recall), AUPR is the trapezoid area from recall 0, and P@R is 0 when the recall is never reached (all as in
CUAD, which sweeps the confidence in steps of 0.01 where this takes every prediction as a cutoff). Gold
clauses are never matched across contracts or categories.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from longctx.analysis.reader import Reader, ReaderDocument
from longctx.analysis.schemas import load_schema
from longctx.datasets.cuad import cuad_split, load_cuad

from .report import (
    CUAD_IOU_THRESHOLD,
    aupr,
    cuad_match,
    machine,
    precision_at_recall,
    precision_recall_curve,
    table,
    write_json,
)


def cuad_metrics(scores, matched, n_gold: int) -> dict:
    p, r = precision_recall_curve(scores, matched, n_gold)
    return {
        "aupr": aupr(p, r),
        "p_at_80r": precision_at_recall(p, r, 0.8),
        "p_at_90r": precision_at_recall(p, r, 0.9),
        "max_recall": float(r[-1]) if len(r) else 0.0,
        "predictions": len(scores),
        "correct_predictions": int(sum(bool(m) for m in matched)),
        "gold": n_gold,
    }


def run_cuad(
    reader: Reader,
    split: str = "validation",
    data_root: Path | str | None = None,
    top_k: int = 20,
    limit: int | None = None,
    out: Path | str | None = None,
    log: Callable[[str], None] | None = print,
) -> dict:
    if data_root is None:
        from longctx.config import get_settings

        data_root = get_settings().data_root
    if data_root is None or not (Path(data_root) / "cuad" / "master_clauses.csv").exists():
        raise FileNotFoundError("CUAD data not found (set LONGCTX_SHARED_DATA_DIR)")
    root = Path(data_root) / "cuad"
    t0 = time.perf_counter()
    ids = cuad_split(p.name for p in (root / "txt").glob("*.txt"))[split]
    docs = load_cuad(root, set(ids))
    if limit:
        docs = docs[:limit]
    queries = load_schema("contract")
    scores: list[float] = []
    matched: list[list[int]] = []
    keys: list[str] = []
    gold_keys: list[str] = []
    answered = 0
    saved_threshold = getattr(reader, "answer_threshold", None)
    if saved_threshold is not None:
        reader.answer_threshold = 0.0
    try:
        for di, d in enumerate(docs):
            doc = ReaderDocument.from_text(d.cid, d.text)
            results = reader.answer(doc, queries, top_k=top_k)
            for q, answers in zip(queries, results, strict=True):
                gold = []
                for s, e in d.gold.get(q.key, []):
                    gold.append((len(gold_keys), d.text[s:e]))
                    gold_keys.append(q.key)
                preds = [a for a in answers if a.text is not None][:top_k]
                answered += bool(preds)
                for a in preds:
                    scores.append(float(a.score))
                    matched.append([g for g, t in gold if cuad_match(a.text, t, q.key)])
                    keys.append(q.key)
            if log and (di + 1) % 10 == 0:
                log(f"cuad {di + 1}/{len(docs)} contracts ({time.perf_counter() - t0:.0f}s)")
    finally:
        if saved_threshold is not None:
            reader.answer_threshold = saved_threshold
    overall = cuad_metrics(scores, matched, len(gold_keys))
    categories = {}
    for q in queries:
        idx = [i for i, k in enumerate(keys) if k == q.key]
        n_gold = sum(k == q.key for k in gold_keys)
        categories[q.key] = cuad_metrics([scores[i] for i in idx], [matched[i] for i in idx], n_gold)
    with_gold = [v for v in categories.values() if v["gold"]]
    result = {
        "suite": "cuad",
        "reader": getattr(reader, "name", type(reader).__name__),
        "split": split,
        "contracts": len(docs),
        "questions": len(docs) * len(queries),
        "answered_questions": answered,
        "top_k": top_k,
        "rule": f"word-set Jaccard >= {CUAD_IOU_THRESHOLD}, Parties also substring (CUAD evaluate.py)",
        "overall": overall,
        "macro_aupr": float(np.mean([v["aupr"] for v in with_gold])) if with_gold else float("nan"),
        "categories": categories,
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": machine(),
    }
    result["table"] = cuad_table(result)
    if log:
        log(result["table"])
    write_json(result, out)
    return result


def cuad_table(result: dict) -> str:
    o = result["overall"]
    rows = [
        ["AUPR", o["aupr"]],
        ["precision at 80% recall", o["p_at_80r"]],
        ["precision at 90% recall", o["p_at_90r"]],
        ["max recall reached", o["max_recall"]],
        ["macro AUPR over categories with gold", result["macro_aupr"]],
        ["predictions (correct)", f"{o['predictions']} ({o['correct_predictions']})"],
        ["gold clauses", o["gold"]],
        ["questions answered", f"{result['answered_questions']}/{result['questions']}"],
    ]
    head = f"CUAD {result['split']}: {result['contracts']} contracts, top-{result['top_k']} answers"
    return head + "\n\n" + table(["metric", "value"], rows)
