"""The clause head: ranks a document's sentences/clauses for a schema field (contract key terms).

Contract fields are answered by whole clauses, judged by word overlap with the annotated clause (CUAD's rule),
so the reader ranks segments (``longctx.analysis.segment``) rather than token spans for them. Each segment is
the mean of its tokens' local-encoder states (the MiniLM encoder's own sentence-embedding pooling), computed
once per document; the query is the mean of its tokens' states. A small MLP scores [s * q, s, cos(s, q),
BM25 features, length, position, heading] and is trained on CUAD's training contracts
(``longctx.training.clause_head``). Its output is a probability that the segment is (most of) a clause
answering the field, comparable across documents, which is what a ranked extraction needs.
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
N_SCALAR = 6


class ClauseHead(nn.Module):
    def __init__(self, hidden: int = 384, width: int = 256) -> None:
        super().__init__()
        self.hidden, self.width = hidden, width
        self.mlp = nn.Sequential(nn.Linear(2 * hidden + N_SCALAR, width), nn.GELU(), nn.Linear(width, 1))

    def forward(self, features: Tensor) -> Tensor:
        return self.mlp(features).squeeze(-1)

    def save(self, directory: str | Path) -> None:
        from safetensors.torch import save_file

        d = Path(directory)
        sd = {k: v.detach().cpu().half().contiguous() for k, v in self.state_dict().items()}
        save_file(sd, str(d / HEAD_WEIGHTS))
        (d / HEAD_CONFIG).write_text(json.dumps({"hidden": self.hidden, "width": self.width}, indent=2))

    @classmethod
    def load(cls, directory: str | Path) -> ClauseHead | None:
        from safetensors.torch import load_file

        d = Path(directory)
        if not (d / HEAD_WEIGHTS).is_file():
            return None
        cfg = json.loads((d / HEAD_CONFIG).read_text())
        head = cls(int(cfg["hidden"]), int(cfg["width"]))
        head.load_state_dict({k: v.float() for k, v in load_file(str(d / HEAD_WEIGHTS)).items()})
        return head.eval()


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


def features(
    seg_emb: Tensor,
    q_emb: Tensor,
    ranges: np.ndarray,
    segments,
    text_len: int,
    bm25_own: np.ndarray,
    bm25_passage: np.ndarray,
    bm25_ceiling: float,
) -> Tensor:
    """(S, 2H + 6) features of every segment for one query."""
    s = seg_emb.float()
    q = q_emb.float().unsqueeze(0)
    cos = (s * q).sum(-1, keepdim=True)
    c = bm25_ceiling if bm25_ceiling > 0 else 1.0
    n_tok = torch.as_tensor(ranges[:, 1] - ranges[:, 0], dtype=torch.float32)
    start = torch.tensor([seg.start / max(text_len, 1) for seg in segments], dtype=torch.float32)
    heading = torch.tensor([float(seg.heading) for seg in segments], dtype=torch.float32)
    scalars = torch.stack(
        [
            cos.squeeze(-1),
            torch.as_tensor(bm25_own / c, dtype=torch.float32),
            torch.as_tensor(bm25_passage / c, dtype=torch.float32),
            torch.log1p(n_tok) / math.log(512.0),
            start,
            heading,
        ],
        dim=1,
    )
    return torch.cat([s * q, s, scalars], dim=1)


__all__ = [
    "HEAD_CONFIG",
    "HEAD_WEIGHTS",
    "ClauseHead",
    "features",
    "query_embedding",
    "segment_embeddings",
    "segment_token_ranges",
]
