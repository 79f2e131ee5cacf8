"""Measure the lexical baseline reader on CUAD and, briefly, on SEC 10-Q questions.

    longctx eval baseline --split validation
    longctx train lexical                     # tune on CUAD train, write the calibration (then this report)

CUAD: gold clauses are the Python-list strings of `master_clauses.csv`, located in the contract text after
whitespace normalisation ("<omitted>" gaps are matched piece by piece). Per category we report whether the
top-1 / top-3 passages overlap a gold clause (over contracts that have one), and the no-answer accuracy
(over all contracts). Thresholds and ranking knobs are tuned on the train split only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from longctx.analysis.lexical import DocumentIndex, LexicalParams, LexicalReader, build_index, load_params
from longctx.analysis.reader import Query, ReaderDocument
from longctx.analysis.schemas import load_schema
from longctx.datasets.cuad import CuadDoc, cuad_split, load_cuad
from longctx.datasets.sec10q import load_report, question_pdf, single_doc_questions

from .sec10q import passage_contains_answer


# ---- evaluation -----------------------------------------------------------------------------------------
@dataclass
class Record:
    key: str
    labelled: bool
    located: bool
    rel: float  # the reader's no-answer feature
    top1_passage: bool
    top3_passage: bool
    top1_span: bool


def _overlaps(a: int, b: int, spans: list[tuple[int, int]]) -> bool:
    return any(a < e and s < b for s, e in spans)


def run(reader: LexicalReader, docs: list[CuadDoc], indexes: dict[str, DocumentIndex]) -> list[Record]:
    queries = load_schema("contract")
    out = []
    for d in docs:
        idx = indexes[d.cid]
        for q in queries:
            ranking = reader.rank(idx, q)
            picked = reader.passages(idx, ranking, 3)
            spans = d.gold[q.key]
            hits = [_overlaps(idx.segments[lo].start, idx.segments[hi].end, spans) for _, lo, hi, _ in picked]
            span1 = bool(picked) and _overlaps(
                idx.segments[picked[0][0]].start, idx.segments[picked[0][0]].end, spans
            )
            out.append(
                Record(
                    q.key,
                    d.labelled[q.key],
                    bool(spans),
                    ranking.rel,
                    bool(hits[:1] and hits[0]),
                    any(hits),
                    span1,
                )
            )
    return out


def summarise(records: list[Record], params: LexicalParams) -> dict:
    """Per-category and macro metrics; no-answer accuracy uses the thresholds in `params`."""
    by_key: dict[str, list[Record]] = {}
    for r in records:
        by_key.setdefault(r.key, []).append(r)
    rows = {}
    for key, rs in by_key.items():
        located = [r for r in rs if r.located]
        thr = params.thresholds.get(key, params.default_threshold)
        rows[key] = {
            "contracts": len(rs),
            "with_answer": sum(r.labelled for r in rs),
            "located": len(located),
            "top1_passage": float(np.mean([r.top1_passage for r in located])) if located else None,
            "top3_passage": float(np.mean([r.top3_passage for r in located])) if located else None,
            "top1_span": float(np.mean([r.top1_span for r in located])) if located else None,
            "no_answer_acc": float(np.mean([(r.rel >= thr) == r.labelled for r in rs])),
            "majority_acc": max(np.mean([r.labelled for r in rs]), 1 - np.mean([r.labelled for r in rs])),
        }

    def macro(name: str) -> float:
        vals = [v[name] for v in rows.values() if v[name] is not None]
        return float(np.mean(vals)) if vals else float("nan")

    located = [r for r in records if r.located]
    overall = {
        "macro_top1_passage": macro("top1_passage"),
        "macro_top3_passage": macro("top3_passage"),
        "macro_top1_span": macro("top1_span"),
        "micro_top1_passage": float(np.mean([r.top1_passage for r in located])),
        "micro_top3_passage": float(np.mean([r.top3_passage for r in located])),
        "no_answer_acc": float(
            np.mean(
                [
                    (r.rel >= params.thresholds.get(r.key, params.default_threshold)) == r.labelled
                    for r in records
                ]
            )
        ),
        "majority_acc": macro("majority_acc"),
    }
    return {"categories": rows, "overall": overall}


# ---- SEC 10-Q -------------------------------------------------------------------------------------------
def evaluate_sec10q(root: Path, reader: LexicalReader) -> dict:
    """Single-doc questions: does a number from the gold answer (or its text) occur in the top-3 passages."""
    docs: dict[str, ReaderDocument] = {}
    parsed_with: dict[str, int] = {}
    hits = total = answered = 0
    by_type: dict[str, list[bool]] = {}
    for r in single_doc_questions(root):
        path = question_pdf(root, r)
        if path is None:
            continue
        if path.name not in docs:
            docs[path.name], how = load_report(path)
            parsed_with[how] = parsed_with.get(how, 0) + 1
        doc = docs[path.name]
        query = Query(r["Question"])
        idx = reader.index(doc)
        ranking = reader.rank(idx, query)
        picked = reader.passages(idx, ranking, 3)  # retrieval quality, whatever the no-answer decision
        answered += reader.answer(doc, [query], top_k=1)[0][0].text is not None
        passages = " ".join(
            doc.text[idx.segments[lo].start : idx.segments[hi].end] for _, lo, hi, _ in picked
        )
        hit = passage_contains_answer(passages, r["Answer"], r["Question"])
        hits += hit
        total += 1
        by_type.setdefault(r["Source Chunk Type"], []).append(hit)
    return {
        "questions": total,
        "top3_contains_answer": hits / total if total else float("nan"),
        "by_chunk_type": {k: {"n": len(v), "hit": float(np.mean(v))} for k, v in sorted(by_type.items())},
        "parsed_with": parsed_with,
        "answered": answered,
    }


# ---- report ---------------------------------------------------------------------------------------------
def markdown(summary: dict, split: str, n_docs: int, located: tuple[int, int]) -> str:
    o = summary["overall"]
    lines = [
        f"CUAD {split} split: {n_docs} contracts; gold clauses located in the text: "
        f"{located[0]}/{located[1]} "
        f"({located[0] / max(located[1], 1):.1%}).",
        "",
        "| metric | value |",
        "|---|---|",
        f"| top-1 passage overlaps gold (macro over categories) | {o['macro_top1_passage']:.3f} |",
        f"| top-3 passages overlap gold (macro) | {o['macro_top3_passage']:.3f} |",
        f"| top-1 answer span overlaps gold (macro) | {o['macro_top1_span']:.3f} |",
        f"| top-1 / top-3 passage (micro over all located answers) | "
        f"{o['micro_top1_passage']:.3f} / {o['micro_top3_passage']:.3f} |",
        f"| no-answer accuracy (all contract x category pairs) | {o['no_answer_acc']:.3f} |",
        f"| majority-class no-answer accuracy (macro, for reference) | {o['majority_acc']:.3f} |",
        "",
        "| category | with answer | located | top-1 | top-3 | span@1 | no-answer acc | majority |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def f(x):
        return "-" if x is None else f"{x:.2f}"

    for key, v in summary["categories"].items():
        lines.append(
            f"| {key} | {v['with_answer']}/{v['contracts']} | {v['located']} | {f(v['top1_passage'])} | "
            f"{f(v['top3_passage'])} | {f(v['top1_span'])} | {v['no_answer_acc']:.2f} | "
            f"{v['majority_acc']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def cuad_root(data_dir: Path | str | None) -> Path | None:
    """The shared data folder holding CUAD (`--data-dir`, else the settings), or None when it is absent."""
    root = data_dir
    if root is None:
        from longctx.config import get_settings

        root = get_settings().data_root
    if root is None or not (Path(root) / "cuad" / "master_clauses.csv").exists():
        return None
    return Path(root)


def report(root: Path, split: str, sec10q: bool = True) -> tuple[dict, str]:
    """The baseline's summary on one CUAD split (and the 10-Q check) as a dict and as Markdown."""
    t0 = time.perf_counter()
    sides = cuad_split(p.name for p in (root / "cuad" / "txt").glob("*.txt"))
    params = load_params()
    docs = load_cuad(root / "cuad", set(sides[split]))
    indexes = {d.cid: build_index(d.text) for d in docs}
    reader = LexicalReader(params)
    summary = summarise(run(reader, docs, indexes), params)
    located = (sum(d.stats["located"] for d in docs), sum(d.stats["clauses"] for d in docs))
    summary["located"] = list(located)
    summary["contracts"] = len(docs)
    text = markdown(summary, split, len(docs), located)
    if sec10q and (root / "sec10q" / "qna_data.csv").exists():
        sec = evaluate_sec10q(root / "sec10q", reader)
        summary["sec10q"] = sec
        text += (
            f"\nSEC 10-Q single-doc questions: {sec['questions']}; a number from the gold answer is inside "
            "the "
            f"top-3 passages for {sec['top3_contains_answer']:.3f} "
            + ", ".join(f"{k}: {v['hit']:.2f} (n={v['n']})" for k, v in sec["by_chunk_type"].items())
            + f". The reader answered {sec['answered']} of them (the rest: no answer). "
            f"PDFs parsed with: {sec['parsed_with']}.\n"
        )
    text += f"\n({time.perf_counter() - t0:.0f}s)\n"
    return summary, text


def add_report_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--split", choices=("train", "validation"), default="validation")
    ap.add_argument("--data-dir", type=Path, default=None, help="shared data folder (default: settings)")
    ap.add_argument("--no-sec10q", action="store_true", help="skip the SEC 10-Q check")
    ap.add_argument("--json", type=Path, default=None, help="also write the summary as JSON here")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the Markdown tables here")


def report_cli(
    argv: list[str] | None,
    *,
    prog: str,
    description: str,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    before_report: Callable[[argparse.Namespace, Path], None] | None = None,
) -> int:
    """A command that ends with the baseline report (`longctx eval baseline`, `longctx train lexical`):
    parse the report's options (and the command's own), find CUAD, run `before_report`, print the report."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    if add_arguments is not None:
        add_arguments(ap)
    add_report_arguments(ap)
    args = ap.parse_args(argv)
    root = cuad_root(args.data_dir)
    if root is None:
        print("CUAD data not found (set LONGCTX_SHARED_DATA_DIR or --data-dir)", file=sys.stderr)
        return 2
    if before_report is not None:
        before_report(args, root)
    summary, text = report(root, args.split, sec10q=not args.no_sec10q)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`longctx eval baseline`."""
    return report_cli(argv, prog="longctx eval baseline", description=__doc__.split("\n\n")[0])
