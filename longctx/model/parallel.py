"""The reader's global stage, sequence-parallel: the [question; kept tokens] sequence split across ranks.

Everything in a global layer is per token except attention, so each rank runs the layers on a contiguous
slice of the sequence and ring attention (``longctx.attention.ring_attention``) lets every query see every
key; the slices are gathered back into the whole sequence before the heads.

Layout: contiguous, near-equal slices (``split_sizes``). The global layers are bidirectional, so every rank
scores all of its queries against all keys whatever the layout: contiguous is already balanced (zigzag and
striped balance *causal* work and would buy nothing here), and it takes any length, where zigzag needs the
length to divide by 2W. The key-padding mask (ragged batch rows) is sliced with the tokens.

Two ways to drive it (``LongContextReader.group``):

* **lockstep**: ``group`` is a ``torch.distributed`` process group and every rank calls ``read`` with the same
  inputs; each keeps its slice, and an all-gather gives every rank the whole output.
* **leader and followers** (the multi-device worker, ``workers/ranks.py``): only rank 0 runs the pipeline;
  ``group`` is a :class:`StageDriver` whose ``run_global_stage`` tells the followers a stage is coming
  (:class:`StageShape`), then :func:`lead_global_stage` scatters each rank its slice and gathers the outputs
  on rank 0, while every follower runs :func:`follow_global_stage`. Followers hold only the global layers.

Inference only: the gathers are not differentiable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from longctx.attention.layout import split_sizes


@runtime_checkable
class StageDriver(Protocol):
    """What ``LongContextReader.read`` calls for the global layers when ``model.group`` is a driver."""

    def run_global_stage(
        self, layers: Sequence[nn.Module], x: Tensor, cos: Tensor, sin: Tensor, key_mask: Tensor | None
    ) -> Tensor: ...


@dataclass(frozen=True)
class StageShape:
    """What a follower needs to receive one stage: the whole sequence's shape and dtype."""

    batch: int
    tokens: int
    hidden: int
    rotary: int  # last dim of cos/sin (head_dim / 2)
    dtype: str  # torch dtype name, e.g. "float32"
    has_mask: bool

    @classmethod
    def of(cls, x: Tensor, cos: Tensor, key_mask: Tensor | None) -> StageShape:
        b, t, h = x.shape
        return cls(b, t, h, int(cos.shape[-1]), str(x.dtype).removeprefix("torch."), key_mask is not None)

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

    @property
    def width(self) -> int:
        """Features per token on the wire: x, cos, sin and the mask packed side by side."""
        return self.hidden + 2 * self.rotary + int(self.has_mask)


def token_split(tokens: int, world: int) -> list[int]:
    """Tokens of each rank's contiguous slice (near-equal; the first ones one longer)."""
    if tokens < world:
        raise ValueError(f"a global stage of {tokens} tokens cannot be split over {world} ranks")
    return split_sizes(tokens, world)


def _resolve(group):
    """``None`` is the default (world) group."""
    return dist.group.WORLD if group is None else group


def _group_info(group) -> tuple[int, int]:
    return dist.get_world_size(group), dist.get_rank(group)


def _run_slice(layers, x, cos, sin, key_mask, group, lengths: list[int]) -> Tensor:
    for layer in layers:
        x = layer(x, cos, sin, key_mask, group, shard_lengths=lengths)
    return x


def _gather(y: Tensor, lengths: list[int], group, dst: int | None) -> Tensor | None:
    """The slices of every rank joined along the tokens (on every rank, or on ``dst`` only)."""
    world, rank = _group_info(group)
    longest = max(lengths)
    y = F.pad(y, (0, 0, 0, longest - y.shape[1])).contiguous()
    if dst is None:
        parts = [torch.empty_like(y) for _ in range(world)]
        dist.all_gather(parts, y, group=group)
    else:
        parts = [torch.empty_like(y) for _ in range(world)] if rank == dst else None
        dist.gather(y, parts, dst=dist.get_global_rank(group, dst), group=group)
        if parts is None:
            return None
    return torch.cat([p[:, :n] for p, n in zip(parts, lengths, strict=True)], dim=1)


def sharded_global_stage(
    layers: Sequence[nn.Module], x: Tensor, cos: Tensor, sin: Tensor, key_mask: Tensor | None, group
) -> Tensor:
    """Lockstep: every rank of ``group`` passes the same whole-sequence inputs; all get the whole output."""
    group = _resolve(group)
    world, rank = _group_info(group)
    lengths = token_split(x.shape[1], world)
    lo = sum(lengths[:rank])
    hi = lo + lengths[rank]
    mask = None if key_mask is None else key_mask[:, lo:hi]
    y = _run_slice(layers, x[:, lo:hi], cos[:, :, lo:hi], sin[:, :, lo:hi], mask, group, lengths)
    return _gather(y, lengths, group, None)


def _pack(x: Tensor, cos: Tensor, sin: Tensor, key_mask: Tensor | None) -> Tensor:
    parts = [x, cos[:, 0].to(x.dtype), sin[:, 0].to(x.dtype)]
    if key_mask is not None:
        parts.append(key_mask.to(x.dtype).unsqueeze(-1))
    return torch.cat(parts, dim=-1)


def _unpack(packed: Tensor, shape: StageShape) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    h, r = shape.hidden, shape.rotary
    x = packed[..., :h]
    cos = packed[..., h : h + r].unsqueeze(1)
    sin = packed[..., h + r : h + 2 * r].unsqueeze(1)
    mask = packed[..., h + 2 * r] > 0.5 if shape.has_mask else None
    return x.contiguous(), cos.contiguous(), sin.contiguous(), mask


def _scatter_and_run(layers, mine: Tensor, shape: StageShape, group, src: int, chunks) -> Tensor | None:
    world, rank = _group_info(group)
    lengths = token_split(shape.tokens, world)
    dist.scatter(mine, chunks, src=dist.get_global_rank(group, src), group=group)
    x, cos, sin, mask = _unpack(mine[:, : lengths[rank]], shape)
    y = _run_slice(layers, x, cos, sin, mask, group, lengths)
    return _gather(y, lengths, group, src)


def lead_global_stage(
    layers: Sequence[nn.Module],
    x: Tensor,
    cos: Tensor,
    sin: Tensor,
    key_mask: Tensor | None,
    group=None,
    src: int = 0,
) -> Tensor:
    """Rank ``src``'s side: scatter each rank its slice, run this rank's, gather the whole output here.
    The followers must be in :func:`follow_global_stage` with ``StageShape.of(x, cos, key_mask)``."""
    group = _resolve(group)
    world, rank = _group_info(group)
    if rank != src:
        raise RuntimeError(f"lead_global_stage runs on rank {src}, not {rank}")
    shape = StageShape.of(x, cos, key_mask)
    lengths = token_split(shape.tokens, world)
    packed = _pack(x, cos, sin, key_mask)
    longest = max(lengths)
    starts = [sum(lengths[:r]) for r in range(world)]
    chunks = [
        F.pad(packed[:, s : s + n], (0, 0, 0, longest - n)).contiguous()
        for s, n in zip(starts, lengths, strict=True)
    ]
    mine = torch.empty_like(chunks[rank])
    return _scatter_and_run(layers, mine, shape, group, src, chunks)


def follow_global_stage(
    layers: Sequence[nn.Module],
    shape: StageShape,
    group=None,
    device: torch.device | str = "cpu",
    src: int = 0,
) -> None:
    """A follower's side of one stage: receive this rank's slice, run it, send the output to ``src``."""
    group = _resolve(group)
    world, rank = _group_info(group)
    longest = max(token_split(shape.tokens, world))
    mine = torch.empty(shape.batch, longest, shape.width, dtype=shape.torch_dtype, device=device)
    _scatter_and_run(layers, mine, shape, group, src, None)


__all__ = [
    "StageDriver",
    "StageShape",
    "follow_global_stage",
    "lead_global_stage",
    "sharded_global_stage",
    "token_split",
]
