"""Query fusion + learned token pruning: the reader's context-compression layer.

Per query: every document token cross-attends to the query's tokens (cost N x |q|), an MLP scores each fused
token (one keep-logit per token), and the global top ``k = ceil(rho * N)`` tokens go on to the global encoder,
in document order, with their original positions. Query tokens are not pruned: the reader always puts the
whole query in front of the kept tokens.

Training modes (the selection itself is always hard top-k; what differs is the gate that multiplies the
kept states and carries the gradient to the scorer):

* ``straight_through``: gate = 1 + p - stop_grad(p) with p = sigmoid(logit): forward value exactly 1, gradient
  of p.
* ``soft_topk``: gate = sigmoid((logit - tau) / T) with tau the midpoint between the k-th and (k+1)-th
  logits (no gradient through tau), T the temperature: a differentiable relaxation of top-k whose values tend
  to 1/0 as T -> 0.

In eval mode the gate is 1. Losses: :func:`keep_loss` (BCE of the keep-logits on answer/evidence labels) and
:func:`budget_loss` ((mean sigmoid(logit) - rho)^2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MODES = ("straight_through", "soft_topk")


def keep_count(n: int, rho: float) -> int:
    """Number of tokens kept of n at ratio rho: ceil(rho * n), at least 1 when n > 0."""
    if not 0.0 < rho <= 1.0:
        raise ValueError("rho must be in (0, 1]")
    if n <= 0:
        return 0
    return min(n, max(1, math.ceil(rho * n - 1e-9)))


@dataclass
class PruneOutput:
    fused: Tensor  # (B, N, H) query-fused token states
    keep_logits: Tensor  # (B, N)
    kept_index: Tensor  # (B, K) int64, ascending original token indices
    gate: Tensor  # (B, K) multiplier for the kept states (1 in eval)


class QueryFusion(nn.Module):
    """Document tokens (B, N, H) cross-attend to query tokens (B, Q, H); residual + LayerNorm."""

    def __init__(self, hidden: int, heads: int, eps: float = 1e-12) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(hidden, hidden)
        self.kv = nn.Linear(hidden, 2 * hidden)
        self.o = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, doc: Tensor, query: Tensor, query_mask: Tensor | None = None) -> Tensor:
        b, n, h = doc.shape
        qn = query.shape[1]
        d = h // self.heads
        q = self.q(doc).view(b, n, self.heads, d).transpose(1, 2)
        k, v = self.kv(query).view(b, qn, 2, self.heads, d).permute(2, 0, 3, 1, 4)
        mask = None if query_mask is None else query_mask.bool()[:, None, None, :]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.norm(doc + self.o(out.transpose(1, 2).reshape(b, n, h)))


class PruningLayer(nn.Module):
    def __init__(
        self,
        hidden: int,
        heads: int,
        rho: float = 0.2,
        mode: str = "straight_through",
        temperature: float = 1.0,
        eps: float = 1e-12,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        keep_count(1, rho)  # validates rho
        self.rho = rho
        self.mode = mode
        self.temperature = temperature
        self.fusion = QueryFusion(hidden, heads, eps)
        self.scorer = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def score(self, doc: Tensor, query: Tensor, query_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        fused = self.fusion(doc, query, query_mask)
        return fused, self.scorer(fused).squeeze(-1)

    @torch.no_grad()
    def scores_blockwise(
        self, doc: Tensor, query: Tensor, query_mask: Tensor | None = None, block: int = 32768
    ) -> Tensor:
        """Keep-logits (B, N) of doc (N, H) computed ``block`` tokens at a time (inference: memory stays
        O(B * block * H) however long the document). Fusion is per token, so this equals :meth:`score`."""
        b = query.shape[0]
        out = []
        for s in range(0, doc.shape[0], block):
            part = doc[s : s + block].unsqueeze(0).expand(b, -1, -1)
            out.append(self.score(part, query, query_mask)[1])
        if not out:
            return doc.new_zeros(b, 0)
        return torch.cat(out, dim=1)

    def forward(
        self,
        doc: Tensor,
        query: Tensor,
        query_mask: Tensor | None = None,
        *,
        rho: float | None = None,
        force_keep: Tensor | None = None,
    ) -> PruneOutput:
        """doc (B, N, H) or (N, H) shared by all queries; query (B, Q, H). force_keep (B, N) bool."""
        b = query.shape[0]
        if doc.dim() == 2:
            doc = doc.unsqueeze(0).expand(b, -1, -1)
        fused, logits = self.score(doc, query, query_mask)
        n = logits.shape[1]
        k = keep_count(n, self.rho if rho is None else rho)
        select = logits.detach()
        if force_keep is not None:
            select = select.masked_fill(force_keep.bool(), float("inf"))
        top = select.topk(k, dim=1)
        kept_index, order = top.indices.sort(dim=1)
        kept_logits = logits.gather(1, kept_index)
        if not self.training:
            gate = torch.ones_like(kept_logits)
        elif self.mode == "straight_through":
            p = torch.sigmoid(kept_logits)
            gate = 1.0 + p - p.detach()
        else:
            sorted_logits = logits.detach().sort(dim=1, descending=True).values
            kth = sorted_logits[:, k - 1 : k]
            nxt = sorted_logits[:, k : k + 1] if k < n else kth - 2.0 * self.temperature
            tau = 0.5 * (kth + nxt)
            gate = torch.sigmoid((kept_logits - tau) / self.temperature)
        return PruneOutput(fused=fused, keep_logits=logits, kept_index=kept_index, gate=gate)


def keep_loss(keep_logits: Tensor, labels: Tensor, pos_weight: float | None = None) -> Tensor:
    """BCE of keep-logits (B, N) against 0/1 labels (B, N) (answer/evidence tokens = 1; -1 = ignore)."""
    valid = labels >= 0
    if not valid.any():
        return keep_logits.sum() * 0.0
    pw = None if pos_weight is None else torch.tensor(pos_weight, device=keep_logits.device)
    return F.binary_cross_entropy_with_logits(
        keep_logits[valid], labels[valid].to(keep_logits.dtype), pos_weight=pw
    )


def budget_loss(keep_logits: Tensor, rho: float) -> Tensor:
    """(mean keep probability - rho)^2: pulls the scorer's calibrated keep-rate toward the budget."""
    return (torch.sigmoid(keep_logits).mean() - rho) ** 2


__all__ = ["MODES", "PruneOutput", "PruningLayer", "QueryFusion", "budget_loss", "keep_count", "keep_loss"]
