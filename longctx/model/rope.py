"""Rotary position embeddings, optionally NTK-scaled for positions up to ~1M.

The reader numbers its kept tokens compactly (``scaling="none"``: positions never leave the trained range);
the NTK variant is kept for schemes that put tokens at their original document positions.

Scaling choice (NTK-aware base scaling): with ``s = max_positions / train_positions`` the base becomes
``base * s ** (d / (d - 2))``. The highest frequency (local order) is unchanged, the lowest is stretched
so its wavelength covers ``max_positions``; with d=32, base 1e4, train 32k, max 1M the base is ~4e5 and the
longest wavelength ~1.1M. Angles are computed in float64 because ``pos * freq`` at pos ~1e6 loses ~0.06 rad
in fp32.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def ntk_base(head_dim: int, base: float, max_positions: int, train_positions: int) -> float:
    s = max(1.0, max_positions / max(1, train_positions))
    return base * s ** (head_dim / (head_dim - 2)) if head_dim > 2 else base


class RotaryEmbedding(nn.Module):
    def __init__(
        self,
        head_dim: int,
        base: float = 10000.0,
        max_positions: int = 1 << 20,
        train_positions: int = 32768,
        scaling: str = "ntk",
    ) -> None:
        super().__init__()
        if head_dim % 2:
            raise ValueError("head_dim must be even for RoPE")
        if scaling not in ("ntk", "none"):
            raise ValueError("scaling must be 'ntk' or 'none'")
        self.head_dim = head_dim
        self.base = ntk_base(head_dim, base, max_positions, train_positions) if scaling == "ntk" else base

    def inv_freq(self, device: torch.device | str | None = None) -> Tensor:
        """float64 frequencies, recomputed on call (a buffer would be cast to fp16/fp32 by ``model.to``)."""
        exps = torch.arange(0, self.head_dim, 2, dtype=torch.float64, device=device) / self.head_dim
        return 1.0 / (self.base**exps)

    def longest_wavelength(self) -> float:
        return 2 * math.pi / float(self.inv_freq()[-1])

    def cos_sin(self, positions: Tensor, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
        """positions (..., T) int -> cos, sin (..., T, head_dim/2)."""
        ang = positions.to(torch.float64).unsqueeze(-1) * self.inv_freq(positions.device)
        return ang.cos().to(dtype), ang.sin().to(dtype)

    def forward(self, x: Tensor, positions: Tensor) -> Tensor:
        """Rotate x (B, heads, T, d) by positions (B, T) or (T,)."""
        cos, sin = self.cos_sin(positions, x.dtype)
        if cos.dim() == 3:  # (B, T, d/2) -> (B, 1, T, d/2)
            cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        return apply_rotary(x, cos, sin)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate pairs (x[..., i], x[..., i + d/2]) by the angle whose cos/sin are given (half-split layout)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


__all__ = ["RotaryEmbedding", "apply_rotary", "ntk_base"]
