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


def test_auto_prefers_cudnn_on_hopper_only(monkeypatch):
    """The measured-fastest fused kernel first: cuDNN on compute capability >= 9.0, flash before it on older
    GPUs, and nothing changes on the CPU."""
    from longctx.attention import kernels

    monkeypatch.setattr(kernels, "_compute_capability", lambda device: (9, 0))
    assert kernels.family_order("auto", "cuda")[0] == "sdpa_cudnn"
    assert kernels.family_order("sdpa", "cuda") == FAMILIES["sdpa"]  # an explicit family keeps its order
    monkeypatch.setattr(kernels, "_compute_capability", lambda device: (8, 0))
    assert kernels.family_order("auto", "cuda") == FAMILIES["auto"]
    monkeypatch.undo()
    assert kernels.family_order("auto", "cpu") == FAMILIES["auto"]
    assert select_backend("auto", "cpu", torch.float32).name in ("sdpa_cpu", "math")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_auto_prefers_fused_kernel():
    assert select_backend("sdpa", "cuda", torch.bfloat16).name in (
        "sdpa_flash",
        "sdpa_cudnn",
        "sdpa_efficient",
    )
    assert select_backend("sdpa", "cuda", torch.bfloat16, need_mask=True).supports_mask


# ---- sdpa_efficient: keys padded to a multiple of 8 under a mask (aligned attn_bias strides) -------------
def _strict_alignment(bias: torch.Tensor | None) -> None:
    """The memory-efficient kernel's bias checks (its strictest case, half precision: 8 elements)."""
    if bias is None:
        return
    assert bias.stride(-1) == 1
    for axis, what in ((0, "strideB"), (1, "strideH"), (2, "strideM")):
        if bias.shape[axis] > 1 and bias.stride(axis) % 8:
            raise RuntimeError(f"attn_bias is not correctly aligned ({what})")


def _efficient_op_on_cpu(q, k, v, bias, causal, scale):
    """CPU stand-in for ATen's efficient forward: same checks, same outputs (lse padded to 32 rows)."""
    _strict_alignment(bias)
    s = torch.matmul(q.double(), k.double().transpose(-1, -2)) * scale
    if bias is not None:
        s = s + bias.double()
    if causal:
        s = s.masked_fill(~torch.ones_like(s, dtype=torch.bool).tril(), -math.inf)
    lse = torch.logsumexp(s, dim=-1)
    out = torch.matmul(torch.exp(s - lse[..., None]), v.double())  # NaN on rows without keys, as a kernel
    lq = q.shape[-2]
    lse = torch.nn.functional.pad(lse, (0, (lq + 31) // 32 * 32 - lq), value=0.0)
    return out.to(q.dtype), lse.to(torch.float64 if q.dtype == torch.float64 else torch.float32)


def _efficient_backward_on_cpu(dout, q, k, v, bias, out, lse_padded, causal, scale):
    _strict_alignment(bias)
    qd, kd, vd, dod, od = (t.double() for t in (q, k, v, dout, out))
    s = torch.matmul(qd, kd.transpose(-1, -2)) * scale
    if bias is not None:
        s = s + bias.double()
    if causal:
        s = s.masked_fill(~torch.ones_like(s, dtype=torch.bool).tril(), -math.inf)
    p = torch.exp(s - lse_padded[..., : q.shape[-2], None].double())
    dp = torch.matmul(dod, vd.transpose(-1, -2))
    ds = p * (dp - (dod * od).sum(-1, keepdim=True)) * scale
    grads = (torch.matmul(ds, kd), torch.matmul(ds.transpose(-1, -2), qd), p.transpose(-1, -2) @ dod)
    return tuple(t.to(q.dtype) for t in grads)


def _dense_reference(q, k, v, visible, scale):
    """Float64 softmax attention under a boolean (B, H, Lq, Lk) mask (rows without keys: out 0, lse -inf)."""
    s = torch.matmul(q, k.transpose(-1, -2)) * scale
    s = s.masked_fill(~visible, -math.inf)
    lse = torch.logsumexp(s, dim=-1)
    safe = torch.where(torch.isneginf(lse), torch.zeros_like(lse), lse)
    return torch.matmul(torch.exp(s - safe[..., None]), v), lse


def _efficient_case(device, dtype, lq, lk, mask_kind, causal, seed=11):
    from longctx.attention.kernels import cuda_efficient_backward, cuda_efficient_forward

    gen = torch.Generator().manual_seed(seed + lq * 131 + lk)
    b, h, d = 2, 3, 32
    q, g = (torch.randn(b, h, lq, d, generator=gen, dtype=torch.float64) for _ in range(2))
    k, v = (torch.randn(b, h, lk, d, generator=gen, dtype=torch.float64) for _ in range(2))
    if mask_kind == "keys":
        mask = torch.rand(b, 1, 1, lk, generator=gen) > 0.3
        mask[1, ..., lk // 2] = True
    else:  # a full (B, H, Lq, Lk) mask
        mask = torch.rand(b, h, lq, lk, generator=gen) > 0.4
        mask[..., 0] = True
    mask[0] = False  # a batch item with no keys at all
    visible = mask.expand(b, h, lq, lk)
    if causal:
        visible = visible & torch.ones(lq, lk, dtype=torch.bool).tril()
    ops = {} if device == "cuda" else {"op": _efficient_op_on_cpu}
    bops = {} if device == "cuda" else {"op": _efficient_backward_on_cpu}
    dev = [t.to(device=device, dtype=dtype) for t in (q, k, v, g)]
    dmask = mask.to(device)
    scale = d**-0.5
    out, lse = cuda_efficient_forward(dev[0], dev[1], dev[2], scale, causal, dmask, **ops)
    dq, dk, dv = cuda_efficient_backward(
        dev[3], dev[0], dev[1], dev[2], out, lse, scale, causal, dmask, **bops
    )
    qr, kr, vr = (t.clone().requires_grad_(True) for t in (q, k, v))
    ref, ref_lse = _dense_reference(qr, kr, vr, visible, scale)
    grads = torch.autograd.grad((ref * g).sum(), (qr, kr, vr))
    return (out, lse, dq, dk, dv), (ref, ref_lse, *grads)


EFFICIENT_SHAPES = [(33, 33), (1, 7), (5, 9), (40, 41), (17, 96 + 1023), (24, 16)]


def _efficient_params():
    for device in DEVICES:
        for dtype in (torch.float32, torch.bfloat16) if device == "cuda" else (torch.float64, torch.float32):
            for lq, lk in EFFICIENT_SHAPES:
                for mask_kind in ("keys", "full"):
                    for causal in (False, True) if lq == lk else (False,):
                        yield pytest.param(
                            device,
                            dtype,
                            lq,
                            lk,
                            mask_kind,
                            causal,
                            id=f"{device}-{dtype}-{lq}x{lk}-{mask_kind}-causal{causal}",
                        )


@pytest.mark.parametrize(("device", "dtype", "lq", "lk", "mask_kind", "causal"), list(_efficient_params()))
def test_sdpa_efficient_pads_keys_to_aligned_bias(device, dtype, lq, lk, mask_kind, causal):
    """Key lengths that are not multiples of 8 go through the padded path and match float64 exactly.

    On CPU the ATen op is replaced by a stand-in that makes the kernel's own alignment checks and computes
    the same outputs, so the padding, bias, lse slicing and empty-row code is the code the GPU runs."""
    (out, lse, dq, dk, dv), (ref, ref_lse, gq, gk, gv) = _efficient_case(
        device, dtype, lq, lk, mask_kind, causal
    )
    assert dk.shape[-2] == lk and dv.shape[-2] == lk and lse.shape == ref_lse.shape
    assert torch.equal(torch.isneginf(lse.cpu()), torch.isneginf(ref_lse))
    finite = torch.isfinite(ref_lse)
    errs = {
        "out": relative_error(out.cpu(), ref),
        "lse": relative_error(lse.cpu()[finite], ref_lse[finite]),
        "dq": relative_error(dq.cpu(), gq),
        "dk": relative_error(dk.cpu(), gk),
        "dv": relative_error(dv.cpu(), gv),
    }
    # the kernel's lse is float32 whatever the inputs: float64 runs are held to the float32 tolerance
    assert max(errs.values()) < max(TOL[dtype], TOL[torch.float32]), errs
    assert ref.abs().max() > 0.1  # random inputs, not a trivially zero output
    for t in (out, lse, dq, dk, dv):
        assert not torch.isnan(t).any()


def test_sdpa_efficient_without_padding_is_refused_by_the_alignment_check(monkeypatch):
    """The CPU stand-in really checks alignment: with the padding switched off, a 33-key bias is refused."""
    from longctx.attention import kernels

    monkeypatch.setattr(kernels, "pad_keys", lambda k, v, mask, multiple=8: (k, v, mask))
    with pytest.raises(RuntimeError, match="strideB"):
        _efficient_case("cpu", torch.float64, 33, 33, "keys", False)


def test_pad_keys_only_under_a_mask_and_only_when_misaligned():
    from longctx.attention.kernels import pad_keys

    k = torch.randn(1, 2, 33, 8)
    v = torch.randn(1, 2, 33, 8)
    assert pad_keys(k, v, None)[0] is k  # no mask: no bias, nothing to align
    mask = torch.ones(1, 1, 1, 33, dtype=torch.bool)
    pk, pv, pm = pad_keys(k, v, mask)
    assert pk.shape[-2] == pv.shape[-2] == pm.shape[-1] == 40
    assert torch.equal(pk[..., :33, :], k) and not pm[..., 33:].any() and pm[..., :33].all()
    k8 = torch.randn(1, 2, 40, 8)
    assert pad_keys(k8, k8, torch.ones(1, 1, 1, 40, dtype=torch.bool))[0] is k8
