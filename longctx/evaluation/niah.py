"""Needles in a haystack, read for real: lengths x depths, several needles per document.

Each document is a CUAD *validation* contract haystack (never used for training) of the given length with
one fact needle per depth (`longctx.datasets.facts.make_fact_document`), written and asked in the held-out
``eval`` wording family -- sentence and question templates the reader never saw in training, values such as
codes, amounts, dates and names -- so the needles are each other's distractors, plus questions about facts
that are absent. The whole document is tokenized and encoded (no cached states), once, and every question of
the document is asked against it. With ``near_identical=k`` (multi-key) every needle gets k distractor needles
whose keys differ from its key by a character, a digit or a word.

A needle is found when the reader's top-1 answer (its span or passage) contains the value; an absent fact
is right when the reader gives no answer. For the trained reader each miss is attributed to the stage that
lost it: ``pruning`` (the needle's unit was not kept), ``reader`` (kept, but another unit was chosen),
``answer line`` (chosen, but under the 0.5 line); keep recall is reported per length.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from longctx.analysis.reader import Query, Reader, ReaderDocument
from longctx.datasets.facts import make_fact_document

from .report import heatmap_png, length_label, machine, spans_found, table, write_json

DEFAULT_LENGTHS = (4096, 32768, 131072, 262144, 524288, 1048576)
DEFAULT_DEPTHS = (0.05, 0.25, 0.5, 0.75, 0.95)


def example_seed(seed: int, length: int, i: int) -> int:
    return seed * 1_000_003 + length * 7 + i


def _miss_stage(trace, gold_units: list[int], threshold: float) -> str:
    if not any(u in trace.unit_logits for u in gold_units):
        return "pruning"
    best = max(trace.unit_logits.items(), key=lambda kv: kv[1])[0]
    if best not in gold_units:
        return "reader"
    return "answer line" if trace.answers[0].text is None else "reader"


def run_niah(
    reader: Reader,
    lengths: Sequence[int] = DEFAULT_LENGTHS,
    depths: Sequence[float] = DEFAULT_DEPTHS,
    n: int = 5,
    seed: int = 0,
    split: str = "validation",
    family: str = "eval",
    near_identical: int = 0,
    absent: int = 1,
    data_root: Path | str | None = None,
    haystack: Sequence[str] | None = None,
    out: Path | str | None = None,
    png: Path | str | None = None,
    log: Callable[[str], None] | None = print,
) -> dict:
    """Accuracy per (length, depth) cell over ``n`` documents per length (``n * len(depths)`` needles)."""
    t0 = time.perf_counter()
    span = getattr(reader, "span", None)  # the trained pipeline: traces show which stage lost a miss
    suite = "multikey" if near_identical else "niah"
    grid: list[list[float]] = []
    by_length: dict[str, dict] = {}
    misses: list[dict] = []
    for length in lengths:
        hits = np.zeros((n, len(depths)), dtype=bool)
        kept_gold, asked = 0, 0
        absent_right, absent_n = 0, 0
        tokens = []
        for i in range(n):
            fd = make_fact_document(
                int(length),
                list(depths),
                example_seed(seed, int(length), i),
                family,
                split,
                data_root,
                haystack,
                near_identical=near_identical,
                absent=absent,
                near_all=bool(near_identical),
            )
            tokens.append(fd.length_tokens)
            doc = ReaderDocument.from_text(f"{suite}-{length}-{i}", fd.text)
            queries = [Query(q.text) for q in fd.questions]
            if span is not None:
                traces = span.trace(doc, queries, top_k=1)
                answers = [t.answers for t in traces]
                units = span.states.units(doc, span.states.get(doc))
            else:
                traces, units = None, None
                answers = reader.answer(doc, queries, top_k=1)
            for qi, q in enumerate(fd.questions):
                if q.fact is None:
                    absent_n += 1
                    absent_right += answers[qi][0].text is None
                    continue
                if q.fact >= len(depths):
                    continue  # a near-identical distractor's own question is not a grid cell
                found = all(spans_found(answers[qi], fd.answer_spans[qi], 1))
                hits[i, q.fact] = found
                if traces is not None:
                    gold = sorted({u for s, e in fd.answer_spans[qi] for u in units.units_overlapping(s, e)})
                    asked += 1
                    kept_gold += any(u in traces[qi].unit_logits for u in gold)
                if not found:
                    got = answers[qi][0]
                    misses.append(
                        {
                            "length": int(length),
                            "depth": float(depths[q.fact]),
                            "doc": i,
                            "question": q.text,
                            "value": fd.facts[q.fact].value,
                            "got": None if got.text is None else got.text[:200],
                            "score": got.score,
                            "stage": _miss_stage(traces[qi], gold, span.answer_threshold)
                            if traces is not None
                            else "reader",
                        }
                    )
            if log:
                log(
                    f"  {suite} {length_label(int(length))} doc {i}: {int(hits[i].sum())}/{len(depths)}"
                    f" ({time.perf_counter() - t0:.0f}s)"
                )
        row = [float(x) for x in hits.mean(0)]
        grid.append(row)
        by_length[str(int(length))] = {
            "accuracy": float(hits.mean()),
            "found": int(hits.sum()),
            "needles": int(hits.size),
            "keep_recall": kept_gold / asked if asked else None,
            "absent_unanswered": absent_right / absent_n if absent_n else None,
            "tokens": tokens,
        }
        if log:
            log(f"{suite} {length_label(int(length))}: {hits.mean():.3f} ({time.perf_counter() - t0:.0f}s)")
    result = {
        "suite": suite,
        "reader": getattr(reader, "name", type(reader).__name__),
        "split": split,
        "family": family,
        "seed": seed,
        "n_documents": n,
        "near_identical": near_identical,
        "lengths": [int(x) for x in lengths],
        "depths": [float(x) for x in depths],
        "grid": grid,
        "by_length": by_length,
        "overall": float(np.mean(grid)) if grid else float("nan"),
        "misses": misses,
        "miss_stages": {
            s: sum(m["stage"] == s for m in misses) for s in ("pruning", "reader", "answer line")
        },
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": machine(),
    }
    result["table"] = niah_table(result)
    if log:
        log(result["table"])
    if png is not None:
        heatmap_png(
            grid,
            [length_label(int(x)) for x in lengths],
            [f"{d:g}" for d in depths],
            png,
            title=f"{suite} accuracy, {result['reader']} ({n} docs x {len(depths)} needles per length)",
        )
        result["png"] = str(png)
    write_json(result, out)
    return result


def niah_table(result: dict) -> str:
    headers = ["length \\ depth"] + [f"{d:g}" for d in result["depths"]] + ["all", "keep recall", "absent"]
    rows = []
    for length, row in zip(result["lengths"], result["grid"], strict=True):
        bl = result["by_length"][str(length)]
        kr, ab = bl["keep_recall"], bl["absent_unanswered"]
        rows.append(
            [length_label(length)]
            + [f"{v:.2f}" for v in row]
            + [
                f"{bl['found']}/{bl['needles']}",
                "-" if kr is None else f"{kr:.2f}",
                "-" if ab is None else f"{ab:.2f}",
            ]
        )
    stages = ", ".join(f"{k} {v}" for k, v in result["miss_stages"].items())
    return table(headers, rows) + f"\n\noverall accuracy: {result['overall']:.3f}; misses by stage: {stages}"
