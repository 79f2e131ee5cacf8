"""The answer ranker: re-scores the span head's candidate answers with the document's own evidence.

Why: the span head reads the kept tokens through a small global stack trained on top of a frozen encoder. It
finds answer-shaped spans well but binds them loosely to the question (a 7-digit number next to "number" can
beat the one next to the asked key). The ranker looks at one candidate per sentence/clause (the best span
starting in it) and combines

- the span head's margin over its own "no answer" score, and over the best candidate;
- the sentence's BM25 score for the question, alone and with its neighbours (``LexicalReader.rank``),
  relative to the document's scoring scale and to the best sentence;
- the cosine of the sentence's mean encoder state with the question's (MiniLM's sentence-embedding
  similarity, from states the reader has anyway), also relative to the best sentence;
- the ranks of the sentence under each signal, and how far each signal leads the other candidates,

into a calibrated probability that the candidate holds the answer (0.5 stays the answer/no-answer line). It
is a small MLP fitted on generated needle tasks and CUAD questions (``longctx.training.answer_ranker``),
stored as JSON next to the checkpoint (``answer_ranker.json``), and evaluated in numpy.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

RANKER_FILE = "answer_ranker.json"
FEATURES = (
    "span_margin",  # (span score - no-answer score) / 10
    "span_gap",  # (span score - best candidate's span score) / 10
    "span_rank",  # log1p(rank among candidates by span score) / log(32)
    "bm25_own",  # sentence BM25 / document scale
    "bm25_passage",  # sentence + neighbours BM25 / document scale
    "bm25_gap",  # (passage BM25 - best passage BM25) / document scale
    "bm25_rank",  # log1p(sentences with a higher passage BM25) / log(64)
    "cosine",  # cos(sentence embedding, question embedding)
    "cosine_gap",  # cosine - best sentence's cosine
    "cosine_rank",  # log1p(sentences with a higher cosine) / log(64)
    "span_lead",  # span_margin - the best other candidate's (how clearly it stands out)
    "bm25_lead",  # bm25_passage - the best other candidate's
    "cosine_lead",  # cosine - the best other candidate's
)
LEADS = {"span_lead": "span_margin", "bm25_lead": "bm25_passage", "cosine_lead": "cosine"}


@dataclass
class Candidate:
    segment: int  # index into the document's segments
    token_start: int  # document token indices, inclusive
    token_end: int
    span_score: float  # start + end logit


def best_span_per_segment(
    start_logits: torch.Tensor,
    end_logits: torch.Tensor,
    kept_index: torch.Tensor,
    token_segment: np.ndarray,
    max_span_len: int,
    limit: int,
) -> list[Candidate]:
    """The best span (start <= end among the kept tokens, under ``max_span_len`` original positions) starting
    in each segment, best first, at most ``limit`` segments. ``token_segment``: segment of every document
    token."""
    s, e, idx = start_logits.float(), end_logits.float(), kept_index
    k = s.shape[0]
    if k == 0:
        return []
    w = min(max_span_len, k)
    j = torch.arange(k).unsqueeze(1) + torch.arange(w)
    valid = j < k
    jc = j.clamp_max(k - 1)
    valid &= (idx[jc] - idx.unsqueeze(1)) < max_span_len
    scores = (s.unsqueeze(1) + e[jc]).masked_fill(~valid, float("-inf"))
    best, off = scores.max(dim=1)  # best end for every start
    best, off = best.numpy(), off.numpy()
    idx_np = idx.cpu().numpy()
    seg = token_segment[idx_np]
    order = np.lexsort((np.arange(k), -best))
    _, first = np.unique(seg[order], return_index=True)  # first (= best) start of each segment
    picks = order[np.sort(first)][:limit]
    return [
        Candidate(int(seg[i]), int(idx_np[i]), int(idx_np[i + off[i]]), float(best[i]))
        for i in picks
        if np.isfinite(best[i])
    ]


def candidate_features(
    candidates: list[Candidate],
    no_answer_score: float,
    bm25_own: np.ndarray,
    bm25_passage: np.ndarray,
    bm25_scale: float,
    cosine: np.ndarray,
) -> np.ndarray:
    """(C, len(FEATURES)) features of the candidates; the arrays are per segment of the document."""
    if not candidates:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    c = bm25_scale if bm25_scale > 0 else 1.0
    seg = np.array([x.segment for x in candidates])
    span = np.array([x.span_score for x in candidates])
    rank = np.argsort(np.argsort(-span, kind="stable"), kind="stable")
    passage_rank = np.array([(bm25_passage > bm25_passage[i]).sum() for i in seg])
    cos_rank = np.array([(cosine > cosine[i]).sum() for i in seg])
    cols = [
        (span - no_answer_score) / 10.0,
        (span - span.max()) / 10.0,
        np.log1p(rank) / math.log(32.0),
        bm25_own[seg] / c,
        bm25_passage[seg] / c,
        (bm25_passage[seg] - bm25_passage.max()) / c,
        np.log1p(passage_rank) / math.log(64.0),
        cosine[seg],
        cosine[seg] - cosine.max(),
        np.log1p(cos_rank) / math.log(64.0),
    ]
    return with_leads(np.stack(cols, axis=1).astype(np.float32))


def with_leads(base: np.ndarray) -> np.ndarray:
    """Append the lead columns to one question's candidates: each signal minus the best other candidate's."""
    cols = [base]
    for source in LEADS.values():
        v = base[:, FEATURES.index(source)]
        if len(v) < 2:
            cols.append(np.zeros((len(v), 1), np.float32))
            continue
        top2 = np.sort(v)[-2:]
        other = np.where(v >= top2[1], top2[0], top2[1])  # the best among the others
        cols.append((v - other)[:, None])
    return np.concatenate(cols, axis=1).astype(np.float32)


class AnswerRanker:
    """A standardise -> Linear -> tanh -> Linear MLP over :data:`FEATURES`, giving a probability."""

    def __init__(self, mean, std, w1, b1, w2, b2, info: dict | None = None) -> None:
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        self.w1, self.b1 = np.asarray(w1, dtype=np.float32), np.asarray(b1, dtype=np.float32)
        self.w2, self.b2 = np.asarray(w2, dtype=np.float32), float(b2)
        self.info = dict(info or {})
        if self.mean.shape != (len(FEATURES),) or self.w1.shape[1] != len(FEATURES):
            raise ValueError(f"answer ranker expects {len(FEATURES)} features")

    def logits(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, dtype=np.float32) - self.mean) / self.std
        return np.tanh(z @ self.w1.T + self.b1) @ self.w2 + self.b2

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.logits(x), -50.0, 50.0)))

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / RANKER_FILE
        body = {
            "features": list(FEATURES),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "w1": self.w1.tolist(),
            "b1": self.b1.tolist(),
            "w2": self.w2.tolist(),
            "b2": self.b2,
            "info": self.info,
        }
        path.write_text(json.dumps(body, indent=1))
        return path

    @classmethod
    def load(cls, directory: str | Path) -> AnswerRanker | None:
        path = Path(directory) / RANKER_FILE
        if not path.is_file():
            return None
        body = json.loads(path.read_text())
        if list(body["features"]) != list(FEATURES):
            raise RuntimeError(f"{path}: trained on other features than this code computes; retrain it")
        return cls(
            body["mean"], body["std"], body["w1"], body["b1"], body["w2"], body["b2"], body.get("info")
        )


__all__ = [
    "FEATURES",
    "RANKER_FILE",
    "AnswerRanker",
    "Candidate",
    "best_span_per_segment",
    "candidate_features",
]
