"""Measure (and calibrate) the lexical baseline reader on CUAD and, briefly, on SEC 10-Q questions.

    python -m longctx.analysis.evaluate_baseline --split validation
    python -m longctx.analysis.evaluate_baseline --calibrate      # tune on CUAD train, write the calibration

CUAD: gold clauses are the Python-list strings of `master_clauses.csv`, located in the contract text after
whitespace normalisation ("<omitted>" gaps are matched piece by piece). Per category we report whether the
top-1 / top-3 passages overlap a gold clause (over contracts that have one), and the no-answer accuracy
(over all contracts). Thresholds and ranking knobs are tuned on the train split only.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import re
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from longctx.training.cuad_spans import NormalisedText

from .cuad_split import contract_id, cuad_split
from .lexical import CALIBRATION_FILE, DocumentIndex, LexicalParams, LexicalReader, build_index, load_params
from .reader import Query, ReaderDocument
from .schemas import load_schema
from .text import terms

csv.field_size_limit(sys.maxsize)


# ---- gold clauses ---------------------------------------------------------------------------------------
@dataclass
class CuadDoc:
    cid: str
    text: str
    gold: dict[str, list[tuple[int, int]]]  # category -> located spans
    labelled: dict[str, bool]  # category -> has any gold clause (located or not)
    stats: dict[str, int] = field(default_factory=dict)


def load_cuad(root: Path, ids: set[str] | None = None) -> list[CuadDoc]:
    """Labelled CUAD contracts (optionally only `ids`), with their gold clauses located in the text."""
    keys = [q.key for q in load_schema("contract")]
    txt = {contract_id(p.name): p for p in (root / "txt").glob("*.txt")}
    docs = []
    with open(root / "master_clauses.csv", encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            cid = contract_id(row["Filename"])
            if cid not in txt or (ids is not None and cid not in ids):
                continue
            text = txt[cid].read_text(encoding="utf-8")
            located = NormalisedText(text)
            gold, labelled, found, total = {}, {}, 0, 0
            for key in keys:
                clauses = [c for c in ast.literal_eval(row[key] or "[]") if c.strip()]
                labelled[key] = bool(clauses)
                spans = [hit[:2] for hit in map(located.locate, clauses) if hit]
                gold[key] = spans
                total += len(clauses)
                found += len(spans)
            docs.append(CuadDoc(cid, text, gold, labelled, {"clauses": total, "located": found}))
    docs.sort(key=lambda d: d.cid)
    return docs


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


def _best_threshold(zs: np.ndarray, pos: np.ndarray, balanced: bool = False) -> tuple[float, float]:
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
    default, _ = _best_threshold(
        np.array([f[0] for f in free]), np.array([f[1] for f in free]), balanced=True
    )
    for key in sorted({r.key for r in records}):
        zs = np.array([r.rel for r in records if r.key == key])
        pos = np.array([r.labelled for r in records if r.key == key])
        thresholds[key] = round(_best_threshold(zs, pos)[0], 4)
    return replace(params, default_threshold=round(default, 4), thresholds=thresholds)


def write_calibration(params: LexicalParams, n_docs: int, path: Path = CALIBRATION_FILE) -> None:
    data = asdict(params)
    thresholds = data.pop("thresholds")
    payload = {
        "about": "Lexical reader parameters tuned on the CUAD v1 train split only "
        f"({n_docs} contracts; CUAD v1, The Atticus Project, CC BY 4.0). "
        "Rebuild: python -m longctx.analysis.evaluate_baseline --calibrate",
        "params": data,
        "thresholds": thresholds,
    }
    path.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n", encoding="utf-8")


# ---- SEC 10-Q -------------------------------------------------------------------------------------------
def _norm_text(s: str) -> str:
    return " ".join(s.lower().replace(",", "").split())


def _answer_needles(answer: str, question: str) -> list[str]:
    """Amounts and percentages of the gold answer, what must appear in a passage; years, form numbers
    ("10-Q") and numbers already in the question are left out, since any passage may contain them."""
    asked = set(re.findall(r"\d+", question))
    out = []
    for n in re.findall(r"\$?\d[\d,]*(?:\.\d+)?%?", answer):
        n = n.replace("$", "").replace(",", "").rstrip("%").rstrip(".")
        if len(n) >= 2 and n != "10" and not re.fullmatch(r"(19|20)\d\d", n) and n not in asked:
            out.append(n)
    return out


def _parse_pdf(path: Path, parse_path_inprocess) -> tuple[ReaderDocument, str]:
    """The service's own parser when it can read the file, else pypdfium2 (tolerates what pypdf refuses)."""
    if parse_path_inprocess is not None:
        try:
            parsed = parse_path_inprocess(path)
            return ReaderDocument.from_pages(path.name, parsed.pages), "longctx.ingest"
        except Exception as exc:  # noqa: BLE001 - a parser failure must not end the evaluation
            print(f"{path.name}: longctx.ingest failed ({exc}); using pypdfium2", file=sys.stderr)
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(path))
    try:
        pages = []
        for i in range(len(pdf)):
            text = pdf[i].get_textpage().get_text_range()
            pages.append((i + 1, text.replace("\r\n", "\n").replace("\r", "\n")))
    finally:
        pdf.close()
    return ReaderDocument.from_pages(path.name, pages), "pypdfium2"


def evaluate_sec10q(root: Path, reader: LexicalReader, log=print) -> dict:
    """Single-doc questions: does a number from the gold answer (or its text) occur in the top-3 passages."""
    try:
        from longctx.ingest import parse_path_inprocess
    except ImportError:  # pragma: no cover - the ingest package is another engineer's
        parse_path_inprocess = None
    with open(root / "qna_data.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows = [r for r in rows if "single" in r["Question Type"].lower()]
    docs: dict[str, ReaderDocument] = {}
    parsed_with: dict[str, int] = {}
    hits = total = answered = 0
    by_type: dict[str, list[bool]] = {}
    for r in rows:
        name = r["Source Docs"].strip().strip("*")
        path = next(iter(sorted((root / "docs").glob(f"*{name}*"))), None)
        if path is None:
            continue
        if path.name not in docs:
            docs[path.name], how = _parse_pdf(path, parse_path_inprocess)
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
        needles = _answer_needles(r["Answer"], r["Question"])
        if needles:
            hit = any(n in _norm_text(passages) for n in needles)
        else:  # a text answer: most of its content terms must be in the passages
            want = set(terms(r["Answer"]))
            hit = bool(want) and len(want & set(terms(passages))) >= 0.5 * len(want)
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=("train", "validation"), default="validation")
    ap.add_argument("--data-dir", type=Path, default=None, help="shared data folder (default: settings)")
    ap.add_argument(
        "--calibrate", action="store_true", help="tune on CUAD train and write the calibration file"
    )
    ap.add_argument("--thresholds-only", action="store_true", help="with --calibrate: refit thresholds only")
    ap.add_argument("--no-sec10q", action="store_true", help="skip the SEC 10-Q check")
    ap.add_argument("--json", type=Path, default=None, help="also write the summary as JSON here")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the Markdown tables here")
    args = ap.parse_args(argv)

    root = args.data_dir
    if root is None:
        from longctx.config import get_settings

        root = get_settings().data_root
    if root is None or not (Path(root) / "cuad" / "master_clauses.csv").exists():
        print("CUAD data not found (set LONGCTX_SHARED_DATA_DIR or --data-dir)", file=sys.stderr)
        return 2
    root = Path(root)
    t0 = time.perf_counter()
    split = cuad_split(p.name for p in (root / "cuad" / "txt").glob("*.txt"))
    if args.calibrate:
        train = load_cuad(root / "cuad", set(split["train"]))
        indexes = {d.cid: build_index(d.text) for d in train}
        params = calibrate(
            train,
            indexes,
            log=lambda m: print(m, file=sys.stderr, flush=True),
            search=not args.thresholds_only,
        )
        write_calibration(params, len(train))
        print(f"wrote {CALIBRATION_FILE} ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
    params = load_params()
    docs = load_cuad(root / "cuad", set(split[args.split]))
    indexes = {d.cid: build_index(d.text) for d in docs}
    reader = LexicalReader(params)
    summary = summarise(run(reader, docs, indexes), params)
    located = (sum(d.stats["located"] for d in docs), sum(d.stats["clauses"] for d in docs))
    summary["located"] = list(located)
    summary["contracts"] = len(docs)
    text = markdown(summary, args.split, len(docs), located)
    if not args.no_sec10q and (root / "sec10q" / "qna_data.csv").exists():
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
    print(text)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
