"""Ablation: does the trained network carry the answer? Three readers on the same documents.

* ``network``: the trained pipeline's span reader alone -- the evidence scorer chooses what the global layers
  read, no BM25 or embedding-cosine input, no pinned passages;
* ``bm25``: the lexical reader (BM25 over sentences, no model);
* ``hybrid``: the shipped reader -- the network, with the lexical reader's best passages also kept.

Suites (each on identical documents and questions for the three readers): ``niah`` (fact needles in the
held-out wording family, at the given lengths), ``cuad`` (free questions on CUAD validation contracts), and
``sec10q`` (the 10-Q single-document questions). The network and the hybrid share one cache of encoded
documents, so each document is encoded once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .report import length_label, machine, table, write_json

SUITES = ("niah", "cuad", "sec10q")
VARIANTS = ("network", "bm25", "hybrid")


def readers(pipeline) -> dict[str, object]:
    from longctx.analysis.lexical import LexicalReader
    from longctx.analysis.pipeline import ReaderPipeline

    if not isinstance(pipeline, ReaderPipeline):
        raise ValueError("the ablation needs the trained reader (--reader neural)")
    pipeline.states.size = max(pipeline.states.size, 2)
    return {
        "network": pipeline.variant(pins=False),
        "bm25": LexicalReader.default(),
        "hybrid": pipeline.variant(pins=True),
    }


def run_ablation(
    reader,
    suites: Sequence[str] = SUITES,
    niah_lengths: Sequence[int] = (131072, 1048576),
    niah_docs: int = 2,
    cuad_contracts: int = 40,
    sec10q_limit: int | None = None,
    seed: int = 0,
    data_root: Path | str | None = None,
    out: Path | str | None = None,
    log: Callable[[str], None] | None = print,
) -> dict:
    from .free_questions import run_cuad_questions
    from .niah import DEFAULT_DEPTHS, run_niah
    from .sec10q import run_sec10q

    t0 = time.perf_counter()
    variants = readers(reader)
    # keep every NIAH document's state, so the network and the hybrid read each document encoded once
    reader.states.size = max(reader.states.size, niah_docs * len(niah_lengths) + 1)
    results: dict[str, dict[str, dict]] = {}
    for suite in suites:
        results[suite] = {}
        for name, r in variants.items():
            if log:
                log(f"ablation: {suite} / {name}")
            if suite == "niah":
                res = run_niah(
                    r, niah_lengths, DEFAULT_DEPTHS, n=niah_docs, seed=seed, data_root=data_root, log=None
                )
                metric = {length_label(int(L)): v["accuracy"] for L, v in res["by_length"].items()}
                metric["all"] = res["overall"]
            elif suite == "cuad":
                res = run_cuad_questions(
                    r, n_contracts=cuad_contracts, seed=seed, data_root=data_root, log=None
                )
                metric = {
                    "top-1 overlaps clause": res["found_best"],
                    "at answer line": res["found_at_line"],
                    "absent unanswered": res["absent_unanswered"],
                }
            elif suite == "sec10q":
                res = run_sec10q(r, data_root, limit=sec10q_limit, log=None)
                metric = {
                    "top-1 passage contains answer": res["top1_passage_contains_answer"],
                    "top-3": res["top3_passages_contain_answer"],
                    "answered": res["answered"] / max(res["questions"], 1),
                }
            else:
                raise ValueError(f"unknown ablation suite {suite!r}; one of {', '.join(SUITES)}")
            results[suite][name] = metric
            if log:
                log(f"  {name}: {metric} ({time.perf_counter() - t0:.0f}s)")
    result = {
        "suite": "ablation",
        "reader": getattr(reader, "name", type(reader).__name__),
        "results": results,
        "niah_lengths": [int(x) for x in niah_lengths],
        "niah_docs": niah_docs,
        "cuad_contracts": cuad_contracts,
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": machine(),
    }
    result["table"] = ablation_table(result)
    if log:
        log(result["table"])
    write_json(result, out)
    return result


def ablation_table(result: dict) -> str:
    parts = []
    for suite, by_variant in result["results"].items():
        metrics = list(next(iter(by_variant.values())).keys())
        rows = [
            [name] + ["-" if m.get(k) is None else f"{m[k]:.3f}" for k in metrics]
            for name, m in by_variant.items()
        ]
        parts.append(f"{suite}\n\n" + table(["reader", *metrics], rows))
    return "\n\n".join(parts)
