"""The block-kernel interface every attention backend implements, shared by the kernels and the drivers.

A backend is a forward ``(q, k, v, scale, causal, mask) -> (out, lse)`` and a backward that accepts the
*merged* ``out``/``lse`` of a ring step; see ``longctx.attention.kernels`` for the layouts and conventions.
It has a module of its own so that optional backends (``flash``) and the built-in ones (``kernels``) both
build on it without importing each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

Tensor = torch.Tensor
ForwardFn = Callable[[Tensor, Tensor, Tensor, float, bool, Tensor | None], tuple[Tensor, Tensor]]
BackwardFn = Callable[
    [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, float, bool, Tensor | None],
    tuple[Tensor, Tensor, Tensor],
]

HALF = (torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class BlockKernel:
    """One attention backend: forward/backward on a block and what it can serve."""

    name: str
    forward: ForwardFn
    backward: BackwardFn
    devices: tuple[str, ...]
    dtypes: tuple[torch.dtype, ...]
    supports_mask: bool
    max_head_dim: int = 1 << 30
    available: Callable[[], bool] = field(default=lambda: True)

    def serves(self, device: torch.device | str, dtype: torch.dtype, need_mask: bool, head_dim: int) -> bool:
        dev = torch.device(device).type
        return (
            dev in self.devices
            and dtype in self.dtypes
            and (self.supports_mask or not need_mask)
            and head_dim <= self.max_head_dim
            and self.available()
        )


def backward_lse(lse: Tensor) -> Tensor:
    """lse for backward kernels: rows with no keys get +inf so that exp(s - lse) = 0 instead of NaN."""
    return torch.where(torch.isneginf(lse), torch.full_like(lse, math.inf), lse)
