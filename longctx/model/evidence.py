"""The evidence scorer: the learned pruning layer, at the granularity of sentences.

Every segment (sentence or clause) of a document gets a keep-score for a question, and only the best segments,
up to a fixed token budget, reach the global layers. The score reads the question against the segment through
late interaction: each question token finds its best-matching token in the segment (cosine of learned
projections of the frozen local-encoder states), and those best matches are averaged with learned weights per
question token (so "Nightingale" in "the code for Project Nightingale" counts, "the" does not). A learned
projection of the segment's mean state against the question's mean state adds the paraphrase signal, and a
small MLP turns these, the segment's length and its neighbours' matches into a logit.

Why this form: every quantity is a function of one segment (and its neighbours) and the question, never of
the document's length, so a segment scores the same in a 4K-token and in a 1M-token document; the only thing
that grows with length is the number of competitors. The document side (projected token vectors, segment mean
vectors) does not depend on the question and is computed once per document.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: token rows scored at once when a document is long (bounds memory at B x block x Q)
SCORE_BLOCK_TOKENS = 1 << 16
N_FEATURES = 7


@dataclass
class DocSide:
    """The question-independent part of the scorer for one document."""

    tokens: Tensor  # (N, D) unit vectors of the tokens
    segment_of_token: Tensor  # (N,) long
    segment_sem: Tensor  # (S, D) unit vectors of the segments' mean states
    segment_len: Tensor  # (S,) tokens per segment (float)

    @property
    def n_segments(self) -> int:
        return int(self.segment_sem.shape[0])


@dataclass
class QuerySide:
    vectors: Tensor  # (B, Q, D) unit vectors of the question tokens
    weights: Tensor  # (B, Q) non-negative, 0 on padding and special tokens, rows sum to 1
    sem: Tensor  # (B, D) unit vector of the question's mean state


@dataclass
class SegmentScores:
    logits: Tensor  # (B, S) keep-scores
    match: Tensor  # (B, S) weighted late-interaction match in [-1, 1]
    sem: Tensor  # (B, S) semantic match in [-1, 1]


def segment_mean(states: Tensor, segment_of_token: Tensor, n_segments: int) -> Tensor:
    """(S, H) mean state of each segment's tokens."""
    h = states.shape[-1]
    sums = torch.zeros(n_segments, h, dtype=states.dtype, device=states.device)
    sums.index_add_(0, segment_of_token, states)
    counts = torch.bincount(segment_of_token, minlength=n_segments).clamp_min(1).to(states.dtype)
    return sums / counts.unsqueeze(1)


class EvidenceScorer(nn.Module):
    def __init__(self, hidden: int, dim: int = 128, mlp_hidden: int = 32) -> None:
        super().__init__()
        self.doc_proj = nn.Linear(hidden, dim)
        self.query_proj = nn.Linear(hidden, dim)
        self.query_weight = nn.Linear(hidden, 1)
        self.doc_sem = nn.Linear(hidden, dim)
        self.query_sem = nn.Linear(hidden, dim)
        self.mlp = nn.Sequential(nn.Linear(N_FEATURES, mlp_hidden), nn.GELU(), nn.Linear(mlp_hidden, 1))
        self.linear = nn.Linear(N_FEATURES, 1)
        # Cosines live in [-1, 1] and a needle beats its competitors by a few tenths: the features start
        # scaled up, so that logits can differ by several units without weights that Adam needs many
        # thousands of steps to grow.
        self.feature_scale = nn.Parameter(torch.tensor([10.0, 10.0, 1.0, 10.0, 10.0, 10.0, 10.0]))

    # ---- the two sides --------------------------------------------------------------------------------
    def doc_side(self, states: Tensor, segment_of_token: Tensor, n_segments: int) -> DocSide:
        states = states.to(self.doc_proj.weight.dtype)
        segment_of_token = segment_of_token.to(states.device)
        tokens = F.normalize(self.doc_proj(states), dim=-1)
        mean = segment_mean(states, segment_of_token, n_segments)
        sem = F.normalize(self.doc_sem(mean), dim=-1)
        length = torch.bincount(segment_of_token, minlength=n_segments).to(states.dtype)
        return DocSide(tokens, segment_of_token, sem, length)

    def query_side(self, q_states: Tensor, q_mask: Tensor) -> QuerySide:
        """``q_mask`` (B, Q) bool, True on real tokens; [CLS] (first) and [SEP] (last real) get no weight."""
        q_states = q_states.to(self.query_proj.weight.dtype)
        mask = q_mask.bool().clone()
        mask[:, 0] = False
        last = q_mask.long().sum(1) - 1
        mask[torch.arange(mask.shape[0], device=mask.device), last.clamp_min(0)] = False
        empty = ~mask.any(1)
        if bool(empty.any()):  # a question with no word tokens: fall back to [CLS]
            mask[empty, 0] = True
        vectors = F.normalize(self.query_proj(q_states), dim=-1)
        raw = F.softplus(self.query_weight(q_states).squeeze(-1)).masked_fill(~mask, 0.0)
        weights = raw / raw.sum(1, keepdim=True).clamp_min(1e-6)
        m = mask.unsqueeze(-1).to(q_states.dtype)
        mean = (q_states * m).sum(1) / m.sum(1).clamp_min(1.0)
        sem = F.normalize(self.query_sem(mean), dim=-1)
        return QuerySide(vectors, weights, sem)

    # ---- matching -------------------------------------------------------------------------------------
    def best_matches(self, doc: DocSide, query: QuerySide) -> Tensor:
        """(B, S, Q): for every question token, its best cosine within each segment."""
        b, q, _ = query.vectors.shape
        s = doc.n_segments
        n = doc.tokens.shape[0]
        out = torch.full((b, s, q), -1.0, dtype=doc.tokens.dtype, device=doc.tokens.device)
        for lo in range(0, n, SCORE_BLOCK_TOKENS):
            hi = min(n, lo + SCORE_BLOCK_TOKENS)
            sims = torch.einsum("nd,bqd->bnq", doc.tokens[lo:hi], query.vectors)  # (B, n, Q)
            seg = doc.segment_of_token[lo:hi].view(1, -1, 1).expand(b, -1, q)
            out = out.scatter_reduce(1, seg, sims, reduce="amax", include_self=True)
        return out

    def token_matches(self, tokens: Tensor, query: QuerySide) -> tuple[Tensor, Tensor]:
        """For given token vectors (B, K, D): (best cosine over the question's tokens, weighted mean cosine),
        each (B, K); the global layers read them as features of the kept tokens."""
        sims = torch.einsum("bkd,bqd->bkq", tokens, query.vectors)
        real = query.weights > 0
        best = sims.masked_fill(~real.unsqueeze(1), -1.0).amax(-1)
        weighted = (sims * query.weights.unsqueeze(1)).sum(-1)
        return best, weighted

    def forward(self, doc: DocSide, query: QuerySide) -> SegmentScores:
        best = self.best_matches(doc, query)  # (B, S, Q)
        match = (best * query.weights.unsqueeze(1)).sum(-1)  # (B, S)
        sem = torch.einsum("sd,bd->bs", doc.segment_sem, query.sem)
        loglen = torch.log1p(doc.segment_len).unsqueeze(0).expand_as(match) / math.log(256.0)
        prev_m = F.pad(match, (1, 0), value=-1.0)[:, :-1]
        next_m = F.pad(match, (0, 1), value=-1.0)[:, 1:]
        prev_s = F.pad(sem, (1, 0), value=-1.0)[:, :-1]
        next_s = F.pad(sem, (0, 1), value=-1.0)[:, 1:]
        feats = torch.stack(
            [
                match,
                sem,
                loglen,
                torch.maximum(prev_m, next_m),
                torch.maximum(prev_s, next_s),
                match * sem,
                match.square(),
            ],
            dim=-1,
        )
        feats = feats * self.feature_scale
        logits = self.mlp(feats).squeeze(-1) + self.linear(feats).squeeze(-1)
        return SegmentScores(logits, match, sem)


def select_segments(
    scores: Tensor,
    segment_len: Tensor,
    budget: int,
    max_segment_tokens: int,
    pinned: list[int] | None = None,
) -> list[int]:
    """Segments to keep for one question, in document order: ``pinned`` first, then the best-scored, until
    their tokens (each segment counted at most ``max_segment_tokens``) fill ``budget``."""
    lengths = segment_len.clamp_max(max_segment_tokens).long().tolist()
    order = torch.argsort(scores.float(), descending=True, stable=True).tolist()
    chosen: list[int] = []
    seen: set[int] = set()
    used = 0
    for s in [*(pinned or []), *order]:
        if s in seen or not 0 <= s < len(lengths) or lengths[s] == 0:
            continue
        if used and used + lengths[s] > budget:
            if used >= budget:
                break
            continue  # this one does not fit; a shorter one further down may
        chosen.append(s)
        seen.add(s)
        used += lengths[s]
    return sorted(chosen)


__all__ = [
    "DocSide",
    "EvidenceScorer",
    "QuerySide",
    "SegmentScores",
    "segment_mean",
    "select_segments",
]
