"""Float64 single-process attention: the ground truth every backend and the ring are checked against."""

from __future__ import annotations

import math

import torch

Tensor = torch.Tensor


def reference_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    causal: bool = False,
    scale: float | None = None,
    key_padding_mask: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Dense softmax attention in float64 over the *global* sequence, ``(B, H, N, D)``.

    ``causal`` masks key positions after the query's; ``key_padding_mask`` ``(B, N)`` (True = real key)
    removes keys. Rows that see no key give out 0 and lse -inf. Differentiable, so gradients of a loss
    through it are the reference gradients.
    """
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    q, k, v = q.double(), k.double(), v.double()
    s = torch.matmul(q, k.transpose(-1, -2)) * scale
    n_q, n_k = q.shape[-2], k.shape[-2]
    visible = torch.ones(n_q, n_k, dtype=torch.bool, device=q.device)
    if causal:
        visible = torch.ones_like(visible).tril()
    visible = visible[None, None]
    if key_padding_mask is not None:
        visible = visible & key_padding_mask.bool()[:, None, None, :]
    s = s.masked_fill(~visible, -math.inf)
    lse = torch.logsumexp(s, dim=-1)
    safe = torch.where(torch.isneginf(lse), torch.zeros_like(lse), lse)
    p = torch.exp(s - safe[..., None])
    return torch.matmul(p, v), lse


def relative_error(actual: Tensor, expected: Tensor) -> float:
    """||actual - expected|| / ||expected|| in float64 (Frobenius norms)."""
    a, e = actual.detach().double(), expected.detach().double()
    return float((a - e).norm() / e.norm().clamp_min(1e-300))
