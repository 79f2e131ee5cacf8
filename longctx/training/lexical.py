"""Calibrate the lexical baseline reader on CUAD's training contracts and write its calibration file.

    longctx train lexical                      # ranking knobs + per-field thresholds, then the report
    longctx train lexical --thresholds-only    # refit the thresholds on the current knobs

A coordinate search over the ranking knobs (macro top-3 passage hit rate), then a no-answer threshold per
contract field; free questions get a threshold fitted on the schema questions asked without their field.
Only the train split is used; the report afterwards is `longctx eval baseline` on the split asked for.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from longctx.analysis.lexical import (
    CALIBRATION_FILE,
    DocumentIndex,
    LexicalParams,
    LexicalReader,
    build_index,
    load_params,
)
from longctx.analysis.reader import Query
from longctx.analysis.schemas import load_schema
from longctx.datasets.cuad import CuadDoc, cuad_split, load_cuad
from longctx.evaluation.baseline import report_cli, run, summarise


def best_threshold(zs: np.ndarray, pos: np.ndarray, balanced: bool = False) -> tuple[float, float]:
    """Threshold maximising accuracy (or balanced accuracy: the mean of the recall of answerable and of
    unanswerable cases) of "answer iff z >= t", at midpoints between neighbouring z values."""
    cand = np.unique(np.concatenate([zs, [zs.min() - 1.0, zs.max() + 1.0]]))
    mids = np.concatenate([[cand[0]], (cand[1:] + cand[:-1]) / 2.0])
    best_t, best_acc = float(mids[-1]), -1.0
    for t in mids:
        if balanced and pos.any() and (~pos).any():
            acc = 0.5 * float(np.mean(zs[pos] >= t) + np.mean(zs[~pos] < t))
        else:
            acc = float(np.mean((zs >= t) == pos))
        if acc > best_acc + 1e-12:
            best_t, best_acc = float(t), acc
    return best_t, best_acc


def calibrate(
    docs: list[CuadDoc], indexes: dict[str, DocumentIndex], log=print, search: bool = True
) -> LexicalParams:
    """Coordinate search of the ranking knobs (macro top-3 passage hit rate), then per-key thresholds;
    with search=False only the thresholds are refitted, on the current calibration's knobs."""
    params = LexicalParams() if search else replace(load_params(), thresholds={})
    grid = {
        "k1": [0.8, 1.2, 1.6, 2.0],
        "b": [0.25, 0.5, 0.75],
        "heading_weight": [0.0, 0.3, 0.6, 1.0],
        "neighbour_weight": [0.0, 0.15, 0.3, 0.5],
        "keyword_weight": [0.3, 0.6, 1.0],
        "description_weight": [0.0, 0.15, 0.3, 0.5],
        "lead_weight": [0.0, 0.5, 1.0, 2.0],
        "lead_chars": [1000.0, 3000.0, 8000.0],
    }

    def objective(p: LexicalParams) -> float:
        s = summarise(run(LexicalReader(p), docs, indexes), p)["overall"]
        return s["macro_top3_passage"] + 0.5 * s["macro_top1_passage"]

    best = objective(params) if search else 0.0
    log(f"start {best:.4f}")
    for _ in range(2 if search else 0):
        improved = False
        for name, values in grid.items():
            for v in values:
                if getattr(params, name) == v:
                    continue
                cand = replace(params, **{name: v})
                score = objective(cand)
                if score > best + 1e-6:
                    best, params, improved = score, cand, True
                    log(f"{name}={v}: {score:.4f}")
        if not improved:
            break
    records = run(LexicalReader(params), docs, indexes)
    thresholds = {}
    # Free questions have no key (no field keywords): fit their default threshold on the schema questions
    # asked without keys, which is how an analyst's own question reaches the reader. Balanced accuracy,
    # because CUAD's prior (70% of category x contract pairs empty) says nothing about analysts' questions.
    plain = LexicalReader(params)
    free = [
        (plain.rank(indexes[d.cid], Query(q.text)).rel, d.labelled[q.key])
        for d in docs
        for q in load_schema("contract")
    ]
    default, _ = best_threshold(np.array([f[0] for f in free]), np.array([f[1] for f in free]), balanced=True)
    for key in sorted({r.key for r in records}):
        zs = np.array([r.rel for r in records if r.key == key])
        pos = np.array([r.labelled for r in records if r.key == key])
        thresholds[key] = round(best_threshold(zs, pos)[0], 4)
    return replace(params, default_threshold=round(default, 4), thresholds=thresholds)


def write_calibration(params: LexicalParams, n_docs: int, path: Path = CALIBRATION_FILE) -> None:
    data = asdict(params)
    thresholds = data.pop("thresholds")
    payload = {
        "about": "Lexical reader parameters tuned on the CUAD v1 train split only "
        f"({n_docs} contracts; CUAD v1, The Atticus Project, CC BY 4.0). "
        "Rebuild: longctx train lexical",
        "params": data,
        "thresholds": thresholds,
    }
    path.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _calibrate_and_write(args: argparse.Namespace, root: Path) -> None:
    t0 = time.perf_counter()
    sides = cuad_split(p.name for p in (root / "cuad" / "txt").glob("*.txt"))
    train = load_cuad(root / "cuad", set(sides["train"]))
    indexes = {d.cid: build_index(d.text) for d in train}
    params = calibrate(
        train,
        indexes,
        log=lambda m: print(m, file=sys.stderr, flush=True),
        search=not args.thresholds_only,
    )
    write_calibration(params, len(train))
    print(f"wrote {CALIBRATION_FILE} ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """`longctx train lexical`: calibrate on CUAD train, write the file, then the baseline report."""
    return report_cli(
        argv,
        prog="longctx train lexical",
        description=__doc__.split("\n\n")[0],
        add_arguments=lambda ap: ap.add_argument(
            "--thresholds-only", action="store_true", help="refit the thresholds only"
        ),
        before_report=_calibrate_and_write,
    )
