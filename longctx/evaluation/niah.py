"""Needle in a haystack: a grid of context lengths x needle depths, `n` examples per cell.

Each example is `make_needle_example("single", length, depth, seed, split=...)` on the VALIDATION CUAD
haystack (contracts never used for training); it is correct when the reader's top-1 answer (its answer span or
its passage) contains the needle's value span. No answer counts as wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from longctx.analysis.reader import Query, Reader, ReaderDocument
from longctx.datasets.needles import make_needle_example

from .report import heatmap_png, length_label, machine, spans_found, table, write_json

DEFAULT_LENGTHS = (2048, 8192, 32768, 131072)
DEFAULT_DEPTHS = tuple(round(i / 10, 1) for i in range(11))


def example_seed(seed: int, i: int) -> int:
    """Seed of the i-th example of a cell; the same across cells, so depths share their haystacks."""
    return seed * 1_000_003 + i


def run_niah(
    reader: Reader,
    lengths: Sequence[int] = DEFAULT_LENGTHS,
    depths: Sequence[float] = DEFAULT_DEPTHS,
    n: int = 3,
    seed: int = 0,
    split: str = "validation",
    data_root: Path | str | None = None,
    haystack: Sequence[str] | None = None,
    out: Path | str | None = None,
    png: Path | str | None = None,
    log: Callable[[str], None] | None = print,
) -> dict:
    """Accuracy per (length, depth) cell; `grid[i][j]` is lengths[i] x depths[j]. Prints a table, writes JSON
    (`out`) and the heatmap (`png`) when given."""
    t0 = time.perf_counter()
    grid: list[list[float]] = []
    cells = []
    for length in lengths:
        row = []
        for depth in depths:
            hits, measured = [], []
            for i in range(n):
                ex = make_needle_example(
                    "single", int(length), float(depth), example_seed(seed, i), split, data_root, haystack
                )
                doc = ReaderDocument.from_text(f"niah-{length}-{depth}-{i}", ex.text)
                answers = reader.answer(doc, [Query(ex.question)], top_k=1)[0]
                hits.append(all(spans_found(answers, ex.answers, 1)))
                measured.append(ex.length_tokens)
            acc = float(np.mean(hits)) if hits else float("nan")
            row.append(acc)
            cells.append(
                {"length": int(length), "depth": float(depth), "n": n, "accuracy": acc, "tokens": measured}
            )
        grid.append(row)
        if log:
            log(f"niah {length_label(int(length))}: {np.mean(row):.3f} ({time.perf_counter() - t0:.0f}s)")
    result = {
        "suite": "niah",
        "reader": getattr(reader, "name", type(reader).__name__),
        "split": split,
        "seed": seed,
        "n": n,
        "lengths": [int(x) for x in lengths],
        "depths": [float(x) for x in depths],
        "grid": grid,
        "cells": cells,
        "by_length": {str(int(L)): float(np.mean(r)) for L, r in zip(lengths, grid, strict=True)},
        "overall": float(np.mean(grid)) if grid else float("nan"),
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
            title=f"NIAH accuracy, {result['reader']} reader (n={n} per cell, CUAD {split})",
        )
        result["png"] = str(png)
    write_json(result, out)
    return result


def niah_table(result: dict) -> str:
    headers = ["length \\ depth"] + [f"{d:g}" for d in result["depths"]] + ["mean"]
    rows = [
        [length_label(L)] + [f"{v:.2f}" for v in row] + [f"{np.mean(row):.3f}"]
        for L, row in zip(result["lengths"], result["grid"], strict=True)
    ]
    return table(headers, rows) + f"\n\noverall accuracy: {result['overall']:.3f}"
