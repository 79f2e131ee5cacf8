"""Optional adapters for ``flash_attn`` and ``ring_flash_attn`` (the ``[flash]`` extra; CUDA builds only).

Both are imported lazily and guarded: the project must import, run and test without them. Their tensors are
``(batch, seqlen, heads, head_dim)``; ours are ``(batch, heads, seqlen, head_dim)``, so the adapters
transpose (a view: flash-attn only needs the last dimension contiguous).
"""

from __future__ import annotations

import functools
import importlib
import inspect
from types import ModuleType

import torch

from longctx.attention.block import HALF, BlockKernel, Tensor, backward_lse


@functools.cache
def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except Exception:  # ImportError, or a CUDA extension that fails to load
        return None


def flash_attn_available() -> bool:
    return torch.cuda.is_available() and _module("flash_attn.flash_attn_interface") is not None


def ring_flash_attn_available() -> bool:
    return torch.cuda.is_available() and _module("ring_flash_attn") is not None


def _call(fn, **kwargs):
    """Call a flash-attn internal with only the keywords its installed version accepts."""
    params = inspect.signature(fn).parameters
    return fn(**{k: v for k, v in kwargs.items() if k in params})


def _bshd(x: Tensor) -> Tensor:
    return x.transpose(1, 2)


def _fa_forward(q, k, v, scale, causal=False, mask=None):
    if mask is not None:
        raise ValueError("flash_attn block kernel takes no mask")
    fa = _module("flash_attn.flash_attn_interface")
    res = _call(
        fa._flash_attn_forward,
        q=_bshd(q),
        k=_bshd(k),
        v=_bshd(v),
        dropout_p=0.0,
        softmax_scale=scale,
        causal=causal,
        window_size=(-1, -1),
        window_size_left=-1,
        window_size_right=-1,
        softcap=0.0,
        alibi_slopes=None,
        return_softmax=False,
    )
    out, lse = res[0], res[1]
    return _bshd(out), lse[..., : q.shape[-2]].float()


def _fa_backward(dout, q, k, v, out, lse, scale, causal=False, mask=None):
    fa = _module("flash_attn.flash_attn_interface")
    dq = torch.empty_like(_bshd(q).contiguous())
    dk = torch.empty_like(_bshd(k).contiguous())
    dv = torch.empty_like(_bshd(v).contiguous())
    _call(
        fa._flash_attn_backward,
        dout=_bshd(dout.to(q.dtype)).contiguous(),
        q=_bshd(q),
        k=_bshd(k),
        v=_bshd(v),
        out=_bshd(out.to(q.dtype)).contiguous(),
        softmax_lse=backward_lse(lse.float()).contiguous(),
        dq=dq,
        dk=dk,
        dv=dv,
        dropout_p=0.0,
        softmax_scale=scale,
        causal=causal,
        window_size=(-1, -1),
        window_size_left=-1,
        window_size_right=-1,
        softcap=0.0,
        alibi_slopes=None,
        deterministic=False,
        rng_state=None,
    )
    return _bshd(dq), _bshd(dk), _bshd(dv)


def flash_attn_kernel():
    """The flash_attn block kernel, or None when flash_attn is not importable."""
    if not flash_attn_available():
        return None
    return BlockKernel(
        "flash_attn", _fa_forward, _fa_backward, ("cuda",), HALF, False, 256, flash_attn_available
    )


_RING_FUNCS = {
    "contiguous": "ring_flash_attn_func",
    "zigzag": "zigzag_ring_flash_attn_func",
    "striped": "stripe_flash_attn_func",
}


def ring_flash_attn_serves(q: Tensor, layout: str) -> bool:
    """True when ring_flash_attn can run this case exactly as our own driver would."""
    return (
        q.is_cuda
        and q.dtype in HALF
        and q.shape[-1] <= 256
        and layout in _RING_FUNCS
        and ring_flash_attn_available()
        and hasattr(_module("ring_flash_attn"), _RING_FUNCS[layout])
    )


def ring_flash_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    group,
    causal: bool,
    scale: float,
    layout: str = "contiguous",
) -> tuple[Tensor, Tensor]:
    """Delegate to ring_flash_attn (same shard layouts as ours); returns (out (B, H, L, D), lse (B, H, L))."""
    rfa = _module("ring_flash_attn")
    fn = getattr(rfa, _RING_FUNCS[layout])
    res = _call(
        fn,
        q=_bshd(q),
        k=_bshd(k),
        v=_bshd(v),
        dropout_p=0.0,
        softmax_scale=scale,
        causal=causal,
        return_attn_probs=True,
        group=group,
    )
    out, lse = res[0], res[1]
    return _bshd(out), lse.reshape(q.shape[0], q.shape[1], -1)[..., : q.shape[2]].float()
