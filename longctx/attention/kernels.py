"""Block attention kernels: ``(q, k, v, scale, causal, mask) -> (out, lse)`` plus the matching backward.

Every tensor is laid out ``(batch, heads, seqlen, head_dim)`` (PyTorch SDPA's layout). ``lse`` is the
natural-log log-sum-exp of the scaled scores per query row, shape ``(batch, heads, seqlen_q)``, in float32
(float64 for float64 inputs); rows that see no key have ``out = 0`` and ``lse = -inf``.

The ring driver needs the log-sum-exp to merge partial results, and a backward that accepts the *merged*
``out``/``lse`` (not the block's own), so that gradients of a block are exact without a second pass. Each
backend below provides both. ``causal`` is the top-left aligned mask ``j <= i`` and is only ever used on
square blocks (``Lq == Lk``), where every kernel agrees on its meaning. ``mask`` is a boolean tensor
broadcastable to ``(B, H, Lq, Lk)``, True = attend.
"""

from __future__ import annotations

import logging
import math

import torch

from longctx.attention import flash
from longctx.attention.block import HALF, BlockKernel, Tensor, backward_lse

log = logging.getLogger(__name__)

# Working-set cap of the math backend's score tile; keeps 256K-token blocks from allocating N^2 scores.
MATH_TILE_BYTES = 256 * 1024 * 1024


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Accumulation dtype: float64 stays float64 (reference checks), everything else goes to float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def causal_mask(lq: int, lk: int, device: torch.device, q_offset: int = 0) -> Tensor:
    """Top-left aligned causal mask (row ``i + q_offset`` sees columns ``j <= i + q_offset``)."""
    rows = torch.arange(q_offset, q_offset + lq, device=device)[:, None]
    return torch.arange(lk, device=device)[None, :] <= rows


def combined_mask(mask: Tensor | None, causal: bool, lq: int, lk: int, device: torch.device) -> Tensor | None:
    """Fold ``causal`` into an explicit boolean mask for kernels that take one mask only."""
    if not causal:
        return mask
    cm = causal_mask(lq, lk, device)
    return cm if mask is None else mask & cm


def _rows_without_keys(mask: Tensor | None, shape: tuple[int, int, int]) -> Tensor | None:
    """Boolean (B, H, Lq) of rows whose mask is all False (their lse must be -inf), or None if none can be."""
    if mask is None:
        return None
    empty = ~mask.any(dim=-1)
    return empty.expand(shape)


def _fix_empty_rows(out: Tensor, lse: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
    empty = _rows_without_keys(mask, tuple(lse.shape))
    if empty is not None and bool(empty.any()):
        lse = lse.masked_fill(empty, -math.inf)
        out = out.masked_fill(empty[..., None], 0.0)
    return out, lse


# ----------------------------------------------------------------------------------------------- math
def _tile_rows(b: int, h: int, lq: int, lk: int, itemsize: int) -> int:
    per_row = max(1, b * h * lk * itemsize * 3)
    return max(1, min(lq, MATH_TILE_BYTES // per_row))


def _mask_rows(mask: Tensor | None, i0: int, i1: int) -> Tensor | None:
    if mask is None or mask.shape[-2] == 1:
        return mask
    return mask[..., i0:i1, :]


def _math_scores(q: Tensor, k: Tensor, scale: float, causal: bool, mask: Tensor | None, i0: int) -> Tensor:
    s = torch.matmul(q, k.transpose(-1, -2)) * scale
    if causal:
        s = s.masked_fill(~causal_mask(q.shape[-2], k.shape[-2], q.device, q_offset=i0), -math.inf)
    if mask is not None:
        s = s.masked_fill(~mask, -math.inf)
    return s


def math_forward(
    q: Tensor, k: Tensor, v: Tensor, scale: float, causal: bool = False, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Plain PyTorch attention with fp32 (or fp64) accumulation, tiled over queries to bound memory."""
    ct = compute_dtype(q.dtype)
    qf, kf, vf = q.to(ct), k.to(ct), v.to(ct)
    b, h, lq, _ = q.shape
    lk = k.shape[-2]
    out = torch.empty((b, h, lq, v.shape[-1]), dtype=ct, device=q.device)
    lse = torch.empty((b, h, lq), dtype=ct, device=q.device)
    step = _tile_rows(b, h, lq, lk, torch.finfo(ct).bits // 8)
    for i0 in range(0, lq, step):
        i1 = min(lq, i0 + step)
        s = _math_scores(qf[..., i0:i1, :], kf, scale, causal, _mask_rows(mask, i0, i1), i0)
        m = s.amax(dim=-1, keepdim=True)
        m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
        p = torch.exp(s - m)
        denom = p.sum(dim=-1, keepdim=True)
        lse[..., i0:i1] = (m + torch.log(denom)).squeeze(-1)
        out[..., i0:i1, :] = torch.matmul(p, vf) / torch.where(denom == 0, torch.ones_like(denom), denom)
    return out, lse


def math_backward(
    dout: Tensor,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    out: Tensor,
    lse: Tensor,
    scale: float,
    causal: bool = False,
    mask: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients of a block given the *merged* out/lse (softmax recomputed as exp(s - lse))."""
    ct = compute_dtype(q.dtype)
    qf, kf, vf = q.to(ct), k.to(ct), v.to(ct)
    dof, of = dout.to(ct), out.to(ct)
    lse_b = backward_lse(lse.to(ct))
    b, h, lq, _ = q.shape
    lk = k.shape[-2]
    dq = torch.empty_like(qf)
    dk = torch.zeros_like(kf)
    dv = torch.zeros_like(vf)
    step = _tile_rows(b, h, lq, lk, torch.finfo(ct).bits // 8)
    for i0 in range(0, lq, step):
        i1 = min(lq, i0 + step)
        qt, dot = qf[..., i0:i1, :], dof[..., i0:i1, :]
        s = _math_scores(qt, kf, scale, causal, _mask_rows(mask, i0, i1), i0)
        p = torch.exp(s - lse_b[..., i0:i1, None])
        dv += torch.matmul(p.transpose(-1, -2), dot)
        dp = torch.matmul(dot, vf.transpose(-1, -2))
        delta = (dot * of[..., i0:i1, :]).sum(dim=-1, keepdim=True)
        ds = p * (dp - delta) * scale
        dq[..., i0:i1, :] = torch.matmul(ds, kf)
        dk += torch.matmul(ds.transpose(-1, -2), qt)
    return dq, dk, dv


# ------------------------------------------------------------------------------------ sdpa, CPU fused
def _additive(mask: Tensor | None, dtype: torch.dtype) -> Tensor | None:
    if mask is None:
        return None
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, -math.inf)


def sdpa_cpu_forward(
    q: Tensor, k: Tensor, v: Tensor, scale: float, causal: bool = False, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """PyTorch's fused CPU flash kernel (returns the lse; fp32 accumulation for half inputs)."""
    full = combined_mask(mask, causal, q.shape[-2], k.shape[-2], q.device) if mask is not None else None
    out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
        q, k, v, 0.0, causal and mask is None, attn_mask=_additive(full, q.dtype), scale=scale
    )
    return _fix_empty_rows(out, lse, full)


def sdpa_cpu_backward(
    dout: Tensor,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    out: Tensor,
    lse: Tensor,
    scale: float,
    causal: bool = False,
    mask: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    full = combined_mask(mask, causal, q.shape[-2], k.shape[-2], q.device) if mask is not None else None
    return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward(
        dout.to(q.dtype).contiguous(),
        q,
        k,
        v,
        out.to(q.dtype).contiguous(),
        backward_lse(lse.to(compute_dtype(q.dtype))).contiguous(),
        0.0,
        causal and mask is None,
        attn_mask=_additive(full, q.dtype),
        scale=scale,
    )


# ----------------------------------------------------------------------------------- sdpa, CUDA fused
def _lse_bhl(lse: Tensor, q: Tensor) -> Tensor:
    """Normalise a fused kernel's lse to (B, H, Lq) float32 (efficient pads Lq to 32, cuDNN may add a 1)."""
    b, h, lq, _ = q.shape
    return lse.reshape(b, h, -1)[..., :lq].float()


def _no_rng() -> tuple[Tensor, Tensor]:
    """Philox seed/offset placeholders (what the forwards return with dropout 0; never read then)."""
    return torch.empty((), dtype=torch.long), torch.empty((), dtype=torch.long)


def cuda_flash_forward(
    q: Tensor, k: Tensor, v: Tensor, scale: float, causal: bool = False, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    if mask is not None:
        raise ValueError("sdpa_flash takes no mask")
    res = torch.ops.aten._scaled_dot_product_flash_attention(q, k, v, 0.0, causal, False, scale=scale)
    return res[0], _lse_bhl(res[1], q)


def cuda_flash_backward(dout, q, k, v, out, lse, scale, causal=False, mask=None):
    seed, offset = _no_rng()
    return torch.ops.aten._scaled_dot_product_flash_attention_backward(
        dout.to(q.dtype),
        q,
        k,
        v,
        out.to(q.dtype),
        backward_lse(lse.float()).contiguous(),
        None,
        None,
        q.shape[-2],
        k.shape[-2],
        0.0,
        causal,
        seed,
        offset,
        scale=scale,
    )


def cuda_cudnn_forward(
    q: Tensor, k: Tensor, v: Tensor, scale: float, causal: bool = False, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    full = combined_mask(mask, causal, q.shape[-2], k.shape[-2], q.device) if mask is not None else None
    bias = _additive(full, q.dtype)
    res = torch.ops.aten._scaled_dot_product_cudnn_attention(
        q, k, v, bias, True, 0.0, causal and mask is None, False, scale=scale
    )
    return _fix_empty_rows(res[0], _lse_bhl(res[1], q), full)


def cuda_cudnn_backward(dout, q, k, v, out, lse, scale, causal=False, mask=None):
    full = combined_mask(mask, causal, q.shape[-2], k.shape[-2], q.device) if mask is not None else None
    bias = _additive(full, q.dtype)
    seed, offset = _no_rng()
    b, h, lq, _ = q.shape
    lse_k = backward_lse(lse.float()).reshape(b, h, lq, 1).contiguous()
    out_c = out.to(q.dtype)
    return torch.ops.aten._scaled_dot_product_cudnn_attention_backward(
        dout.to(q.dtype),
        q,
        k,
        v,
        out_c,
        lse_k,
        seed,
        offset,
        bias,
        None,
        None,
        lq,
        k.shape[-2],
        0.0,
        causal and mask is None,
        scale=scale,
    )[:3]


# The memory-efficient kernel reads its additive bias in 16-byte vectors: every stride of the bias over
# batch, heads and query rows must be a multiple of 8 elements (half; 4 for fp32), or it refuses with
# "attn_bias is not correctly aligned (strideB)". The bias is (..., Lk) contiguous, so Lk sets the strides.
EFFICIENT_KEY_MULTIPLE = 8


def pad_keys(
    k: Tensor, v: Tensor, mask: Tensor | None, multiple: int = EFFICIENT_KEY_MULTIPLE
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Keys/values padded to a multiple of ``multiple`` with keys no query sees (mask False).

    The result is identical: a masked key gets the weight exp(-inf) = 0 and adds nothing to the lse. Without
    a mask there is no bias and nothing to align, so the inputs come back unchanged.
    """
    lk = k.shape[-2]
    pad = -lk % multiple
    if mask is None or pad == 0:
        return k, v, mask
    k = torch.nn.functional.pad(k, (0, 0, 0, pad))
    v = torch.nn.functional.pad(v, (0, 0, 0, pad))
    mask = torch.nn.functional.pad(mask.expand(*mask.shape[:-1], lk), (0, pad), value=False)
    return k, v, mask


def _efficient_bias(mask: Tensor | None, q: Tensor, lk: int) -> Tensor | None:
    bias = _additive(mask, q.dtype)
    return None if bias is None else bias.expand(q.shape[0], q.shape[1], q.shape[-2], lk)


def _aten_efficient_forward(q, k, v, bias, causal, scale):
    res = torch.ops.aten._scaled_dot_product_efficient_attention(
        q, k, v, bias, True, 0.0, causal, scale=scale
    )
    return res[0], res[1]


def _aten_efficient_backward(dout, q, k, v, bias, out, lse_padded, causal, scale):
    seed, offset = _no_rng()
    res = torch.ops.aten._scaled_dot_product_efficient_attention_backward(
        dout,
        q,
        k,
        v,
        bias,
        out,
        lse_padded,
        seed,
        offset,
        0.0,
        [True, True, True, False],
        causal,
        scale=scale,
    )
    return res[0], res[1], res[2]


def cuda_efficient_forward(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    scale: float,
    causal: bool = False,
    mask: Tensor | None = None,
    *,
    op=_aten_efficient_forward,
) -> tuple[Tensor, Tensor]:
    """The memory-efficient kernel (``op``: the ATen entry point; tests pass a CPU stand-in that makes the
    same alignment checks). Keys are padded to a multiple of 8 under a mask (``pad_keys``)."""
    full = combined_mask(mask, causal, q.shape[-2], k.shape[-2], q.device) if mask is not None else None
    k, v, full = pad_keys(k, v, full)
    out, lse = op(q, k, v, _efficient_bias(full, q, k.shape[-2]), causal and mask is None, scale)
    return _fix_empty_rows(out, _lse_bhl(lse, q), full)


def cuda_efficient_backward(
    dout, q, k, v, out, lse, scale, causal=False, mask=None, *, op=_aten_efficient_backward
):
    lk = k.shape[-2]
    full = combined_mask(mask, causal, q.shape[-2], lk, q.device) if mask is not None else None
    k, v, full = pad_keys(k, v, full)
    b, h, lq, _ = q.shape
    padded = (lq + 31) // 32 * 32
    lse_p = torch.nn.functional.pad(backward_lse(lse.float()), (0, padded - lq)).contiguous()
    dq, dk, dv = op(
        dout.to(q.dtype),
        q,
        k,
        v,
        _efficient_bias(full, q, k.shape[-2]),
        out.to(q.dtype),
        lse_p,
        causal and mask is None,
        scale,
    )
    if dk.shape[-2] != lk:  # the padded keys' gradients are zero: drop them
        dk, dv = dk[..., :lk, :].contiguous(), dv[..., :lk, :].contiguous()
    return dq, dk, dv


# --------------------------------------------------------------------------------------- registry
def _cuda() -> bool:
    return torch.cuda.is_available()


def _with_math_fallback(kernel: BlockKernel) -> BlockKernel:
    """Fused backward entry points are private ATen ops; if one rejects its arguments, fall back to math."""

    warned: list[bool] = []

    def backward(dout, q, k, v, out, lse, scale, causal=False, mask=None):
        try:
            return kernel.backward(dout, q, k, v, out, lse, scale, causal, mask)
        except (RuntimeError, TypeError) as exc:  # pragma: no cover - GPU-only path
            if not warned:
                log.warning("%s backward failed (%s); using the math backward", kernel.name, exc)
                warned.append(True)
            return math_backward(dout, q, k, v, out, lse, scale, causal, mask)

    return BlockKernel(
        kernel.name,
        kernel.forward,
        backward,
        kernel.devices,
        kernel.dtypes,
        kernel.supports_mask,
        kernel.max_head_dim,
        kernel.available,
    )


FLOATS = (torch.float64, torch.float32, torch.float16, torch.bfloat16)

KERNELS: dict[str, BlockKernel] = {
    "math": BlockKernel("math", math_forward, math_backward, ("cpu", "cuda"), FLOATS, True),
    "sdpa_cpu": BlockKernel(
        "sdpa_cpu", sdpa_cpu_forward, sdpa_cpu_backward, ("cpu",), FLOATS, True, max_head_dim=512
    ),
    "sdpa_flash": _with_math_fallback(
        BlockKernel("sdpa_flash", cuda_flash_forward, cuda_flash_backward, ("cuda",), HALF, False, 256, _cuda)
    ),
    "sdpa_cudnn": _with_math_fallback(
        BlockKernel("sdpa_cudnn", cuda_cudnn_forward, cuda_cudnn_backward, ("cuda",), HALF, True, 128, _cuda)
    ),
    "sdpa_efficient": _with_math_fallback(
        BlockKernel(
            "sdpa_efficient",
            cuda_efficient_forward,
            cuda_efficient_backward,
            ("cuda",),
            (torch.float32, torch.float16, torch.bfloat16),
            True,
            256,
            _cuda,
        )
    ),
}

# What a setting value means, in order of preference; the first backend that serves the case wins.
FAMILIES: dict[str, tuple[str, ...]] = {
    "auto": ("flash_attn", "sdpa_flash", "sdpa_cudnn", "sdpa_efficient", "sdpa_cpu", "math"),
    "sdpa": ("sdpa_flash", "sdpa_cudnn", "sdpa_efficient", "sdpa_cpu", "math"),
    "flash_attn": ("flash_attn", "sdpa_efficient", "sdpa_cpu", "math"),
    "math": ("math",),
}


def family_order(name: str, device: torch.device | str) -> tuple[str, ...]:
    """A family's preference list for this device. ``auto`` on Hopper (compute capability 9.x) and later
    tries cuDNN's fused attention first: measured on one H200 (bf16, bidirectional, 16K-128K tokens) at
    464-489 TFLOP/s (head dim 64) and 616-692 (128) against 308-316 / 351-362 for the flash kernel."""
    order = FAMILIES[name]
    if name == "auto" and _compute_capability(device) >= (9, 0) and "sdpa_cudnn" in order:
        order = ("sdpa_cudnn", *(c for c in order if c != "sdpa_cudnn"))
    return order


def _compute_capability(device: torch.device | str) -> tuple[int, int]:
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return (0, 0)
    return tuple(torch.cuda.get_device_capability(device))  # type: ignore[return-value]


def get_kernel(name: str) -> BlockKernel:
    """A backend by exact name (``math``, ``sdpa_cpu``, ``sdpa_flash``, ``sdpa_cudnn``, ``sdpa_efficient``,
    ``flash_attn``)."""
    if name == "flash_attn":
        kernel = flash.flash_attn_kernel()
        if kernel is None:
            raise RuntimeError("flash_attn is not importable (install the [flash] extra on a CUDA machine)")
        return kernel
    if name not in KERNELS:
        raise ValueError(f"unknown attention backend {name!r}; known: {sorted([*KERNELS, 'flash_attn'])}")
    return KERNELS[name]


def available_kernels(
    device: torch.device | str, dtype: torch.dtype, need_mask: bool = False, head_dim: int = 64
):
    """Names of every backend that can run this case on this machine."""
    names = []
    for name in [*KERNELS, "flash_attn"]:
        try:
            kernel = get_kernel(name)
        except RuntimeError:
            continue
        if kernel.serves(device, dtype, need_mask, head_dim):
            names.append(name)
    return names


def select_backend(
    name: str = "auto",
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    *,
    need_mask: bool = False,
    head_dim: int = 64,
) -> BlockKernel:
    """Pick the block kernel for a case.

    ``name`` is a family (``auto``, ``sdpa``, ``flash_attn``, ``math``) or an exact backend name; the
    service's ``attention_backend`` setting reaches here through the reader's config, never read here. A
    family falls back along its preference list (e.g. to a mask-capable kernel when a padding mask is
    present); an exact name that cannot serve the case raises, so an explicit choice is never silently
    ignored.
    """
    if name in FAMILIES:
        for candidate in family_order(name, device):
            try:
                kernel = get_kernel(candidate)
            except RuntimeError:
                continue
            if kernel.serves(device, dtype, need_mask, head_dim):
                return kernel
        raise RuntimeError(
            f"no attention backend of family {name!r} serves {device}/{dtype}/mask={need_mask}"
        )
    kernel = get_kernel(name)
    if not kernel.serves(device, dtype, need_mask, head_dim):
        raise RuntimeError(
            f"attention backend {name!r} cannot serve device={device} dtype={dtype} mask={need_mask} "
            f"head_dim={head_dim}"
        )
    return kernel


def attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    scale: float | None = None,
    causal: bool = False,
    mask: Tensor | None = None,
    backend: str = "auto",
) -> tuple[Tensor, Tensor]:
    """Single-device attention through the selected block kernel; returns (out in q's dtype, lse)."""
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    kernel = select_backend(backend, q.device, q.dtype, need_mask=mask is not None, head_dim=q.shape[-1])
    out, lse = kernel.forward(q, k, v, scale, causal, mask)
    return out.to(q.dtype), lse
