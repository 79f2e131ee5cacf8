"""Train the phrase head (``longctx.model.phrase_head``): short-answer contract fields, on CUAD.

A field gets a phrase model when its annotated answers are short: the median gold answer of the training
contracts has at most ``--max-median-words`` words (the parties, the title and the dates; clause fields
such as Governing Law are sentences and stay with the clause head). Every phrase candidate of every training
contract is a row; it is a positive for a field when it matches one of the field's gold answers at CUAD's
rule (word-set Jaccard >= 0.5; for Parties also a gold name inside the candidate), else a negative. One
small MLP per field is fitted full batch on all rows (no sampling, so its probabilities stay comparable
across documents), with the feature standardisation shared by the fields. A share of the training contracts
is held out for a quick report: the fraction of their gold answers found among each field's top-k distinct
answers. The shipped head is then refitted on all of them. The CUAD figures in docs/eval.md come from
``longctx eval cuad`` on the validation split, which this never reads.

    longctx train phrase-head --checkpoint longctx/model/checkpoint
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
import torch

from longctx.analysis.reader import Query, ReaderDocument
from longctx.evaluation.report import CUAD_IOU_THRESHOLD, cuad_words
from longctx.model.phrase_head import PhraseHead, candidates, features, normalised


def overlap_labels(texts: list[str], golds: list[str], key: str | None) -> tuple[np.ndarray, dict]:
    """Per candidate: 1 when it matches one of the gold answers at CUAD's rule (``cuad_match``), else 0; and
    {candidate: ids of the gold answers it matches} for the matching ones."""
    words = [cuad_words(t) for t in texts]
    gold_words = [cuad_words(g) for g in golds]
    matches: dict[int, list[int]] = {}
    for gi, (gold, g) in enumerate(zip(golds, gold_words, strict=True)):
        if not g:
            continue
        for i, w in enumerate(words):
            if not w:
                continue
            close = len(w) <= 2 * len(g) and 2 * len(w) >= len(g)  # Jaccard >= 0.5 needs this
            if (close and len(w & g) / len(w | g) >= CUAD_IOU_THRESHOLD) or (
                key == "Parties" and gold in texts[i]
            ):
                matches.setdefault(i, []).append(gi)
    labels = np.zeros(len(texts), dtype=np.int8)
    labels[list(matches)] = 1
    return labels, matches


def contract_rows(lexical, doc, fields) -> dict:
    """Per field of one contract: (features (C, F), labels (C,), {candidate: gold ids}, gold count)."""
    rdoc = ReaderDocument.from_text(doc.cid, doc.text)
    idx = lexical.index(rdoc)
    cands = candidates(doc.text, idx.segments)
    rows = {"texts": cands.texts}
    for field in fields:
        q = Query(field.text, key=field.key)
        r = lexical.rank(idx, q)
        golds = [doc.text[s:e] for s, e in doc.gold.get(q.key, [])]
        x = features(doc.text, idx.segments, cands, r.own, r.score, r.ceiling, lexical.query_weights(q))
        rows[q.key] = (x, *overlap_labels(cands.texts, golds, q.key), len(golds))
    return rows


def short_fields(docs, schema, max_median_words: float) -> list:
    """The schema fields whose median gold answer (over the given contracts) is at most that many words."""
    out = []
    for q in schema:
        lengths = [len(d.text[s:e].split()) for d in docs for s, e in d.gold.get(q.key, [])]
        if lengths and float(np.median(lengths)) <= max_median_words:
            out.append(q)
    return out


def fit(
    xs: dict[str, np.ndarray],
    ys: dict[str, np.ndarray],
    hidden: int = 16,
    steps: int = 300,
    lr: float = 0.01,
    l2: float = 1e-4,
    seed: int = 0,
) -> PhraseHead:
    """One MLP per field, full-batch Adam on the mean cross-entropy + L2; shared standardisation."""
    allx = np.concatenate(list(xs.values()))
    mean, std = allx.mean(0), allx.std(0) + 1e-3
    fields = {}
    for key, x in xs.items():
        torch.manual_seed(seed)
        xt = torch.as_tensor((x - mean) / std, dtype=torch.float32)
        yt = torch.as_tensor(ys[key] > 0, dtype=torch.float32)
        prior = float(yt.mean().clamp(1e-5, 0.5))
        w1 = torch.nn.Parameter(torch.randn(x.shape[1], hidden) / np.sqrt(x.shape[1]))
        b1 = torch.nn.Parameter(torch.zeros(hidden))
        w2 = torch.nn.Parameter(torch.randn(hidden) * 0.1)
        b2 = torch.nn.Parameter(torch.tensor(float(np.log(prior / (1 - prior)))))
        opt = torch.optim.Adam([w1, b1, w2, b2], lr=lr)
        for _ in range(steps):
            logit = torch.tanh(xt @ w1 + b1) @ w2 + b2
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, yt)
            loss = loss + l2 * (w1.pow(2).sum() + w2.pow(2).sum())
            opt.zero_grad()
            loss.backward()
            opt.step()
        params = {"w1": w1, "b1": b1, "w2": w2, "b2": b2}
        fields[key] = {n: p.detach().double().numpy() for n, p in params.items()}
    return PhraseHead(fields, mean, std)


def top_k_recall(head: PhraseHead, rows: list[dict], key: str, k: int) -> float:
    """Fraction of the field's gold answers matched by its top-k distinct answers over the contracts."""
    found = total = 0
    for r in rows:
        x, _labels, matches, n_gold = r[key]
        total += n_gold
        if not n_gold or not len(x):
            continue
        p = head.probabilities(key, x)
        seen, hits = set(), set()
        for i in np.argsort(-p, kind="stable"):
            t = normalised(r["texts"][i])
            if t in seen:
                continue
            seen.add(t)
            hits.update(matches.get(int(i), ()))
            if len(seen) >= k:
                break
        found += len(hits)
    return found / total if total else float("nan")


def against_clause_head(
    held, train, fields, phrase: PhraseHead, checkpoint: Path, cache: Path, top_k: int = 20
) -> dict[str, dict[str, float]]:
    """Per field, CUAD AUPR of the phrase head and of a clause head fitted on the same training contracts
    (from the clause trainer's feature cache; contracts without cached features are left out), both
    answering the held-out contracts with top_k-best lists under CUAD's counting."""
    from longctx.analysis.pipeline import ReaderPipeline
    from longctx.analysis.schemas import load_schema
    from longctx.evaluation.cuad import cuad_metrics
    from longctx.evaluation.report import cuad_match
    from longctx.model.phrase_head import ranked_phrases
    from longctx.training import clause_head as ch

    reader = ReaderPipeline.load(checkpoint, encoder_dtype="float32", cache_size=1)
    schema = load_schema("contract")
    names = [q.key for q in schema]
    cached = [d for d in train if (cache / ch.cache_name(d.cid)).is_file()]
    rows = [ch.contract_rows(reader, d, schema, cache) for d in cached]
    clause = ch.fit(*[np.concatenate([r[i] for r in rows]) for i in range(3)], names)
    scored = {q.key: {"phrase": ([], [], 0), "clause": ([], [], 0)} for q in fields}
    for d in held:
        if not (cache / ch.cache_name(d.cid)).is_file():
            continue
        shared, lexical, _ = ch.contract_rows(reader, d, schema, cache)
        prows = contract_rows(reader.lexical_reader(), d, fields)
        segments = reader.lexical_reader().index(ReaderDocument.from_text(d.cid, d.text)).segments
        cands = candidates(d.text, segments)
        golds_by = {q.key: [d.text[s:e] for s, e in d.gold.get(q.key, [])] for q in fields}
        for q in fields:
            p = phrase.probabilities(q.key, prows[q.key][0])
            by_phrase = [(d.text[s:e], sc) for s, e, sc in ranked_phrases(p, cands, top_k)]
            c = clause.probabilities(q.key, shared, lexical[:, names.index(q.key)])
            order = np.lexsort((np.arange(len(c)), -c))[:top_k]
            by_clause = [(d.text[segments[i].start : segments[i].end], float(c[i])) for i in order]
            for name, preds in (("phrase", by_phrase), ("clause", by_clause)):
                sc, m, n = scored[q.key][name]
                golds = golds_by[q.key]
                for t, v in preds:
                    sc.append(v)
                    m.append([n + g for g, gt in enumerate(golds) if cuad_match(t, gt, q.key)])
                scored[q.key][name] = (sc, m, n + len(golds))
    return {
        k: {name: round(cuad_metrics(*v)["aupr"], 3) for name, v in by.items()} for k, by in scored.items()
    }


def main(argv: list[str] | None = None) -> int:
    from longctx.analysis.lexical import LexicalReader
    from longctx.analysis.schemas import load_schema
    from longctx.config import get_settings
    from longctx.datasets.cuad import cuad_split, load_cuad

    ap = argparse.ArgumentParser(prog="longctx train phrase-head", description=__doc__)
    ap.add_argument("--checkpoint", type=Path, required=True, help="reader checkpoint dir (head saved there)")
    ap.add_argument("--contracts", type=int, default=0, help="training contracts (seeded pick; 0 = all)")
    ap.add_argument("--max-median-words", type=float, default=12.0)
    ap.add_argument("--held-out", type=float, default=0.1)
    ap.add_argument("--l2", type=float, default=1e-4)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--dry-run", action="store_true", help="report only; write nothing")
    ap.add_argument(
        "--clause-cache",
        type=Path,
        default=None,
        help="the clause trainer's feature cache: keep only the fields where the phrase head beats a clause "
        "head on the held-out contracts",
    )
    args = ap.parse_args(argv)
    root = Path(args.data_dir or get_settings().data_root) / "cuad"
    ids = sorted(cuad_split(p.name for p in (root / "txt").glob("*.txt"))["train"])
    random.Random(f"phrase_head|{args.seed}").shuffle(ids)
    if args.contracts:
        ids = ids[: args.contracts]
    by_id = {d.cid: d for d in load_cuad(root, set(ids))}
    docs = [by_id[i] for i in ids if i in by_id]
    fields = short_fields(docs, load_schema("contract"), args.max_median_words)
    print("phrase fields:", [q.key for q in fields], flush=True)
    lexical = LexicalReader.default()
    rows, t0 = [], time.perf_counter()
    for i, d in enumerate(docs):
        rows.append(contract_rows(lexical, d, fields))
        if (i + 1) % 25 == 0:
            print(f"candidates: {i + 1}/{len(docs)} contracts ({time.perf_counter() - t0:.0f}s)", flush=True)
    n_held = max(1, int(len(rows) * args.held_out))
    train, held = rows[n_held:], rows[:n_held]

    def stack(rs):
        keys = [q.key for q in fields]
        return (
            {k: np.concatenate([r[k][0] for r in rs]) for k in keys},
            {k: np.concatenate([r[k][1] for r in rs]) for k in keys},
        )

    options = {"hidden": args.hidden, "steps": args.steps, "l2": args.l2, "seed": args.seed}
    head = fit(*stack(train), **options)
    held_report = {
        q.key: {f"top{k}_recall": round(top_k_recall(head, held, q.key, k), 3) for k in (1, 3, 10)}
        for q in fields
    }
    info = {
        "contracts": len(rows),
        "held_out_contracts": n_held,
        "max_median_words": args.max_median_words,
        "options": options,
        "held_out": held_report,
        "candidates": int(sum(len(r["texts"]) for r in rows)),
    }
    if args.clause_cache:
        train_docs, held_docs = docs[n_held:], docs[:n_held]
        vs = against_clause_head(held_docs, train_docs, fields, head, args.checkpoint, args.clause_cache)
        info["against_clause_head"] = vs
        fields = [q for q in fields if vs[q.key]["phrase"] >= vs[q.key]["clause"]]
        info["fields"] = [q.key for q in fields]
    print(json.dumps(info, indent=1), flush=True)
    if args.dry_run or not fields:
        return 0
    head = fit(*stack(rows), **options)
    head.info = info
    head.save(args.checkpoint)
    print(f"saved to {args.checkpoint}", flush=True)
    return 0
