"""Train the clause head (``longctx.model.clause_head``) on CUAD's training contracts.

Rows: for every (contract, category) of the chosen training contracts, every segment that is mostly inside
an annotated clause (>= 50 % of its characters) is a positive; negatives are the 12 best BM25 segments that
are not (hard) plus 24 random others. Features come from the reader's frozen local-encoder states (cached
through :class:`~longctx.training.state_cache.StateCache`) and the lexical reader's BM25 scores. The head is
written next to the reader checkpoint (``clause_head.safetensors`` + ``clause_head.json``).

    python -m longctx.training.clause_head --checkpoint CKPT --state-cache runs/cpu/state_cache
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from longctx.analysis.lexical import LexicalReader
from longctx.analysis.reader import ReaderDocument
from longctx.model.clause_head import (
    ClauseHead,
    features,
    query_embedding,
    segment_embeddings,
    segment_token_ranges,
)
from longctx.model.tokenization import tokenize_text

from .batching import encode_query


def positive_segments(segments, spans: list[tuple[int, int]], min_inside: float = 0.5) -> np.ndarray:
    """Indices of segments with >= ``min_inside`` of their characters inside a gold span."""
    out = []
    for i, s in enumerate(segments):
        inside = sum(max(0, min(s.end, e) - max(s.start, b)) for b, e in spans)
        if s.end > s.start and inside >= min_inside * (s.end - s.start):
            out.append(i)
    return np.asarray(out, dtype=np.int64)


def build_rows(model, cache, examples, seed: int = 0, hard: int = 12, rand: int = 24, log=print):
    """(features (R, F), labels (R,)) from CUAD ReaderExamples (grouped by contract)."""
    from longctx.analysis.neural import query_text
    from longctx.analysis.reader import Query

    by_doc: dict[str, list] = defaultdict(list)
    for ex in examples:
        by_doc[ex.doc_id].append(ex)
    lex = LexicalReader.default()
    rng = random.Random(f"clause_head|{seed}")
    xs, ys = [], []
    t0 = time.perf_counter()
    for di, (doc_id, exs) in enumerate(sorted(by_doc.items())):
        text = exs[0].text
        states = cache.states(text).float()
        offsets = np.asarray(tokenize_text(text).offsets)
        idx = lex.index(ReaderDocument.from_text(doc_id, text))
        segs = idx.segments
        if not segs:
            continue
        ranges = segment_token_ranges(offsets, segs)
        seg_emb = segment_embeddings(states, ranges)
        for ex in exs:
            key = ex.meta.get("category")
            question = ex.query.split(": ", 1)[1] if ": " in ex.query else ex.query
            q = Query(question, key=key)
            ids, mask = encode_query(query_text(q), model.cfg.max_query_len)
            with torch.inference_mode():
                q_emb = query_embedding(model.encode_query(ids, mask)[0], mask[0])
            ranking = lex.rank(idx, q)
            pos = positive_segments(segs, ex.answers) if not ex.no_answer else np.zeros(0, dtype=np.int64)
            pos_set = set(pos.tolist())
            order = [i for i in np.argsort(-ranking.score, kind="stable").tolist() if i not in pos_set]
            neg = order[:hard]
            rest = order[hard:]
            neg += rng.sample(rest, min(rand, len(rest)))
            pick = np.asarray(sorted(pos_set) + neg, dtype=np.int64)
            if len(pick) == 0:
                continue
            f = features(
                seg_emb[pick],
                q_emb,
                ranges[pick],
                [segs[i] for i in pick],
                len(text),
                ranking.own[pick],
                ranking.score[pick],
                ranking.ceiling,
            )
            xs.append(f)
            ys.append(torch.tensor([1.0] * len(pos_set) + [0.0] * len(neg)))
        if log and (di + 1) % 10 == 0:
            log(f"rows: {di + 1}/{len(by_doc)} contracts ({time.perf_counter() - t0:.0f}s)")
    return torch.cat(xs), torch.cat(ys)


def fit(x, y, hidden: int, epochs: int = 8, lr: float = 1e-3, seed: int = 0, log=print) -> ClauseHead:
    torch.manual_seed(seed)
    head = ClauseHead(hidden)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=0.01)
    n = len(y)
    pos_weight = torch.tensor(float((y == 0).sum()) / max(float((y == 1).sum()), 1.0))
    for ep in range(epochs):
        perm = torch.randperm(n)
        total = 0.0
        for s in range(0, n, 512):
            b = perm[s : s + 512]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                head(x[b]), y[b], pos_weight=pos_weight.sqrt()
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(b)
        if log:
            log(f"epoch {ep + 1}/{epochs}: loss {total / n:.4f}")
    return head.eval()


def main(argv: list[str] | None = None) -> int:
    from longctx.model.reader_model import LongContextReader

    from .loop import _cuad_pool
    from .state_cache import StateCache

    ap = argparse.ArgumentParser(prog="python -m longctx.training.clause_head", description=__doc__)
    ap.add_argument("--checkpoint", type=Path, required=True, help="reader checkpoint dir (head saved there)")
    ap.add_argument("--contracts", type=int, default=80, help="training contracts (seeded pick; 0 = all)")
    ap.add_argument("--state-cache", type=Path, default=None)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    model = LongContextReader.load(args.checkpoint).eval()
    cache = StateCache(model, args.state_cache)
    pool, _ = _cuad_pool("train", args.data_dir, args.contracts, args.seed)
    t0 = time.perf_counter()
    x, y = build_rows(model, cache, pool, args.seed)
    print(f"{len(y)} rows, {int(y.sum())} positive ({time.perf_counter() - t0:.0f}s)", flush=True)
    head = fit(x, y, model.cfg.hidden, args.epochs, seed=args.seed)
    head.save(args.checkpoint)
    info = {"rows": len(y), "positives": int(y.sum()), "contracts": len({e.doc_id for e in pool})}
    print(json.dumps(info), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
