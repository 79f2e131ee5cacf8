"""The ring arithmetic (block plans, merges, travelling dK/dV) in one process, property-tested over shapes."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from longctx.attention import (
    LAYOUTS,
    reference_attention,
    relative_error,
    shard,
    simulated_ring_attention,
    unshard,
)
from longctx.attention.layout import block_plan, positions, shard_chunks, shard_lengths


def _run(b, h, n, d, world, layout, causal, masked, backend, seed):
    gen = torch.Generator().manual_seed(seed)
    q, k, v, g = (torch.randn(b, h, n, d, generator=gen, dtype=torch.float64) for _ in range(4))
    mask = (torch.rand(b, n, generator=gen) > 0.25) if masked else None
    qr, kr, vr = (t.clone().requires_grad_(True) for t in (q, k, v))
    ref, _ = reference_attention(qr, kr, vr, causal=causal, key_padding_mask=mask)
    ref_grads = torch.autograd.grad((ref * g).sum(), (qr, kr, vr))

    x32 = [t.float().requires_grad_(True) for t in (q, k, v)]
    pieces = [[shard(t, world, r, layout) for r in range(world)] for t in x32]
    masks = (
        None
        if mask is None
        else [shard(mask[:, None, :, None], world, r, layout)[:, 0, :, 0] for r in range(world)]
    )
    outs, _ = simulated_ring_attention(
        *pieces, causal=causal, layout=layout, backend=backend, key_padding_masks=masks
    )
    out = unshard(outs, layout)
    grads = torch.autograd.grad((out * g.float()).sum(), x32)
    errs = [relative_error(out, ref)]
    for a, e in zip(grads, ref_grads, strict=True):
        # When every row sees at most one key the exact dq/dk are 0: measure absolute error then.
        errs.append(relative_error(a, e) if e.norm() > 1e-6 else float(a.double().norm()))
    return errs


@settings(max_examples=25, deadline=None)
@given(
    b=st.integers(1, 2),
    h=st.integers(1, 3),
    n=st.integers(1, 48),
    d=st.sampled_from([8, 16, 24]),
    world=st.integers(1, 6),
    layout=st.sampled_from(LAYOUTS),
    causal=st.booleans(),
    masked=st.booleans(),
    backend=st.sampled_from(["math", "auto"]),
    seed=st.integers(0, 2**16),
)
def test_simulated_ring_matches_reference(b, h, n, d, world, layout, causal, masked, backend, seed):
    errs = _run(b, h, n, d, world, layout, causal, masked, backend, seed)
    assert max(errs) < 1e-5, f"out/dq/dk/dv relative errors {errs}"


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 70), world=st.integers(1, 8), layout=st.sampled_from(LAYOUTS), causal=st.booleans())
def test_block_plan_covers_each_visible_pair_once(n, world, layout, causal):
    chunks = shard_chunks(n, world, layout)
    pos = [positions(n, world, r, layout) for r in range(world)]
    assert sorted(torch.cat(pos).tolist()) == list(range(n))
    assert shard_lengths(n, world, layout) == [len(p) for p in pos]
    for r in range(world):
        for s in range(world):
            cover = torch.zeros(len(pos[r]), len(pos[s]), dtype=torch.int)
            for c in block_plan(chunks[r], chunks[s], causal):
                block = torch.ones(c.q1 - c.q0, c.k1 - c.k0, dtype=torch.int)
                if c.causal:
                    assert c.q1 - c.q0 == c.k1 - c.k0, "causal calls must be square"
                    block = block.tril()
                cover[c.q0 : c.q1, c.k0 : c.k1] += block
            expected = torch.ones_like(cover)
            if causal:
                expected = (pos[s][None, :] <= pos[r][:, None]).int()
            assert torch.equal(cover, expected)


@pytest.mark.parametrize("layout", ["zigzag", "striped"])
def test_balanced_layouts_even_out_causal_work(layout):
    n, world = 1024, 8
    chunks = shard_chunks(n, world, layout)
    work = [
        sum(c.pairs for s in range(world) for c in block_plan(chunks[r], chunks[s], True))
        for r in range(world)
    ]
    contiguous = shard_chunks(n, world, "contiguous")
    naive = [
        sum(c.pairs for s in range(world) for c in block_plan(contiguous[r], contiguous[s], True))
        for r in range(world)
    ]
    assert max(work) / min(work) < 1.05
    assert max(naive) / min(naive) > 10
