"""The clause head: one linear probe per contract field over a document's segments (contract key terms).

Contract fields are answered by whole clauses, judged by word overlap with the annotated clause (CUAD's rule),
so the reader ranks segments (``longctx.text.segment``) rather than token spans for them. A segment is
described by the mean of its tokens' local-encoder states (the MiniLM encoder's own sentence-embedding
pooling), the same for the segments before and after it (its section context), its length, position and
heading flag -- all query-independent, computed once per document -- plus the lexical reader's BM25 scores
for the field. Each field of the contract schema has its own logistic probe over those features, trained on
CUAD's training contracts (``longctx.training.clause_head``); its output is a probability that the segment
is (most of) a clause for that field, comparable across documents, which is what a ranked extraction needs.
Fields without a probe are left to the lexical reader.

A segment's probability is not yet the chance that the *answer* is right: a long clause split over several
segments has positive segments none of which matches it by CUAD's rule, and a field's third-best segment
is judged against the first. The answer calibration (``AnswerCalibration``) turns the probes' top-k logits
of one question into the probability that each answer matches an annotated clause, from the logit, its gap
to the question's best, the best itself and the rank, with a bias and slope per field -- fitted on
out-of-fold logits of the training contracts, so that answers of different fields and documents can be
ranked against each other (CUAD's pooled precision/recall, a review queue sorted by confidence).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

HEAD_WEIGHTS = "clause_head.safetensors"
HEAD_CONFIG = "clause_head.json"
N_SHARED_SCALAR = 4  # length, position, near-start, heading
N_FIELD_SCALAR = 3  # BM25 own, BM25 passage, BM25 gap to the best segment


def segment_token_ranges(offsets: np.ndarray, segments) -> np.ndarray:
    """(S, 2) [first, last) token index of each segment (tokens starting inside it)."""
    starts = offsets[:, 0] if len(offsets) else np.zeros(0, dtype=np.int64)
    lo = np.searchsorted(starts, [s.start for s in segments])
    hi = np.searchsorted(starts, [s.end for s in segments])
    return np.stack([lo, hi], axis=1) if len(segments) else np.zeros((0, 2), dtype=np.int64)


def segment_embeddings(states: Tensor, ranges: np.ndarray) -> Tensor:
    """(S, H) L2-normalised mean state of each segment's tokens (zeros for a segment without tokens)."""
    h = states.shape[1]
    if len(ranges) == 0:
        return states.new_zeros(0, h)
    csum = torch.cat([states.new_zeros(1, h), states.float().cumsum(0)])
    lo, hi = torch.as_tensor(ranges[:, 0]), torch.as_tensor(ranges[:, 1])
    n = (hi - lo).clamp_min(1).unsqueeze(1).to(csum.dtype)
    mean = (csum[hi] - csum[lo]) / n
    return torch.nn.functional.normalize(mean, dim=-1)


def query_embedding(query_states: Tensor, mask: Tensor) -> Tensor:
    """(H,) L2-normalised mean of the query row's states over its real tokens."""
    m = mask.to(query_states.dtype).unsqueeze(-1)
    mean = (query_states * m).sum(0) / m.sum(0).clamp_min(1)
    return torch.nn.functional.normalize(mean.float(), dim=-1)


def shared_features(seg_emb: Tensor, ranges: np.ndarray, segments) -> np.ndarray:
    """(S, 3H + 4) query-independent features: own, previous and next embedding, length, position, heading."""
    s = seg_emb.float().numpy()
    z = np.zeros((1, s.shape[1]), dtype=np.float32)
    prev = np.concatenate([z, s[:-1]]) if len(s) else s
    nxt = np.concatenate([s[1:], z]) if len(s) else s
    n_tok = (ranges[:, 1] - ranges[:, 0]).astype(np.float32) if len(ranges) else np.zeros(0, np.float32)
    start = np.array([seg.start for seg in segments], dtype=np.float32)
    span = max(float(segments[-1].end), 1.0) if segments else 1.0
    scalars = (
        np.stack(
            [
                np.log1p(n_tok) / math.log(512.0),
                start / span,
                np.exp(-start / 3000.0),
                np.array([float(seg.heading) for seg in segments], dtype=np.float32),
            ],
            axis=1,
        )
        if segments
        else np.zeros((0, N_SHARED_SCALAR), np.float32)
    )
    return np.concatenate([s, prev, nxt, scalars], axis=1).astype(np.float32)


def field_features(bm25_own: np.ndarray, bm25_passage: np.ndarray, bm25_ceiling: float) -> np.ndarray:
    """(S, 3) the field's BM25 scores on the document's own scale, and the gap to its best segment."""
    c = bm25_ceiling if bm25_ceiling > 0 else 1.0
    p = bm25_passage / c
    return np.stack([bm25_own / c, p, p - (p.max() if len(p) else 0.0)], axis=1).astype(np.float32)


N_ANSWER_FEATURES = 5  # logit, gap to the question's best, best logit, log(1 + rank), first answer


def sigmoid(logit: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(logit, -50.0, 50.0)))


def top_segments(logits: np.ndarray, top_k: int) -> np.ndarray:
    """Indices of the ``top_k`` highest logits, best first, ties in document order: the answers a question
    gets, and so the answers the calibration is fitted on."""
    return np.lexsort((np.arange(len(logits)), -logits))[:top_k]


def answer_features(top_logits: np.ndarray) -> np.ndarray:
    """(k, 5) features of one question's answers, given their probe logits best first."""
    z = np.asarray(top_logits, dtype=np.float32)
    if len(z) == 0:
        return np.zeros((0, N_ANSWER_FEATURES), np.float32)
    rank = np.arange(len(z), dtype=np.float32)
    best = np.full_like(z, z[0])
    return np.stack([z, z - best, best, np.log1p(rank), (rank == 0).astype(np.float32)], axis=1)


class AnswerCalibration:
    """logit P(answer matches a clause) = features @ weights + bias[field] + slope[field] * probe logit."""

    def __init__(self, weights, bias: dict[str, float], slope: dict[str, float]) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        self.bias = {k: float(v) for k, v in bias.items()}
        self.slope = {k: float(v) for k, v in slope.items()}

    def logits(self, key: str, features: np.ndarray) -> np.ndarray:
        """(k,) calibrated logits of answers to a ``key`` question, given their ``answer_features``."""
        x = np.asarray(features, dtype=np.float64)
        return x @ self.weights + self.bias.get(key, 0.0) + self.slope.get(key, 0.0) * x[:, 0]

    def probabilities(self, key: str, top_logits: np.ndarray) -> np.ndarray:
        """(k,) probability that each of one question's answers (probe logits, best first) is right."""
        return sigmoid(self.logits(key, answer_features(top_logits)))

    def to_json(self) -> dict:
        return {"weights": [round(float(w), 6) for w in self.weights], "bias": self.bias, "slope": self.slope}

    @classmethod
    def from_json(cls, body: dict) -> AnswerCalibration:
        return cls(body["weights"], body["bias"], body["slope"])


class ClauseHead(nn.Module):
    """Per-field logistic probes: logit = shared @ w_field + bm25 @ v_field + b_field."""

    def __init__(self, keys: list[str], dim: int) -> None:
        super().__init__()
        self.keys = list(keys)
        self.dim = dim
        self.index = {k: i for i, k in enumerate(self.keys)}
        self.shared = nn.Parameter(torch.zeros(len(keys), dim))
        self.lexical = nn.Parameter(torch.zeros(len(keys), N_FIELD_SCALAR))
        self.bias = nn.Parameter(torch.zeros(len(keys)))
        self.calibration: AnswerCalibration | None = None

    def has(self, key: str | None) -> bool:
        return key in self.index

    def forward(self, shared: Tensor, lexical: Tensor) -> Tensor:
        """All fields at once: shared (S, D), lexical (S, F, 3) -> logits (S, F)."""
        return shared @ self.shared.T + (lexical * self.lexical).sum(-1) + self.bias

    @torch.inference_mode()
    def logits(self, key: str, shared: np.ndarray, lexical: np.ndarray) -> np.ndarray:
        """(S,) the probe's logit for each segment being a clause for ``key``."""
        i = self.index[key]
        return shared @ self.shared[i].numpy() + lexical @ self.lexical[i].numpy() + float(self.bias[i])

    def probabilities(self, key: str, shared: np.ndarray, lexical: np.ndarray) -> np.ndarray:
        """(S,) probability that each segment is a clause for ``key``."""
        return sigmoid(self.logits(key, shared, lexical))

    def ranked(
        self, key: str, shared: np.ndarray, lexical: np.ndarray, top_k: int
    ) -> list[tuple[int, float]]:
        """The question's best ``top_k`` segments as (index, confidence), most confident first: the answer
        calibration's probability where the head has one, else the probe's own."""
        z = self.logits(key, shared, lexical)
        order = top_segments(z, max(1, top_k))
        if self.calibration is None:
            conf = sigmoid(z[order])
        else:
            conf = self.calibration.probabilities(key, z[order])
        best = np.argsort(-conf, kind="stable")
        return [(int(order[i]), float(conf[i])) for i in best]

    def save(self, directory: str | Path, info: dict | None = None) -> None:
        from safetensors.torch import save_file

        d = Path(directory)
        sd = {k: v.detach().cpu().half().contiguous() for k, v in self.state_dict().items()}
        save_file(sd, str(d / HEAD_WEIGHTS))
        body = {"keys": self.keys, "dim": self.dim, "info": info or {}}
        if self.calibration is not None:
            body["calibration"] = self.calibration.to_json()
        (d / HEAD_CONFIG).write_text(json.dumps(body, indent=2))

    @classmethod
    def load(cls, directory: str | Path) -> ClauseHead | None:
        from safetensors.torch import load_file

        d = Path(directory)
        if not (d / HEAD_WEIGHTS).is_file():
            return None
        cfg = json.loads((d / HEAD_CONFIG).read_text())
        if "keys" not in cfg:
            raise RuntimeError(f"{d / HEAD_CONFIG}: an older clause head format; retrain it")
        head = cls(list(cfg["keys"]), int(cfg["dim"]))
        head.load_state_dict({k: v.float() for k, v in load_file(str(d / HEAD_WEIGHTS)).items()})
        if "calibration" in cfg:
            head.calibration = AnswerCalibration.from_json(cfg["calibration"])
        return head.eval()


__all__ = [
    "HEAD_CONFIG",
    "N_ANSWER_FEATURES",
    "AnswerCalibration",
    "answer_features",
    "HEAD_WEIGHTS",
    "ClauseHead",
    "field_features",
    "sigmoid",
    "top_segments",
    "query_embedding",
    "segment_embeddings",
    "segment_token_ranges",
    "shared_features",
]
