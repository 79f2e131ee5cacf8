"""Block kernels, the lse merge and backend selection, against the float64 reference."""

from __future__ import annotations

import math

import pytest
import torch

from longctx.attention import (
    available_kernels,
    get_kernel,
    reference_attention,
    relative_error,
    select_backend,
)
from longctx.attention.kernels import FAMILIES
from longctx.attention.merge import merge

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
TOL = {torch.float64: 1e-12, torch.float32: 1e-5, torch.bfloat16: 3e-2, torch.float16: 5e-3}


def _cases():
    for device in DEVICES:
        for dtype in (torch.float32, torch.bfloat16, torch.float64):
            for masked in (False, True):
                for name in available_kernels(device, dtype, need_mask=masked, head_dim=32):
                    yield pytest.param(
                        device, dtype, masked, name, id=f"{device}-{name}-{dtype}-mask{masked}"
                    )


@pytest.mark.parametrize(("device", "dtype", "masked", "name"), list(_cases()))
@pytest.mark.parametrize("causal", [False, True])
def test_block_kernel_forward_backward(device, dtype, masked, name, causal, record_property):
    gen = torch.Generator().manual_seed(7)
    b, h, n, d = 2, 3, 33, 32
    q, k, v, g = (torch.randn(b, h, n, d, generator=gen, dtype=torch.float64) for _ in range(4))
    mask = None
    if masked:
        mask = torch.rand(b, n, generator=gen) > 0.3
        mask[0, :] = False  # a batch item with no keys: rows give out 0 / lse -inf, no NaN anywhere
        mask[1, ::3] = True
    kernel = get_kernel(name)
    dev = [t.to(device=device, dtype=dtype) for t in (q, k, v, g)]
    kmask = None if mask is None else mask.to(device)[:, None, None, :]
    out, lse = kernel.forward(dev[0], dev[1], dev[2], d**-0.5, causal, kmask)
    dq, dk, dv = kernel.backward(dev[3], dev[0], dev[1], dev[2], out.to(dtype), lse, d**-0.5, causal, kmask)

    qr, kr, vr = (t.clone().requires_grad_(True) for t in (q, k, v))
    ref, ref_lse = reference_attention(qr, kr, vr, causal=causal, key_padding_mask=mask)
    grads = torch.autograd.grad((ref * g).sum(), (qr, kr, vr))
    assert lse.dtype in (torch.float32, torch.float64)
    assert torch.equal(torch.isneginf(lse.cpu()), torch.isneginf(ref_lse)), (
        "rows without keys must have lse -inf"
    )
    finite = torch.isfinite(ref_lse)
    errs = {
        "out": relative_error(out.cpu(), ref),
        "lse": relative_error(lse.cpu()[finite], ref_lse[finite]),
        "dq": relative_error(dq.cpu(), grads[0]),
        "dk": relative_error(dk.cpu(), grads[1]),
        "dv": relative_error(dv.cpu(), grads[2]),
    }
    record_property("relative_errors", errs)
    tol = TOL[dtype]
    assert max(errs.values()) < tol, (
        f"{name} {dtype} causal={causal} mask={masked}: errors {errs} (tol {tol})"
    )
    for t in (out, lse, dq, dk, dv):
        assert not torch.isnan(t).any()


def test_merge_is_exact_and_stable():
    gen = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(1, 2, 9, 8, generator=gen, dtype=torch.float64) for _ in range(3))
    k = k * 30  # large logits: exp would overflow without the max subtraction
    full, full_lse = reference_attention(q, k, v)
    a, la = reference_attention(q, k[:, :, :4], v[:, :, :4])
    b, lb = reference_attention(q, k[:, :, 4:], v[:, :, 4:])
    out, lse = merge(a, la, b, lb)
    assert relative_error(out, full) < 1e-13 and relative_error(lse, full_lse) < 1e-13
    empty_lse = torch.full_like(la, -math.inf)
    out2, lse2 = merge(torch.zeros_like(a), empty_lse, a, la)
    assert torch.equal(lse2, la) and relative_error(out2, a) < 1e-15
    out3, lse3 = merge(torch.zeros_like(a), empty_lse, torch.zeros_like(a), empty_lse)
    assert torch.isneginf(lse3).all() and not torch.isnan(out3).any()


def test_select_backend_families_and_fallback(monkeypatch):
    # The kernels never read settings (the reader passes the setting down): the env var changes nothing.
    monkeypatch.setenv("LONGCTX_ATTENTION_BACKEND", "math")
    assert select_backend("auto", "cpu", torch.float32).name == "sdpa_cpu"
    assert select_backend("math", "cpu", torch.float32).name == "math"
    # flash_attn is a CUDA build: on CPU the family falls back, the exact kernel name refuses.
    assert select_backend("flash_attn", "cpu", torch.bfloat16).name == "sdpa_cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError):
            select_backend("sdpa_flash", "cpu", torch.bfloat16)
    with pytest.raises(ValueError):
        get_kernel("nope")
    assert set(FAMILIES) >= {"auto", "sdpa", "flash_attn", "math"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_auto_prefers_fused_kernel():
    assert select_backend("sdpa", "cuda", torch.bfloat16).name in (
        "sdpa_flash",
        "sdpa_cudnn",
        "sdpa_efficient",
    )
    assert select_backend("sdpa", "cuda", torch.bfloat16, need_mask=True).supports_mask
