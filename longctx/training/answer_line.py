"""Place the span reader's answer line on questions people wrote (`longctx train answer-line`).

The heads' no-answer decision is learned on the training sources, whose wording the network has seen; on
unfamiliar wording it finds the right sentence as often but trusts it less, so the raw line withholds right
answers. The line is therefore placed on held-out human questions: the SQuAD 2.0 evaluation articles and the
TAT-QA evaluation excerpts (never used in training). Each answerable question is asked twice, of a document
that holds its paragraph or excerpt among unrelated paragraphs, and of the same document without it (so
the same question must go unanswered). The bias ``b`` in ``sigmoid(unit - no answer + b)`` that maximises
accuracy over both halves (a right answer at the line, or no answer for the second half) is written to the
checkpoint as ``answer_line.json``; the generated evaluation families (needles, contracts) play no part.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from longctx.analysis.span_reader import ANSWER_LINE_FILE


def calibration_documents(data_root: Path, seed: int = 0, per_group: int = 6, fillers: int = 4):
    """[(document text, question, gold spans or [])]: every question once with its context, once without."""
    from longctx.datasets.squad import squad_examples, squad_split
    from longctx.datasets.tatqa import tatqa_examples, tatqa_split

    rng = random.Random(f"answer-line|{seed}")
    squad = [e for e in squad_split(squad_examples(data_root))["eval"] if not e.unanswerable]
    tatqa = tatqa_split(tatqa_examples(data_root))["eval"]
    pool = sorted({e.context for e in squad})
    out = []
    for examples in (squad, tatqa):
        by_context: dict[str, list] = {}
        for e in examples:
            by_context.setdefault(e.context, []).append(e)
        for context, group in sorted(by_context.items()):
            others = [p for p in pool if p != context and not any(p == x.context for x in group)]
            # fillers from other articles only: a paragraph of the same article might answer the question
            same_article = {e.context for e in squad if e.group == group[0].group}
            others = [p for p in others if p not in same_article]
            filler = rng.sample(others, min(fillers, len(others)))
            for e in rng.sample(group, min(per_group, len(group))):
                parts = [*filler]
                at = rng.randrange(len(parts) + 1)
                parts.insert(at, context)
                start = sum(len(p) + 2 for p in parts[:at])
                out.append(("\n\n".join(parts), e.question, [(start + s, start + t) for s, t in e.answers]))
                out.append(("\n\n".join(filler), e.question, []))
    return out


def margins(reader, docs) -> list[tuple[float, bool, bool]]:
    """(best unit logit - no-answer logit, the best unit holds the answer, answerable) per question."""
    from longctx.analysis.reader import Query, ReaderDocument

    out = []
    for i, (text, question, gold) in enumerate(docs):
        doc = ReaderDocument.from_text(f"cal-{i}", text)
        [trace] = reader.span.trace(doc, [Query(question)], top_k=1)
        if not trace.unit_logits:
            continue
        units = reader.states.units(doc, reader.states.get(doc))
        gold_units = {u for s, e in gold for u in units.units_overlapping(s, e)}
        best, logit = max(trace.unit_logits.items(), key=lambda kv: kv[1])
        out.append((logit - trace.no_answer_logit, best in gold_units, bool(gold)))
    return out


def fit_bias(rows: list[tuple[float, bool, bool]]) -> tuple[float, float]:
    """The bias maximising accuracy (answer right, or no answer when there is none), midpoints of margins;
    ties go to the bias closest to 0."""
    m = np.array([r[0] for r in rows])
    cands = np.unique(np.concatenate([[0.0], -m, -m - 1e-4]))  # every point where a decision flips
    best_b, best_acc = 0.0, -1.0
    for b in sorted(cands, key=abs):
        acc = fit_bias_at(rows, float(b))
        if acc > best_acc + 1e-9:
            best_b, best_acc = float(b), acc
    return best_b, best_acc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="longctx train answer-line", description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", type=Path, required=True, help="reader checkpoint dir (written there)")
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dry-run", action="store_true", help="report only; write nothing")
    args = ap.parse_args(argv)
    from longctx.analysis.pipeline import ReaderPipeline
    from longctx.config import get_settings

    root = args.data_dir or get_settings().data_root
    if root is None:
        print("shared data not found (set LONGCTX_SHARED_DATA_DIR or --data-dir)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    reader = ReaderPipeline.load(args.checkpoint, answer_bias=0.0, pins=False)
    docs = calibration_documents(Path(root), args.seed)
    rows = margins(reader, docs)
    b, acc = fit_bias(rows)
    raw = fit_bias_at(rows, 0.0)
    report = {
        "bias": round(b, 4),
        "accuracy": round(acc, 4),
        "accuracy_without_bias": round(raw, 4),
        "questions": len(rows),
        "answerable": sum(r[2] for r in rows),
        "data": "SQuAD 2.0 evaluation articles (answerable questions) and TAT-QA evaluation excerpts, each "
        "question asked of a document with its paragraph and of the same document without it",
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(report, indent=1))
    if not args.dry_run:
        (Path(args.checkpoint) / ANSWER_LINE_FILE).write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {Path(args.checkpoint) / ANSWER_LINE_FILE}")
    return 0


def fit_bias_at(rows: list[tuple[float, bool, bool]], b: float) -> float:
    m = np.array([r[0] for r in rows])
    right = np.array([r[1] for r in rows])
    answerable = np.array([r[2] for r in rows])
    answered = m + b >= 0
    return float(np.mean(np.where(answerable, answered & right, ~answered)))


__all__ = ["ANSWER_LINE_FILE", "calibration_documents", "fit_bias", "main", "margins"]
