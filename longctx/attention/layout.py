"""How a global sequence is sharded over ring ranks, and which (query, key) sub-blocks each step computes.

Layouts (sequence dimension of ``(batch, heads, seqlen, head_dim)`` tensors):

- ``contiguous``: rank r holds one run of tokens; shards may have any lengths (uneven shards).
- ``zigzag``: the sequence is cut into 2W near-equal chunks and rank r holds chunks r and 2W-1-r, so that
  under a causal mask every rank does the same work (the early chunk is cheap, the late one expensive).
- ``striped``: rank r holds tokens r, r+W, r+2W, ...; also balanced under a causal mask.

A shard is described by :class:`Chunk` runs of global positions (start, stride). :func:`block_plan` turns a
(query shard, key shard) pair into kernel calls: fully visible sub-blocks (no mask), square causal diagonal
sub-blocks (``is_causal``), and nothing for sub-blocks entirely in the future, so fused kernels never need
an explicit causal mask and skipped work costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

LAYOUTS = ("contiguous", "zigzag", "striped")


@dataclass(frozen=True)
class Chunk:
    """A run of ``length`` tokens at local offset ``offset``, global positions ``start + i * stride``."""

    offset: int
    length: int
    start: int
    stride: int = 1


@dataclass(frozen=True)
class Call:
    """One kernel call on local rows ``q0:q1`` and keys ``k0:k1``; ``causal`` means square ``j <= i``."""

    q0: int
    q1: int
    k0: int
    k1: int
    causal: bool = False

    @property
    def pairs(self) -> float:
        """(query, key) pairs this call scores (half of the square for a causal call), for FLOP counts."""
        n = (self.q1 - self.q0) * (self.k1 - self.k0)
        return n / 2 if self.causal else float(n)


def split_sizes(total: int, parts: int) -> list[int]:
    """Near-equal sizes (the first ``total % parts`` parts one longer), like ``torch.tensor_split``."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def shard_chunks(total: int, world: int, layout: str, lengths: list[int] | None = None) -> list[list[Chunk]]:
    """Chunks of every rank. ``lengths`` gives uneven contiguous shard lengths (default: near-equal)."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
    if layout == "contiguous":
        sizes = lengths if lengths is not None else split_sizes(total, world)
        if len(sizes) != world or sum(sizes) != total:
            raise ValueError(f"shard lengths {sizes} do not add up to {total} over {world} ranks")
        starts = [sum(sizes[:r]) for r in range(world)]
        return [[Chunk(0, sizes[r], starts[r])] for r in range(world)]
    if layout == "zigzag":
        sizes = split_sizes(total, 2 * world)
        starts = [sum(sizes[:i]) for i in range(2 * world)]
        out = []
        for r in range(world):
            a, b = r, 2 * world - 1 - r
            out.append([Chunk(0, sizes[a], starts[a]), Chunk(sizes[a], sizes[b], starts[b])])
        return out
    return [[Chunk(0, len(range(r, total, world)), r, world)] for r in range(world)]


def shard_lengths(total: int, world: int, layout: str) -> list[int]:
    """Local lengths of every rank for a sequence of ``total`` tokens."""
    return [sum(c.length for c in chunks) for chunks in shard_chunks(total, world, layout)]


def chunks_for_lengths(lengths: list[int], layout: str) -> list[list[Chunk]]:
    """Chunks from the observed local lengths; checks they are what the layout produces."""
    total, world = sum(lengths), len(lengths)
    if layout == "contiguous":
        return shard_chunks(total, world, layout, lengths)
    chunks = shard_chunks(total, world, layout)
    expected = [sum(c.length for c in cs) for cs in chunks]
    if expected != list(lengths):
        raise ValueError(
            f"{layout} layout of {total} tokens over {world} ranks gives shard lengths {expected}, "
            f"got {list(lengths)}; shard with longctx.attention.shard()"
        )
    return chunks


def positions(total: int, world: int, rank: int, layout: str) -> torch.Tensor:
    """Global token positions held by ``rank`` in local order (e.g. for RoPE on original positions)."""
    idx = [
        torch.arange(c.start, c.start + c.length * c.stride, c.stride)
        for c in shard_chunks(total, world, layout)[rank]
    ]
    return torch.cat(idx) if idx else torch.empty(0, dtype=torch.long)


def shard(x: torch.Tensor, world: int, rank: int, layout: str = "contiguous", dim: int = 2) -> torch.Tensor:
    """The piece of a global tensor that ``rank`` holds (sequence along ``dim``)."""
    pos = positions(x.shape[dim], world, rank, layout).to(x.device)
    return x.index_select(dim, pos)


def unshard(pieces: list[torch.Tensor], layout: str = "contiguous", dim: int = 2) -> torch.Tensor:
    """Reassemble the global tensor from every rank's piece (inverse of :func:`shard`)."""
    world = len(pieces)
    total = sum(p.shape[dim] for p in pieces)
    if layout == "contiguous":
        return torch.cat(pieces, dim=dim)
    shape = list(pieces[0].shape)
    shape[dim] = total
    out = pieces[0].new_empty(shape)
    for rank, piece in enumerate(pieces):
        out.index_copy_(dim, positions(total, world, rank, layout).to(out.device), piece)
    return out


def _pair_calls(qc: Chunk, kc: Chunk, causal: bool) -> list[Call]:
    lq, lk = qc.length, kc.length
    if lq == 0 or lk == 0:
        return []
    if not causal:
        return [Call(qc.offset, qc.offset + lq, kc.offset, kc.offset + lk)]
    if qc.stride != kc.stride:
        raise ValueError("query and key chunks must share a stride")
    # Row i (position a + i*S) sees key j (position b + j*S) iff j <= i + d, d = floor((a - b) / S).
    d = (qc.start - kc.start) // qc.stride
    if d >= lk - 1:
        return [Call(qc.offset, qc.offset + lq, kc.offset, kc.offset + lk)]
    if lq - 1 + d < 0:
        return []
    lo = max(0, -d)  # rows before lo see nothing
    full_from = min(lq, max(lo, lk - d))  # rows from here on see every key (and fit no square band)
    calls = []
    if full_from > lo:
        if lo + d != 0:
            raise NotImplementedError("partially overlapping causal chunks need an explicit mask")
        n = full_from - lo
        calls.append(Call(qc.offset + lo, qc.offset + full_from, kc.offset, kc.offset + n, causal=True))
    if full_from < lq:
        calls.append(Call(qc.offset + full_from, qc.offset + lq, kc.offset, kc.offset + lk))
    return calls


def _coalesce(calls: list[Call]) -> list[Call]:
    """Merge full calls that share a key range over adjacent rows, or a row range over adjacent keys."""
    calls = list(calls)
    changed = True
    while changed:
        changed = False
        for i, a in enumerate(calls):
            for j, b in enumerate(calls):
                if i == j or a.causal or b.causal:
                    continue
                merged = None
                if (a.k0, a.k1) == (b.k0, b.k1) and a.q1 == b.q0:
                    merged = Call(a.q0, b.q1, a.k0, a.k1)
                elif (a.q0, a.q1) == (b.q0, b.q1) and a.k1 == b.k0:
                    merged = Call(a.q0, a.q1, a.k0, b.k1)
                if merged is not None:
                    calls = [c for n, c in enumerate(calls) if n not in (i, j)] + [merged]
                    changed = True
                    break
            if changed:
                break
    return sorted(calls, key=lambda c: (c.q0, c.k0))


def block_plan(q_chunks: list[Chunk], k_chunks: list[Chunk], causal: bool) -> list[Call]:
    """Kernel calls that cover every visible (query, key) pair of a shard pair exactly once."""
    calls = [c for qc in q_chunks for kc in k_chunks for c in _pair_calls(qc, kc, causal)]
    return _coalesce(calls)
