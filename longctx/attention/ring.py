"""Ring attention over a ``torch.distributed`` process group (gloo on CPU, NCCL on GPU).

Each rank holds a shard of q/k/v, ``(batch, heads, local_len, head_dim)``. K/V (packed into one buffer, with
the key-padding mask beside it) travel round the ring, rank r sending to r+1: at every step the transfer of
the next block is posted *before* the current block is computed (two alternating buffers), so the link
works while the kernel does. Partial results are merged in fp32 by log-sum-exp (:mod:`.merge`).

Backward is a second ring: K/V travel again, and an fp32 dK/dV accumulator travels with them, so after W
steps each rank receives the full gradient of its own K/V; dQ stays local. Block gradients use the *merged*
out/lse, which makes them exact without recomputing the forward merge.

Uneven shards: ranks are padded to the longest shard; padding is never attended (block plans only cover
real tokens) and its outputs are dropped. A per-key padding mask (e.g. batch items of different lengths)
travels with K/V and needs a mask-capable kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F

from longctx.attention import flash
from longctx.attention.block import BlockKernel
from longctx.attention.kernels import compute_dtype, select_backend
from longctx.attention.layout import Call, Chunk, block_plan, chunks_for_lengths
from longctx.attention.merge import Accumulator

Tensor = torch.Tensor


@dataclass(frozen=True)
class RingSetup:
    """Everything every rank must agree on: shard lengths, layout and masking."""

    lengths: tuple[int, ...]
    layout: str
    causal: bool

    @property
    def world(self) -> int:
        return len(self.lengths)

    @property
    def max_len(self) -> int:
        return max(self.lengths)

    @property
    def chunks(self) -> list[list[Chunk]]:
        return chunks_for_lengths(list(self.lengths), self.layout)

    def plan(self, q_rank: int, k_rank: int) -> list[Call]:
        return block_plan(self.chunks[q_rank], self.chunks[k_rank], self.causal)

    def source(self, rank: int, step: int) -> int:
        """Whose K/V block ``rank`` holds at ``step`` (blocks move r -> r+1)."""
        return (rank - step) % self.world


# ------------------------------------------------------------------------------ per-block work
def _key_mask(kmask: Tensor | None, call: Call) -> Tensor | None:
    if kmask is None:
        return None
    return kmask[:, None, None, call.k0 : call.k1].bool()


def forward_blocks(
    kernel: BlockKernel,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    kmask: Tensor | None,
    calls: list[Call],
    scale: float,
    acc: Accumulator,
) -> None:
    """Attend ``q`` to one K/V block through the plan's calls, merging into ``acc``."""
    for c in calls:
        o, lse = kernel.forward(
            q[..., c.q0 : c.q1, :],
            k[..., c.k0 : c.k1, :],
            v[..., c.k0 : c.k1, :],
            scale,
            c.causal,
            _key_mask(kmask, c),
        )
        acc.add(o, lse, c.q0, c.q1)


def backward_blocks(
    kernel: BlockKernel,
    dout: Tensor,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    kmask: Tensor | None,
    out: Tensor,
    lse: Tensor,
    calls: list[Call],
    scale: float,
    dq: Tensor,
    dkv: Tensor,
) -> None:
    """Add one K/V block's contribution to ``dq`` (local) and ``dkv`` (the travelling (2, ...) buffer)."""
    for c in calls:
        rows, keys = slice(c.q0, c.q1), slice(c.k0, c.k1)
        gq, gk, gv = kernel.backward(
            dout[..., rows, :],
            q[..., rows, :],
            k[..., keys, :],
            v[..., keys, :],
            out[..., rows, :],
            lse[..., rows],
            scale,
            c.causal,
            _key_mask(kmask, c),
        )
        dq[..., rows, :] += gq
        dkv[0][..., keys, :] += gk
        dkv[1][..., keys, :] += gv


# ------------------------------------------------------------------------------ communication
class RingComm:
    """Non-blocking neighbour exchange: send to rank+1, receive from rank-1 (group-local numbering)."""

    def __init__(self, group: dist.ProcessGroup | None) -> None:
        self.group = group if group is not None else dist.group.WORLD
        self.rank = dist.get_rank(self.group)
        self.world = dist.get_world_size(self.group)
        self.next = dist.get_global_rank(self.group, (self.rank + 1) % self.world)
        self.prev = dist.get_global_rank(self.group, (self.rank - 1) % self.world)
        self.gloo = dist.get_backend(self.group) == "gloo"

    def exchange(self, sends: list[Tensor], recvs: list[Tensor]) -> list:
        """Post sends to next and receives from prev; every rank posts the same kinds in the same order."""
        if self.gloo:
            # Gloo matches by tag, so distinct tags keep K/V, mask and dK/dV apart whatever the order.
            works = [dist.isend(t, self.next, self.group, tag=i) for i, t in enumerate(sends)]
            works += [dist.irecv(t, self.prev, self.group, tag=i) for i, t in enumerate(recvs)]
            return works
        ops = [dist.P2POp(dist.isend, t, self.next, self.group) for t in sends]
        ops += [dist.P2POp(dist.irecv, t, self.prev, self.group) for t in recvs]
        return dist.batch_isend_irecv(ops)

    @staticmethod
    def wait(works: list) -> None:
        for w in works:
            w.wait()

    def all_lengths(self, local_len: int, device: torch.device) -> tuple[int, ...]:
        t = torch.tensor([local_len], dtype=torch.long, device=device)
        out = [torch.zeros_like(t) for _ in range(self.world)]
        dist.all_gather(out, t, group=self.group)
        return tuple(int(x.item()) for x in out)


def _pack(k: Tensor, v: Tensor) -> Tensor:
    return torch.stack([k, v]).contiguous()


def ring_forward(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    kmask: Tensor | None,
    setup: RingSetup,
    comm: RingComm | None,
    kernel: BlockKernel,
    scale: float,
) -> tuple[Tensor, Tensor]:
    """Forward ring on padded local shards; returns fp32 (out, lse) of this rank's queries."""
    rank = comm.rank if comm is not None else 0
    acc = Accumulator((*q.shape[:-1], v.shape[-1]), q.device, compute_dtype(q.dtype))
    bufs = [_pack(k, v), None]
    masks = [None if kmask is None else kmask.clone(), None]  # buffers get overwritten by receives
    cur = 0
    for step in range(setup.world):
        works = []
        if step < setup.world - 1:
            nxt = 1 - cur
            if bufs[nxt] is None:
                bufs[nxt] = torch.empty_like(bufs[cur])
                masks[nxt] = None if kmask is None else torch.empty_like(kmask)
            sends = [bufs[cur]] + ([masks[cur]] if kmask is not None else [])
            recvs = [bufs[nxt]] + ([masks[nxt]] if kmask is not None else [])
            works = comm.exchange(sends, recvs)
        kv = bufs[cur]
        src = setup.source(rank, step)
        forward_blocks(kernel, q, kv[0], kv[1], masks[cur], setup.plan(rank, src), scale, acc)
        if works:
            RingComm.wait(works)
            cur = 1 - cur
    return acc.out, acc.lse


def ring_backward(
    dout: Tensor,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    kmask: Tensor | None,
    out: Tensor,
    lse: Tensor,
    setup: RingSetup,
    comm: RingComm | None,
    kernel: BlockKernel,
    scale: float,
) -> tuple[Tensor, Tensor, Tensor]:
    """Backward ring: K/V travel as in forward, fp32 dK/dV accumulators travel one step behind them."""
    rank = comm.rank if comm is not None else 0
    world = setup.world
    ct = compute_dtype(q.dtype)
    dq = torch.zeros(q.shape, dtype=ct, device=q.device)
    bufs = [_pack(k, v), None]
    masks = [None if kmask is None else kmask.clone(), None]  # buffers get overwritten by receives
    kv_shape = (2, *k.shape)
    contrib = [torch.zeros(kv_shape, dtype=ct, device=q.device), None]
    dkv_in = torch.empty(kv_shape, dtype=ct, device=q.device) if world > 1 else None
    cur = 0
    c = 0
    for step in range(world):
        sends: list[Tensor] = []
        recvs: list[Tensor] = []
        if step < world - 1:
            nxt = 1 - cur
            if bufs[nxt] is None:
                bufs[nxt] = torch.empty_like(bufs[cur])
                masks[nxt] = None if kmask is None else torch.empty_like(kmask)
            sends += [bufs[cur]] + ([masks[cur]] if kmask is not None else [])
            recvs += [bufs[nxt]] + ([masks[nxt]] if kmask is not None else [])
        if step > 0:
            # The accumulator finished last step goes on to the next rank, while this step computes.
            sends.append(contrib[1 - c])
            recvs.append(dkv_in)
        works = comm.exchange(sends, recvs) if sends else []
        if contrib[c] is None:
            contrib[c] = torch.zeros(kv_shape, dtype=ct, device=q.device)
        elif step > 0:
            contrib[c].zero_()
        kv = bufs[cur]
        src = setup.source(rank, step)
        backward_blocks(
            kernel, dout, q, kv[0], kv[1], masks[cur], out, lse, setup.plan(rank, src), scale, dq, contrib[c]
        )
        RingComm.wait(works)
        if step > 0:
            contrib[c] += dkv_in
        if step < world - 1:
            cur = 1 - cur
        c = 1 - c
    if world == 1:
        home = contrib[1 - c]
    else:
        # After W steps the accumulator for rank r+1's K/V sits here: one last hop brings each home.
        home = torch.empty(kv_shape, dtype=ct, device=q.device)
        RingComm.wait(comm.exchange([contrib[1 - c]], [home]))
    return dq, home[0], home[1]


class _RingAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, kmask, setup, comm, kernel, scale):
        out, lse = ring_forward(q, k, v, kmask, setup, comm, kernel, scale)
        out_c = out.to(q.dtype)
        ctx.save_for_backward(q, k, v, kmask, out_c, lse)
        ctx.setup, ctx.comm, ctx.kernel, ctx.scale = setup, comm, kernel, scale
        ctx.mark_non_differentiable(lse)
        return out_c, lse

    @staticmethod
    def backward(ctx, dout, _dlse):
        q, k, v, kmask, out, lse = ctx.saved_tensors
        dq, dk, dv = ring_backward(
            dout.contiguous(), q, k, v, kmask, out, lse, ctx.setup, ctx.comm, ctx.kernel, ctx.scale
        )
        return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), None, None, None, None, None


def _pad_seq(x: Tensor | None, length: int) -> Tensor | None:
    if x is None or x.shape[2 if x.dim() == 4 else 1] == length:
        return x
    if x.dim() == 4:
        return F.pad(x, (0, 0, 0, length - x.shape[2]))
    return F.pad(x, (0, length - x.shape[1]), value=False)


def ring_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    group: dist.ProcessGroup | None = None,
    causal: bool = False,
    scale: float | None = None,
    key_padding_mask: Tensor | None = None,
    layout: str = "contiguous",
    backend: str = "auto",
    shard_lengths: list[int] | tuple[int, ...] | None = None,
    return_lse: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Attention of this rank's queries over the whole sharded sequence, differentiable.

    Args:
        q, k, v: this rank's shard, ``(batch, heads, local_len, head_dim)``; k and v share head_dim.
        group: the ring (default: the world group; without an initialised process group, a ring of one).
        causal: mask by *global* position (layout-aware); ``False`` is the bidirectional reader.
        scale: softmax scale, default ``head_dim ** -0.5``.
        key_padding_mask: ``(batch, local_len)`` bool, True = real key; give it on every rank or none.
        layout: ``contiguous`` | ``zigzag`` | ``striped`` (see :mod:`.layout`); zigzag/striped balance
            causal work.
        backend: a family (``auto``, ``sdpa``, ``flash_attn``, ``math``) or an exact kernel name; see
            :func:`select_backend`.
        shard_lengths: every rank's local length, if known; otherwise one small all_gather finds them.
        return_lse: also return the fp32 log-sum-exp ``(batch, heads, local_len)``.

    Returns the attention output in q's dtype (and the lse when asked).
    """
    if q.dim() != 4 or k.shape != v.shape or q.shape[:2] != k.shape[:2] or q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"expected (B, H, L, D) q/k/v with equal B, H, D; got {q.shape}, {k.shape}, {v.shape}"
        )
    if q.shape[2] != k.shape[2]:
        raise ValueError("q, k and v shards must have the same local length (self-attention)")
    scale = q.shape[-1] ** -0.5 if scale is None else float(scale)
    distributed = dist.is_available() and dist.is_initialized()
    if group is not None and not distributed:
        raise RuntimeError("a process group was given but torch.distributed is not initialised")
    comm = RingComm(group) if distributed else None
    world = comm.world if comm is not None else 1
    local = q.shape[2]
    if shard_lengths is None:
        lengths = comm.all_lengths(local, q.device) if world > 1 else (local,)
    else:
        lengths = tuple(int(n) for n in shard_lengths)
        if len(lengths) != world or lengths[comm.rank if comm else 0] != local:
            raise ValueError(f"shard_lengths {lengths} do not match world {world} / local length {local}")
    setup = RingSetup(lengths, layout, causal)
    setup.chunks  # noqa: B018 - validates the lengths against the layout early, on every rank alike

    need_mask = key_padding_mask is not None
    if (
        backend in ("auto", "flash_attn")
        and not need_mask
        and world > 1
        and len(set(lengths)) == 1
        and sum(lengths) % (2 * world if layout == "zigzag" else world) == 0
        and flash.ring_flash_attn_serves(q, layout)
    ):
        out, lse = flash.ring_flash_attention(
            q, k, v, group=comm.group, causal=causal, scale=scale, layout=layout
        )
        return (out, lse) if return_lse else out

    kernel = select_backend(backend, q.device, q.dtype, need_mask=need_mask, head_dim=q.shape[-1])
    n = setup.max_len
    kmask = None
    if key_padding_mask is not None:
        if key_padding_mask.shape != (q.shape[0], local):
            raise ValueError(f"key_padding_mask must be (batch, local_len) = {(q.shape[0], local)}")
        # uint8 on the wire: not every backend sends bool tensors.
        kmask = _pad_seq(key_padding_mask.bool(), n).to(torch.uint8).contiguous()
    qp, kp, vp = (_pad_seq(t, n) for t in (q, k, v))
    out, lse = _RingAttention.apply(
        qp.contiguous(), kp.contiguous(), vp.contiguous(), kmask, setup, comm, kernel, scale
    )
    out, lse = out[:, :, :local], lse[:, :, :local]
    return (out, lse) if return_lse else out


def attention_flops(setup: RingSetup, batch: int, heads: int, head_dim: int) -> float:
    """Forward FLOPs of the whole ring (4·B·H·d per visible (query, key) pair), for throughput figures."""
    pairs = sum(c.pairs for r in range(setup.world) for s in range(setup.world) for c in setup.plan(r, s))
    return 4.0 * batch * heads * head_dim * pairs


def dense_flops(n: int, batch: int, heads: int, head_dim: int, causal: bool = False) -> float:
    """FLOPs of one attention over n tokens (causal counts the visible half)."""
    pairs = n * n / 2 if causal else float(n * n)
    return 4.0 * batch * heads * head_dim * pairs


__all__ = ["RingSetup", "RingComm", "ring_attention", "ring_forward", "ring_backward"]
