"""Compression ablations of the neural reader on the RULER-family suite, all variants on the same documents.

Variants: the shipped selection (the learned pruning layer, with the question's best BM25 and embedding
sentences pinned into the kept set) at rho in {1.0, 0.25, 0.1, 0.05}; at rho = 0.1 the pruning layer alone
("unpinned"), and the same token budget filled by a seeded random selection or by the BM25 passage selection
of the lexical reader (its best passages, best first, until the budget is spent). Every variant shares one
model and one cache of document states, so each haystack is encoded once and the variants differ only in
which tokens reach the global layers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from longctx.datasets.needles import TASKS

from .report import length_label, machine, table, write_json
from .ruler import run_ruler

VARIANTS: tuple[tuple[str, float], ...] = (
    ("learned", 1.0),
    ("learned", 0.25),
    ("learned", 0.1),
    ("learned", 0.05),
    ("unpinned", 0.1),
    ("random", 0.1),
    ("bm25", 0.1),
)


def variant_name(selection: str, rho: float) -> str:
    return f"{selection} rho={rho:g}"


def run_ablation(
    reader,
    lengths: Sequence[int] = (32768,),
    tasks: Sequence[str] = TASKS,
    n: int = 4,
    seed: int = 0,
    split: str = "validation",
    data_root: Path | str | None = None,
    variants: Sequence[tuple[str, float]] = VARIANTS,
    haystack: Sequence[str] | None = None,
    out: Path | str | None = None,
    log: Callable[[str], None] | None = print,
) -> dict:
    from longctx.analysis.neural import NeuralReader

    if not isinstance(reader, NeuralReader):
        raise ValueError("the ablation needs the neural reader (--reader neural)")
    t0 = time.perf_counter()
    shared = reader._cache
    reader._cache_size = max(reader._cache_size, len(lengths) * len(tasks) * n + 1)
    results = {}
    for selection, rho in variants:
        v = NeuralReader(  # the reader as configured (answer ranker included), only rho / selection vary
            reader.model,
            rho=rho,
            selection=selection,
            max_span_len=reader.max_span_len,
            answer_threshold=reader.answer_threshold,
            clause_head=reader.clause_head,
            answer_ranker=reader.answer_ranker,
            phrase_head=reader.phrase_head,
        )
        v._cache, v._cache_size = shared, reader._cache_size
        r = run_ruler(v, lengths, tasks, n, seed, split, data_root, haystack, log=None)
        results[variant_name(selection, rho)] = {
            "selection": selection,
            "rho": rho,
            "mean": r["mean"],
            "per_task": r["per_task"],
            "by_length": r["by_length"],
            "seconds": r["seconds"],
        }
        if log:
            log(f"{variant_name(selection, rho)}: mean {r['mean']:.3f} ({time.perf_counter() - t0:.0f}s)")
    result = {
        "suite": "ablation",
        "reader": reader.name,
        "split": split,
        "seed": seed,
        "n": n,
        "lengths": [int(x) for x in lengths],
        "tasks": list(tasks),
        "variants": results,
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": machine(),
    }
    result["table"] = ablation_table(result)
    if log:
        log(result["table"])
    write_json(result, out)
    return result


def ablation_table(result: dict) -> str:
    tasks = result["tasks"]
    label = "/".join(length_label(L) for L in result["lengths"])
    headers = ["variant", *tasks, f"mean ({label})"]
    rows = [[name, *(v["per_task"][t] for t in tasks), v["mean"]] for name, v in result["variants"].items()]
    return table(headers, rows)


__all__ = ["VARIANTS", "ablation_table", "run_ablation", "variant_name"]
