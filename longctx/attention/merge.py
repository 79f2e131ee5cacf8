"""Numerically stable merge of partial attention results by their log-sum-exp.

Two partial results over disjoint key sets, ``(o_a, lse_a)`` and ``(o_b, lse_b)``, combine exactly into
``lse = log(exp(lse_a) + exp(lse_b))`` and ``o = o_a * exp(lse_a - lse) + o_b * exp(lse_b - lse)``. Written
with the max subtracted so nothing overflows, and with rows that have seen no key yet (lse = -inf) giving
weight 0 instead of NaN. Accumulators are float32 (float64 when the inputs are float64).
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor


def merged_lse(lse_a: Tensor, lse_b: Tensor) -> Tensor:
    """log(exp(a) + exp(b)) that stays finite for large values and is -inf only when both are."""
    hi = torch.maximum(lse_a, lse_b)
    lo = torch.minimum(lse_a, lse_b)
    safe_hi = torch.where(torch.isneginf(hi), torch.zeros_like(hi), hi)
    return hi + torch.log1p(torch.exp(lo - safe_hi))


def merge(o_a: Tensor, lse_a: Tensor, o_b: Tensor, lse_b: Tensor) -> tuple[Tensor, Tensor]:
    """Functional merge; returns new (out, lse) in the accumulation dtype of the inputs."""
    acc = torch.promote_types(o_a.dtype, torch.float32)
    lse_a, lse_b = lse_a.to(acc), lse_b.to(acc)
    lse = merged_lse(lse_a, lse_b)
    safe = torch.where(torch.isneginf(lse), torch.zeros_like(lse), lse)
    w_a = torch.exp(lse_a - safe)[..., None]
    w_b = torch.exp(lse_b - safe)[..., None]
    return o_a.to(acc) * w_a + o_b.to(acc) * w_b, lse


class Accumulator:
    """Running (out, lse) of one rank's queries; blocks are merged into row slices in place."""

    def __init__(self, shape: tuple[int, ...], device: torch.device, dtype: torch.dtype) -> None:
        self.out = torch.zeros(shape, device=device, dtype=dtype)
        self.lse = torch.full(shape[:-1], -torch.inf, device=device, dtype=dtype)

    def add(self, out: Tensor, lse: Tensor, row0: int = 0, row1: int | None = None) -> None:
        """Merge a block result covering query rows ``row0:row1`` of the accumulator."""
        row1 = self.out.shape[-2] if row1 is None else row1
        o_acc = self.out[..., row0:row1, :]
        l_acc = self.lse[..., row0:row1]
        new_o, new_l = merge(o_acc, l_acc, out, lse)
        o_acc.copy_(new_o)
        l_acc.copy_(new_l)
