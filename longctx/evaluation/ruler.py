"""RULER-style synthetic tasks (single, multi_key, multi_value, multi_query, variable_tracking) by length.

Scoring per example (an answer "finds" a gold span when its answer span or its passage contains it):

- single, multi_key: 1 when the top-1 answer finds the value, else 0.
- multi_value, multi_query: the fraction of the gold values found within the top-k answers, k = number of
  gold values (RULER's recall-style string match, on spans).
- variable_tracking: 1 when every variable name of the chain is found within the top-k answers (k = number
  of names), else 0; the fraction found is kept as `partial`.

Depth of the first answer needle: (i + 0.5) / n for the i-th of n examples per (task, length).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from longctx.analysis.reader import Answer, Query, Reader, ReaderDocument
from longctx.datasets.needles import TASKS, make_needle_example

from .report import length_label, machine, spans_found, table, write_json

DEFAULT_LENGTHS = (8192, 32768)


def top_k_for(task: str, n_answers: int) -> int:
    return 1 if task in ("single", "multi_key") else max(n_answers, 1)


def score_task(task: str, answers: Sequence[Answer], gold: Sequence[tuple[int, int]]) -> tuple[float, float]:
    """(score, partial) of one example: see the module docstring."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    found = spans_found(answers, gold, top_k_for(task, len(gold)))
    partial = float(np.mean(found)) if found else 0.0
    if task in ("single", "multi_key"):
        return float(all(found) and bool(found)), partial
    if task == "variable_tracking":
        return float(all(found) and bool(found)), partial
    return partial, partial


def run_ruler(
    reader: Reader,
    lengths: Sequence[int] = DEFAULT_LENGTHS,
    tasks: Sequence[str] = TASKS,
    n: int = 3,
    seed: int = 0,
    split: str = "validation",
    data_root: Path | str | None = None,
    haystack: Sequence[str] | None = None,
    out: Path | str | None = None,
    log: Callable[[str], None] | None = print,
) -> dict:
    t0 = time.perf_counter()
    scores: dict[str, dict[str, float]] = {t: {} for t in tasks}
    examples = []
    for length in lengths:
        for task in tasks:
            vals = []
            for i in range(n):
                depth = (i + 0.5) / n
                ex = make_needle_example(
                    task, int(length), depth, seed * 1_000_003 + i, split, data_root, haystack
                )
                doc = ReaderDocument.from_text(f"ruler-{task}-{length}-{i}", ex.text)
                k = top_k_for(task, len(ex.answers))
                answers = reader.answer(doc, [Query(ex.question)], top_k=k)[0]
                score, partial = score_task(task, answers, ex.answers)
                vals.append(score)
                examples.append(
                    {
                        "task": task,
                        "length": int(length),
                        "tokens": ex.length_tokens,
                        "depth": depth,
                        "score": score,
                        "partial": partial,
                        "answers": ex.answer_texts,
                        "predicted": [a.text for a in answers][:k],
                    }
                )
            scores[task][str(int(length))] = float(np.mean(vals)) if vals else float("nan")
        if log:
            log(f"ruler {length_label(int(length))} done ({time.perf_counter() - t0:.0f}s)")
    per_task = {t: float(np.mean(list(v.values()))) for t, v in scores.items()}
    by_length = {str(int(L)): float(np.mean([scores[t][str(int(L))] for t in tasks])) for L in lengths}
    result = {
        "suite": "ruler",
        "reader": getattr(reader, "name", type(reader).__name__),
        "split": split,
        "seed": seed,
        "n": n,
        "lengths": [int(x) for x in lengths],
        "tasks": list(tasks),
        "scores": scores,
        "per_task": per_task,
        "by_length": by_length,
        "mean": float(np.mean(list(per_task.values()))) if per_task else float("nan"),
        "examples": examples,
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": machine(),
    }
    result["table"] = ruler_table(result)
    if log:
        log(result["table"])
    write_json(result, out)
    return result


def ruler_table(result: dict) -> str:
    lengths = result["lengths"]
    headers = ["task"] + [length_label(L) for L in lengths] + ["mean"]
    rows = []
    for t in result["tasks"]:
        rows.append([t] + [result["scores"][t][str(L)] for L in lengths] + [result["per_task"][t]])
    rows.append(["**mean**"] + [result["by_length"][str(L)] for L in lengths] + [result["mean"]])
    return table(headers, rows)
