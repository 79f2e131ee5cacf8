"""Fit the answer ranker (``longctx.model.answer_ranker``) on generated needle tasks and CUAD questions.

Rows: for every question, the neural reader's candidate answers (one best span per sentence, from
``NeuralReader.span_candidates``) with their features; a candidate is positive when its span overlaps a gold
answer. Questions come from

- the RULER-family needle tasks (``longctx.datasets.needles``) on TRAINING-split CUAD haystacks at several
  lengths and depths, plus single-needle questions about a key that is not in the document (no answer);
- the CUAD training contracts, each asked all 41 category questions as free questions (gold: the annotated
  clauses; a category without a clause is a no-answer question).

Validation contracts and haystacks are never used. A share of the documents is held out to report how the
ranker's top-1 compares with the span head's own and with BM25's; the ranker is then written next to the
reader checkpoint.

    longctx train answer-ranker --checkpoint longctx/model/checkpoint --rows runs/ranker-rows.npz
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from pathlib import Path

import numpy as np
import torch

from longctx.analysis.reader import Query, ReaderDocument
from longctx.model.answer_ranker import FEATURES, AnswerRanker

NEEDLE_LENGTHS = (2048, 4096, 8192, 16384, 32768)
_KEY = re.compile(r"for ([a-z]+-[a-z]+)\?$")


def needle_documents(per_cell: int, lengths=NEEDLE_LENGTHS, seed: int = 0, data_root=None):
    """(document id, text, [(Query, gold spans)]) of generated training-split needle tasks; different
    ``seed`` values draw different examples."""
    from longctx.datasets.needles import TASKS, make_needle_example

    out = []
    for length in lengths:
        n = per_cell if length <= 16384 else max(1, per_cell // 3)
        for task in TASKS:
            for i in range(n):
                s = seed * 100_003 + 7919 * i + length
                ex = make_needle_example(task, length, (i + 0.5) / n, s, "train", data_root)
                questions = [(Query(ex.question), list(ex.answers))]
                key = _KEY.search(ex.question)
                if task == "single" and key:  # the same haystack asked about an absent key: no answer
                    absent = (
                        f"{key.group(1).split('-')[0]}-{random.Random(s).choice(['otter', 'lynx', 'quail'])}"
                    )
                    if absent not in ex.text:
                        questions.append((Query(ex.question.replace(key.group(1), absent)), []))
                out.append((f"needle/{task}/{length}/{i}", ex.text, questions))
    return out


def cuad_documents(contracts: int, seed: int = 0, data_root=None):
    """(document id, text, [(Query, gold clause spans)]) of seeded CUAD training contracts, free questions."""
    from longctx.analysis.schemas import load_schema
    from longctx.config import get_settings
    from longctx.datasets.cuad import cuad_split, load_cuad

    root = Path(data_root or get_settings().data_root) / "cuad"
    ids = sorted(cuad_split(p.name for p in (root / "txt").glob("*.txt"))["train"])
    random.Random(f"answer_ranker|{seed}").shuffle(ids)
    docs = load_cuad(root, set(ids[:contracts]))
    schema = load_schema("contract")
    return [(d.cid, d.text, [(Query(q.text), list(d.gold.get(q.key, []))) for q in schema]) for d in docs]


def build_rows(reader, documents, log=print):
    """Features, labels, question id and document id of every candidate."""
    xs, ys, qid, did = [], [], [], []
    n_q = 0
    t0 = time.perf_counter()
    for di, (doc_id, text, questions) in enumerate(documents):
        doc = ReaderDocument.from_text(doc_id, text)
        enc = reader.encode(doc)
        if enc.states.shape[0] == 0:
            continue
        rows = reader.span_candidates(doc, enc, [q for q, _ in questions])
        for (cands, feats, _na), (_q, gold) in zip(rows, questions, strict=True):
            for c, f in zip(cands, feats, strict=True):
                cs, ce = int(enc.offsets[c.token_start, 0]), int(enc.offsets[c.token_end, 1])
                xs.append(f)
                ys.append(float(any(cs < ge and gs < ce for gs, ge in gold)))
                qid.append(n_q)
                did.append(di)
            n_q += 1
        if log and (di + 1) % 10 == 0:
            took = time.perf_counter() - t0
            log(f"rows: {di + 1}/{len(documents)} documents, {n_q} questions ({took:.0f}s)")
    return np.asarray(xs, np.float32), np.asarray(ys, np.float32), np.asarray(qid), np.asarray(did)


def fit(
    x: np.ndarray,
    y: np.ndarray,
    hidden: int = 16,
    epochs: int = 400,
    seed: int = 0,
    weights: np.ndarray | None = None,
    qid: np.ndarray | None = None,
    listwise: float = 1.0,
) -> AnswerRanker:
    """Full-batch Adam on the (row-weighted) binary cross-entropy, plus, when ``qid`` is given, ``listwise`` x
    the softmax cross-entropy of each answerable question's candidates (probability mass on its positives).
    The pointwise term calibrates the answer/no-answer line; the listwise term makes the candidates of one
    question compete, which is what the top-1 answer needs (without it, the top candidate of a needle question
    could lose to a weaker one that resembles a CUAD clause)."""
    torch.manual_seed(seed)
    mean, std = x.mean(0), x.std(0) + 1e-4
    xt = torch.as_tensor((x - mean) / std)
    yt = torch.as_tensor(y)
    wt = torch.as_tensor(np.ones(len(y), np.float32) if weights is None else weights / weights.mean())
    if qid is not None:
        _, inverse = np.unique(qid, return_inverse=True)
        qi = torch.as_tensor(inverse)
        nq = int(qi.max()) + 1 if len(qi) else 0
        q_weight = torch.zeros(nq).scatter_reduce(0, qi, wt, "amax")
        answerable = torch.zeros(nq).index_add_(0, qi, yt) > 0
    l1, l2 = torch.nn.Linear(x.shape[1], hidden), torch.nn.Linear(hidden, 1)
    opt = torch.optim.Adam([*l1.parameters(), *l2.parameters()], lr=0.01, weight_decay=1e-4)
    for _ in range(epochs):
        logits = l2(torch.tanh(l1(xt))).squeeze(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, yt, weight=wt)
        if qid is not None and listwise and bool(answerable.any()):
            top = torch.full((nq,), -1e9).scatter_reduce(0, qi, logits.detach(), "amax")
            e = torch.exp(logits - top[qi])
            total = torch.zeros(nq).index_add(0, qi, e)
            positive = torch.zeros(nq).index_add(0, qi, e * yt)
            nll = torch.log(total[answerable]) - torch.log(positive[answerable] + 1e-12)
            loss = loss + listwise * (nll * q_weight[answerable]).sum() / q_weight[answerable].sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    d = {
        k: v.detach().numpy()
        for k, v in (("w1", l1.weight), ("b1", l1.bias), ("w2", l2.weight), ("b2", l2.bias))
    }
    return AnswerRanker(mean, std, d["w1"], d["b1"], d["w2"][0], float(d["b2"][0]))


def source_weights(did: np.ndarray, is_needle: np.ndarray) -> np.ndarray:
    """Row weights that give the needle tasks and the CUAD questions the same total weight (CUAD has many
    more rows, mostly no-answer questions, which would otherwise teach the ranker to doubt every answer)."""
    needle = is_needle[did]
    w = np.ones(len(did), np.float32)
    for part in (needle, ~needle):
        if part.any():
            w[part] = 0.5 * len(did) / part.sum()
    return w


def top1(scores: np.ndarray, y: np.ndarray, qid: np.ndarray) -> float:
    """Share of answerable questions whose best-scored candidate is a positive."""
    hits, total = 0, 0
    for q in np.unique(qid):
        m = qid == q
        if y[m].max() > 0:
            total += 1
            hits += int(y[m][np.argmax(scores[m])] > 0)
    return hits / max(total, 1)


def report(ranker: AnswerRanker, x, y, qid) -> dict:
    probs = ranker.probabilities(x)
    col = {f: i for i, f in enumerate(FEATURES)}
    answerable = {q for q in np.unique(qid) if y[qid == q].max() > 0}
    best = {q: probs[qid == q].max() for q in np.unique(qid)}
    no_answer = [q for q in best if q not in answerable]
    return {
        "questions": len(best),
        "answerable": len(answerable),
        "top1_ranker": top1(probs, y, qid),
        "top1_span_head": top1(x[:, col["span_margin"]], y, qid),
        "top1_bm25": top1(x[:, col["bm25_passage"]], y, qid),
        "top1_cosine": top1(x[:, col["cosine"]], y, qid),
        "no_answer_correct": float(np.mean([best[q] < 0.5 for q in no_answer])) if no_answer else None,
        "answered_when_answerable": float(np.mean([best[q] >= 0.5 for q in answerable])),
    }


def cross_validated_operating_points(x, y, qid, did, weights, is_needle, seed: int = 0, folds: int = 5):
    """Per source and candidate answer line: out-of-fold share of answerable questions answered, answered
    correctly, and of no-answer questions left unanswered (what the --answer-line choice trades)."""
    rng = np.random.default_rng(seed + 1)
    docs = np.unique(did)
    rng.shuffle(docs)
    p = np.zeros(len(y))
    for part in np.array_split(docs, folds):
        test = np.isin(did, part)
        ranker = fit(x[~test], y[~test], seed=seed, weights=weights[~test], qid=qid[~test])
        p[test] = ranker.probabilities(x[test])
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, rows in (("needles", is_needle[did]), ("cuad", ~is_needle[did])):
        out[name] = {}
        qs = [qid == q for q in np.unique(qid[rows])]
        for line in (0.3, 0.4, 0.5):
            answerable = [m for m in qs if y[m].max() > 0]
            none = [m for m in qs if y[m].max() == 0]
            answered = [m for m in answerable if p[m].max() >= line]
            right = [m for m in answered if y[m][np.argmax(p[m])] > 0]
            out[name][str(line)] = {
                "answered": round(len(answered) / max(len(answerable), 1), 3),
                "right": round(len(right) / max(len(answerable), 1), 3),
                "no_answer_kept": round(float(sum(p[m].max() < line for m in none)) / max(len(none), 1), 3),
            }
    return out


def main(argv: list[str] | None = None) -> int:
    from longctx.analysis.neural import NeuralReader

    ap = argparse.ArgumentParser(prog="longctx train answer-ranker", description=__doc__)
    ap.add_argument(
        "--checkpoint", type=Path, required=True, help="reader checkpoint dir (ranker saved there)"
    )
    ap.add_argument("--needles-per-cell", type=int, default=6, help="examples per (task, length <= 16K)")
    ap.add_argument("--max-length", type=int, default=NEEDLE_LENGTHS[-1], help="longest needle document")
    ap.add_argument("--contracts", type=int, default=24, help="CUAD training contracts")
    ap.add_argument("--rows", type=Path, default=None, help="cache the candidate rows here (npz)")
    ap.add_argument("--merge", type=Path, nargs="*", default=[], help="more cached row files to train on")
    ap.add_argument(
        "--answer-line",
        type=float,
        default=0.5,
        help="fitted probability at which the reader should answer; the output is shifted to put it at 0.5",
    )
    ap.add_argument("--held-out", type=float, default=0.2, help="share of documents held out for the report")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    if args.rows and args.rows.is_file():
        z = np.load(args.rows)
        x, y, qid, did, docs_ids = z["x"], z["y"], z["qid"], z["did"], list(z["doc_ids"])
    else:
        reader = NeuralReader.load(args.checkpoint, answer_ranker=None, cache_size=1)
        lengths = [n for n in NEEDLE_LENGTHS if n <= args.max_length]
        docs = needle_documents(args.needles_per_cell, lengths, args.seed, args.data_dir)
        docs += cuad_documents(args.contracts, args.seed, args.data_dir)
        x, y, qid, did = build_rows(reader, docs)
        docs_ids = [d[0] for d in docs]
        if args.rows:
            args.rows.parent.mkdir(parents=True, exist_ok=True)
            np.savez(args.rows, x=x, y=y, qid=qid, did=did, doc_ids=np.asarray(docs_ids))
    for extra in args.merge:
        z = np.load(extra)
        qid = np.concatenate([qid, z["qid"] + qid.max() + 1])
        did = np.concatenate([did, z["did"] + len(docs_ids)])
        x, y, docs_ids = (
            np.concatenate([x, z["x"]]),
            np.concatenate([y, z["y"]]),
            docs_ids + list(z["doc_ids"]),
        )
    rng = np.random.default_rng(args.seed)
    docs = np.unique(did)
    held = set(rng.choice(docs, int(len(docs) * args.held_out), replace=False).tolist())
    test = np.isin(did, list(held))
    is_needle = np.array([d.startswith("needle/") for d in docs_ids])
    w = source_weights(did, is_needle)
    ranker = fit(x[~test], y[~test], seed=args.seed, weights=w[~test], qid=qid[~test])
    info = {"rows": int(len(y)), "positives": int(y.sum())}
    for name, part in (("needles", is_needle[did]), ("cuad", ~is_needle[did]), ("all", did >= 0)):
        m = test & part
        if m.any():
            info[f"held_out_{name}"] = report(ranker, x[m], y[m], qid[m])
    print(json.dumps(info, indent=1), flush=True)
    info["operating_points"] = cross_validated_operating_points(x, y, qid, did, w, is_needle, args.seed)
    for name, rows in info["operating_points"].items():
        for t, v in rows.items():
            print(f"{name} answer line {t}: {v}", flush=True)
    ranker = fit(x, y, seed=args.seed, weights=w, qid=qid)  # the shipped ranker sees every row
    ranker.b2 += float(np.log((1 - args.answer_line) / args.answer_line))  # p = answer line -> 0.5
    info["answer_line"] = args.answer_line
    ranker.info = info
    print(f"saved {ranker.save(args.checkpoint)}", flush=True)
    return 0
