"""A ring of W ranks simulated in one process: the same block plans, kernels and merges as the real ring,
minus the communication. Used to benchmark block-size and merge overhead on one device (CPU or one GPU)
and to test the ring arithmetic quickly with many world sizes.
"""

from __future__ import annotations

import torch

from longctx.attention.block import BlockKernel
from longctx.attention.kernels import compute_dtype, select_backend
from longctx.attention.merge import Accumulator
from longctx.attention.ring import RingSetup, backward_blocks, forward_blocks

Tensor = torch.Tensor


def simulated_forward_rank(
    rank: int,
    qs: list[Tensor],
    ks: list[Tensor],
    vs: list[Tensor],
    setup: RingSetup,
    kernel: BlockKernel,
    scale: float,
    masks: list[Tensor] | None = None,
) -> tuple[Tensor, Tensor]:
    """What ``rank`` computes in the forward ring (blocks visited in ring order); fp32 (out, lse)."""
    q = qs[rank]
    acc = Accumulator((*q.shape[:-1], vs[rank].shape[-1]), q.device, compute_dtype(q.dtype))
    for step in range(setup.world):
        src = setup.source(rank, step)
        mask = None if masks is None else masks[src]
        forward_blocks(kernel, q, ks[src], vs[src], mask, setup.plan(rank, src), scale, acc)
    return acc.out, acc.lse


class _SimulatedRing(torch.autograd.Function):
    @staticmethod
    def forward(ctx, setup, kernel, scale, masks, *qkv):
        world = setup.world
        qs, ks, vs = list(qkv[:world]), list(qkv[world : 2 * world]), list(qkv[2 * world :])
        outs, lses = [], []
        for r in range(world):
            o, lse = simulated_forward_rank(r, qs, ks, vs, setup, kernel, scale, masks)
            outs.append(o.to(qs[r].dtype))
            lses.append(lse)
        ctx.save_for_backward(*qkv, *outs, *lses)
        ctx.setup, ctx.kernel, ctx.scale, ctx.masks = setup, kernel, scale, masks
        for lse in lses:
            ctx.mark_non_differentiable(lse)
        return (*outs, *lses)

    @staticmethod
    def backward(ctx, *grads):
        setup, world = ctx.setup, ctx.setup.world
        saved = ctx.saved_tensors
        qs, ks, vs = saved[:world], saved[world : 2 * world], saved[2 * world : 3 * world]
        outs, lses = saved[3 * world : 4 * world], saved[4 * world :]
        douts = [
            g if g is not None else torch.zeros_like(o) for g, o in zip(grads[:world], outs, strict=True)
        ]
        ct = compute_dtype(qs[0].dtype)
        dqs = [torch.zeros(q.shape, dtype=ct, device=q.device) for q in qs]
        dkvs = [torch.zeros((2, *k.shape), dtype=ct, device=k.device) for k in ks]
        for r in range(world):
            for step in range(world):
                src = setup.source(r, step)
                mask = None if ctx.masks is None else ctx.masks[src]
                backward_blocks(
                    ctx.kernel, douts[r], qs[r], ks[src], vs[src], mask, outs[r], lses[r],
                    setup.plan(r, src), ctx.scale, dqs[r], dkvs[src],
                )  # fmt: skip
        dq = [d.to(q.dtype) for d, q in zip(dqs, qs, strict=True)]
        dk = [d[0].to(k.dtype) for d, k in zip(dkvs, ks, strict=True)]
        dv = [d[1].to(v.dtype) for d, v in zip(dkvs, vs, strict=True)]
        return (None, None, None, None, *dq, *dk, *dv)


def simulated_ring_attention(
    qs: list[Tensor],
    ks: list[Tensor],
    vs: list[Tensor],
    *,
    causal: bool = False,
    scale: float | None = None,
    layout: str = "contiguous",
    backend: str = "auto",
    key_padding_masks: list[Tensor] | None = None,
) -> tuple[list[Tensor], list[Tensor]]:
    """Ring attention over per-rank shards held in one process; differentiable. Returns (outs, lses).

    Shards are ``(B, H, L_r, D)`` as :func:`longctx.attention.shard` makes them (uneven lengths allowed
    for ``contiguous``); ``key_padding_masks`` are ``(B, L_r)`` bool, True = real key.
    """
    world = len(qs)
    lengths = tuple(q.shape[2] for q in qs)
    setup = RingSetup(lengths, layout, causal)
    setup.chunks  # noqa: B018 - validates the shard lengths for the layout
    q0 = qs[0]
    scale = q0.shape[-1] ** -0.5 if scale is None else float(scale)
    kernel = select_backend(
        backend, q0.device, q0.dtype, need_mask=key_padding_masks is not None, head_dim=q0.shape[-1]
    )
    masks = None if key_padding_masks is None else [m.bool() for m in key_padding_masks]
    res = _SimulatedRing.apply(setup, kernel, scale, masks, *qs, *ks, *vs)
    return list(res[:world]), list(res[world:])
