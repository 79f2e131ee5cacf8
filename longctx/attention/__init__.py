"""Attention for the global encoder: block kernels that return the log-sum-exp, and ring attention over a
``torch.distributed`` group with communication overlapped with compute.

Tensors are ``(batch, heads, seqlen, head_dim)`` throughout (PyTorch SDPA's layout); the log-sum-exp is
``(batch, heads, seqlen)`` fp32. See ``docs/ring-attention.md`` for when the ring hides its communication.
"""

from longctx.attention.kernels import (
    BlockKernel,
    attention,
    available_kernels,
    get_kernel,
    select_backend,
)
from longctx.attention.layout import LAYOUTS, positions, shard, shard_lengths, unshard
from longctx.attention.merge import merge
from longctx.attention.reference import reference_attention, relative_error
from longctx.attention.ring import RingSetup, ring_attention
from longctx.attention.simulated import simulated_ring_attention

__all__ = [
    "LAYOUTS",
    "BlockKernel",
    "RingSetup",
    "attention",
    "available_kernels",
    "get_kernel",
    "merge",
    "positions",
    "reference_attention",
    "relative_error",
    "ring_attention",
    "select_backend",
    "shard",
    "shard_lengths",
    "simulated_ring_attention",
    "unshard",
]
