"""Train the clause head (``longctx.model.clause_head``): one logistic probe per contract field, on CUAD.

For every training-split contract the reader's frozen local encoder gives each segment's features (own,
previous and next mean state, length, position, heading), cached per contract as fp16 npz so that a run can
stop and resume; the lexical reader adds each field's BM25 scores. A segment is a positive for a field when
at least half of its characters lie inside one of the field's annotated clauses, a negative when none do;
segments partly inside (a clause's heading, the tail of a long sentence) are left out of the loss. All 41
probes are fitted together, full batch, on every segment of every contract (no sampling, so the
probabilities stay calibrated across documents). A share of the contracts is held out for a quick
segment-level average-precision report; the shipped head is then refitted on all of them and written next to
the reader checkpoint. Last, the answer calibration (``longctx.model.clause_head.AnswerCalibration``) is
fitted on out-of-fold logits: the contracts are split into folds, each fold's logits come from probes fitted
on the other folds, and each question's top-20 segments become answer examples labelled by CUAD's own rule
(the segment's words match an annotated clause of the field). The CUAD figures in docs/eval.md come from
``longctx eval cuad`` on the validation split, which this never reads.

    longctx train clause-head --checkpoint longctx/model/checkpoint --cache runs/clause-features
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from pathlib import Path

import numpy as np
import torch

from longctx.analysis.reader import Query, ReaderDocument
from longctx.evaluation.report import cuad_match
from longctx.model.clause_head import (
    AnswerCalibration,
    ClauseHead,
    answer_features,
    field_features,
    top_segments,
)


def segment_labels(segments, spans: list[tuple[int, int]], min_inside: float = 0.5) -> np.ndarray:
    """Per segment: 1 (>= ``min_inside`` of it inside a gold span), 0 (nothing inside), -1 (in between)."""
    out = np.zeros(len(segments), dtype=np.int8)
    for i, s in enumerate(segments):
        inside = sum(max(0, min(s.end, e) - max(s.start, b)) for b, e in spans)
        if s.end > s.start and inside >= min_inside * (s.end - s.start):
            out[i] = 1
        elif inside > 0:
            out[i] = -1
    return out


def cache_name(cid: str) -> str:
    """A contract's feature-cache file name (CUAD ids are long and share long prefixes)."""
    return hashlib.sha256(cid.encode()).hexdigest()[:20] + ".npz"


def segment_matches(text: str, segments, spans: list[tuple[int, int]], key: str) -> np.ndarray:
    """Per segment: 1 when its text matches one of the gold clauses by CUAD's rule (``cuad_match``, wherever
    the segment is: a clause repeated in the contract counts, as in CUAD's evaluation), else 0."""
    golds = [text[s:e] for s, e in spans]
    out = np.zeros(len(segments), dtype=np.int8)
    for i, sg in enumerate(segments):
        out[i] = any(cuad_match(text[sg.start : sg.end], g, key) for g in golds)
    return out


def contract_rows(reader, doc, schema, cache_dir: Path | None):
    """(shared (S, D), lexical (S, F, 3), labels (S, F), matches (S, F)) of one CUAD contract; shared
    features cached."""
    rdoc = ReaderDocument.from_text(doc.cid, doc.text)
    path = cache_dir / cache_name(doc.cid) if cache_dir else None
    lex = reader.lexical_reader()
    idx = lex.index(rdoc)
    segs = idx.segments
    if path is not None and path.is_file():
        shared = np.load(path)["shared"].astype(np.float32)
    else:
        state = reader.states.get(rdoc)
        reader.clause.segment_index(rdoc, state)
        shared = reader.clause.clause_features(state)
        if path is not None:
            np.savez(path, shared=shared.astype(np.float16))
    lexical = np.zeros((len(segs), len(schema), 3), dtype=np.float32)
    labels = np.zeros((len(segs), len(schema)), dtype=np.int8)
    matches = np.zeros((len(segs), len(schema)), dtype=np.int8)
    for j, q in enumerate(schema):
        r = lex.rank(idx, Query(q.text, key=q.key))
        lexical[:, j] = field_features(r.own, r.score, r.ceiling)
        labels[:, j] = segment_labels(segs, doc.gold.get(q.key, []))
        matches[:, j] = segment_matches(doc.text, segs, doc.gold.get(q.key, []), q.key)
    return shared, lexical, labels, matches


def fit(shared, lexical, labels, keys, steps: int = 300, lr: float = 0.02, l2: float = 1e-2, seed: int = 0):
    """Full-batch Adam on the masked binary cross-entropy; the feature standardisation is folded in."""
    torch.manual_seed(seed)
    mean, std = shared.mean(0), shared.std(0) + 1e-3
    x = torch.as_tensor((shared - mean) / std)
    lx, y = torch.as_tensor(lexical), torch.as_tensor(labels.astype(np.float32))
    m = torch.as_tensor(labels >= 0).float()
    head = ClauseHead(keys, x.shape[1])
    with torch.no_grad():
        prior = (y * m).sum(0) / m.sum(0).clamp_min(1)
        head.bias.copy_(torch.log(prior.clamp(1e-5, 0.5) / (1 - prior.clamp(1e-5, 0.5))))
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    for _ in range(steps):
        logits = head(x, lx)
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none") * m).sum()
        loss = loss / m.sum() + l2 * head.shared.pow(2).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():  # fold (x - mean) / std into the weights
        w = head.shared / torch.as_tensor(std)
        head.bias -= (w * torch.as_tensor(mean)).sum(1)
        head.shared.copy_(w)
    return head.eval()


def out_of_fold_logits(rows, keys, folds: int = 5, **fit_options) -> list[np.ndarray]:
    """Each contract's (S, F) probe logits from probes fitted on the other folds (contract i is in fold
    i mod ``folds``)."""
    out: list[np.ndarray | None] = [None] * len(rows)
    for k in range(folds):
        train = [r for i, r in enumerate(rows) if i % folds != k]
        head = fit(*[np.concatenate([r[c] for r in train]) for c in range(3)], keys, **fit_options)
        for i, r in enumerate(rows):
            if i % folds == k:
                out[i] = np.stack([head.logits(key, r[0], r[1][:, j]) for j, key in enumerate(keys)], axis=1)
    return out


def answer_examples(logits, matches, top_k: int = 20):
    """Answer-level examples: each (contract, field) question's ``top_k`` segments by logit, as
    (features (N, 5), matches a clause (N,), field index (N,))."""
    xs, ys, js = [], [], []
    for z_doc, m_doc in zip(logits, matches, strict=True):
        for j in range(z_doc.shape[1]):
            z = z_doc[:, j]
            order = top_segments(z, top_k)
            xs.append(answer_features(z[order]))
            ys.append(m_doc[order, j].astype(np.float32))
            js.append(np.full(len(order), j))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(js)


def fit_calibration(x, y, field, keys, steps: int = 500, lr: float = 0.05, l2: float = 1e-3):
    """Logistic regression of 'the answer matches a clause' on the answer features, with a bias and a
    logit slope per field (L2-shrunk towards the shared fit: rare fields have a few examples)."""
    xt, yt, jt = torch.as_tensor(x), torch.as_tensor(y), torch.as_tensor(field)
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros(len(keys), requires_grad=True)
    a = torch.zeros(len(keys), requires_grad=True)
    opt = torch.optim.Adam([w, b, a], lr=lr)
    for _ in range(steps):
        logit = xt @ w + b[jt] + a[jt] * xt[:, 0]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, yt)
        loss = loss + l2 * (b.pow(2).mean() + a.pow(2).mean())
        opt.zero_grad()
        loss.backward()
        opt.step()
    bias = {k: round(float(v), 6) for k, v in zip(keys, b.detach().tolist(), strict=True)}
    slope = {k: round(float(v), 6) for k, v in zip(keys, a.detach().tolist(), strict=True)}
    return AnswerCalibration(w.detach().numpy(), bias, slope)


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    keep = labels >= 0
    s, y = scores[keep], labels[keep]
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")
    hits = np.cumsum(y[order] == 1)
    prec = hits / np.arange(1, len(order) + 1)
    return float(prec[y[order] == 1].mean())


def report(head: ClauseHead, rows, keys) -> dict:
    """Segment-level average precision per field over the given contracts, and their mean."""
    shared = np.concatenate([r[0] for r in rows])
    lexical = np.concatenate([r[1] for r in rows])
    labels = np.concatenate([r[2] for r in rows])
    ap, ap_bm25 = {}, {}
    for j, k in enumerate(keys):
        ap[k] = average_precision(head.probabilities(k, shared, lexical[:, j]), labels[:, j])
        ap_bm25[k] = average_precision(lexical[:, j, 1], labels[:, j])
    vals = [v for v in ap.values() if v == v]
    base = [v for v in ap_bm25.values() if v == v]
    return {"mean_ap": float(np.mean(vals)), "mean_ap_bm25": float(np.mean(base)), "fields": len(vals)}


def main(argv: list[str] | None = None) -> int:
    from longctx.analysis.pipeline import ReaderPipeline
    from longctx.analysis.schemas import load_schema
    from longctx.config import get_settings
    from longctx.datasets.cuad import cuad_split, load_cuad

    ap = argparse.ArgumentParser(prog="longctx train clause-head", description=__doc__)
    ap.add_argument("--checkpoint", type=Path, required=True, help="reader checkpoint dir (head saved there)")
    ap.add_argument("--contracts", type=int, default=0, help="training contracts (seeded pick; 0 = all)")
    ap.add_argument("--cache", type=Path, default=None, help="per-contract feature cache (resumable)")
    ap.add_argument("--cached-only", action="store_true", help="train on the contracts already cached")
    ap.add_argument("--held-out", type=float, default=0.1)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--l2", type=float, default=1e-2, help="L2 weight on the probes' encoder-feature weights")
    ap.add_argument(
        "--calibration-folds", type=int, default=5, help="folds for the answer calibration (0: none)"
    )
    ap.add_argument("--dry-run", action="store_true", help="held-out report only; write nothing")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    root = Path(args.data_dir or get_settings().data_root) / "cuad"
    ids = sorted(cuad_split(p.name for p in (root / "txt").glob("*.txt"))["train"])
    random.Random(f"clause_head|{args.seed}").shuffle(ids)
    if args.contracts:
        ids = ids[: args.contracts]
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    if args.cached_only and args.cache:
        ids = [i for i in ids if (args.cache / cache_name(i)).is_file()]
    docs = {d.cid: d for d in load_cuad(root, set(ids))}
    reader = ReaderPipeline.load(args.checkpoint, encoder_dtype="float32", clause_head=None, cache_size=1)
    schema = load_schema("contract")
    keys = [q.key for q in schema]
    rows, t0 = [], time.perf_counter()
    for i, cid in enumerate(c for c in ids if c in docs):
        rows.append(contract_rows(reader, docs[cid], schema, args.cache))
        if (i + 1) % 10 == 0:
            print(f"features: {i + 1}/{len(docs)} contracts ({time.perf_counter() - t0:.0f}s)", flush=True)
    n_held = max(1, int(len(rows) * args.held_out))
    train, held = rows[n_held:], rows[:n_held]

    def stack(rs):
        return [np.concatenate([r[i] for r in rs]) for i in range(3)]

    head = fit(*stack(train), keys, steps=args.steps, l2=args.l2, seed=args.seed)
    info = {"contracts": len(rows), "held_out_contracts": n_held, "held_out": report(head, held, keys)}
    info["options"] = {"steps": args.steps, "l2": args.l2}
    print(json.dumps(info, indent=1), flush=True)
    if args.dry_run:
        return 0
    head = fit(*stack(rows), keys, steps=args.steps, l2=args.l2, seed=args.seed)
    info["segments"] = int(sum(len(r[0]) for r in rows))
    if args.calibration_folds > 1:
        t1 = time.perf_counter()
        oof = out_of_fold_logits(
            rows, keys, args.calibration_folds, steps=args.steps, l2=args.l2, seed=args.seed
        )
        x, y, field = answer_examples(oof, [r[3] for r in rows])
        head.calibration = fit_calibration(x, y, field, keys)
        cal = np.empty(len(y))
        for j, k in enumerate(keys):
            cal[field == j] = head.calibration.logits(k, x[field == j])
        info["calibration"] = {
            "folds": args.calibration_folds,
            "answers": int(len(y)),
            "matching": int(y.sum()),
            "pooled_ap_probe": average_precision(x[:, 0], y.astype(np.int8)),
            "pooled_ap_calibrated_in_sample": average_precision(cal, y.astype(np.int8)),
            "seconds": round(time.perf_counter() - t1, 1),
        }
        print(json.dumps(info["calibration"], indent=1), flush=True)
    head.save(args.checkpoint, info)
    print(f"saved to {args.checkpoint}", flush=True)
    return 0
