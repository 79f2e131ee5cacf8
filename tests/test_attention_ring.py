"""The real ring over gloo process groups (world sizes 1-4), forward and backward against float64.

One spawn per world size runs every case; each rank writes its output and gradient shards to a file and the
parent reassembles them. Measured relative errors go into the assertion messages, into the junit
``record_property`` and into a table printed per world size (visible with ``pytest -rA``).
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from longctx.attention import reference_attention, relative_error, ring_attention, shard, unshard
from longctx.core.spawn import start_clean

B, H, D = 2, 3, 16
FP32_TOL = 1e-5
BF16_TOL = 2e-2

# name: (total tokens, layout, causal, padding mask, backend, uneven contiguous lengths?, dtype)
CASES = {
    "bidir": (40, "contiguous", False, False, "auto", False, torch.float32),
    "bidir-math": (40, "contiguous", False, False, "math", False, torch.float32),
    "bidir-uneven": (0, "contiguous", False, False, "auto", True, torch.float32),
    "bidir-padmask": (40, "contiguous", False, True, "auto", False, torch.float32),
    "causal-contiguous-uneven": (0, "contiguous", True, False, "math", True, torch.float32),
    "causal-zigzag": (43, "zigzag", True, False, "auto", False, torch.float32),
    "causal-striped": (42, "striped", True, False, "auto", False, torch.float32),
    "causal-zigzag-padmask": (40, "zigzag", True, True, "math", False, torch.float32),
    "bidir-bf16": (40, "contiguous", False, False, "auto", False, torch.bfloat16),
}


def uneven_lengths(world: int) -> list[int]:
    return [3 + 5 * ((r * 7 + 2) % 4) for r in range(world)]


def case_inputs(name: str, world: int):
    """Deterministic random global inputs (never zeros), regenerated identically in every process."""
    total, layout, causal, padmask, _backend, uneven, dtype = CASES[name]
    lengths = uneven_lengths(world) if uneven else None
    if uneven:
        total = sum(lengths)
    gen = torch.Generator().manual_seed(1234 + world * 100 + sorted(CASES).index(name))
    q, k, v, g = (torch.randn(B, H, total, D, generator=gen, dtype=torch.float64) for _ in range(4))
    mask = None
    if padmask:
        mask = torch.ones(B, total, dtype=torch.bool)
        mask[1, int(total * 0.6) :] = False
        mask[0, 1::7] = False
    return q, k, v, g, mask, lengths, dtype


def local_piece(x: torch.Tensor, world: int, rank: int, layout: str, lengths: list[int] | None, dim: int = 2):
    if lengths is None:
        return shard(x, world, rank, layout, dim=dim)
    start = sum(lengths[:rank])
    return x.narrow(dim, start, lengths[rank])


def _worker(rank: int, world: int, store_path: str, out_dir: str) -> None:
    try:
        dist.init_process_group("gloo", store=dist.FileStore(store_path, world), rank=rank, world_size=world)
        torch.set_num_threads(1)
        for name in CASES:
            _total, layout, causal, _pm, backend, _uneven, dtype = CASES[name]
            q, k, v, g, mask, lengths, _ = case_inputs(name, world)
            ql, kl, vl, gl = (local_piece(t, world, rank, layout, lengths).to(dtype) for t in (q, k, v, g))
            ql, kl, vl = (t.clone().requires_grad_(True) for t in (ql, kl, vl))
            ml = None if mask is None else local_piece(mask[:, None, :, None], world, rank, layout, lengths)
            ml = None if ml is None else ml[:, 0, :, 0]
            out = ring_attention(
                ql, kl, vl, causal=causal, layout=layout, backend=backend, key_padding_mask=ml
            )
            (out * gl).sum().backward()
            torch.save(
                {"out": out.detach(), "dq": ql.grad, "dk": kl.grad, "dv": vl.grad},
                Path(out_dir) / f"{name}-{rank}.pt",
            )
        dist.barrier()
        dist.destroy_process_group()
    except Exception:
        (Path(out_dir) / f"error-{rank}.txt").write_text(traceback.format_exc())
        raise


def run_ring(world: int, tmp_path: Path) -> dict[str, dict[str, float]]:
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=_worker, args=(r, world, str(tmp_path / "store"), str(tmp_path)))
        for r in range(world)
    ]
    for p in procs:
        start_clean(p)
    for p in procs:
        p.join(timeout=240)
    errors = sorted(tmp_path.glob("error-*.txt"))
    if errors or any(p.exitcode != 0 for p in procs):
        for p in procs:
            if p.is_alive():
                p.kill()
        detail = "\n".join(e.read_text() for e in errors)
        raise AssertionError(f"ring workers failed (exit codes {[p.exitcode for p in procs]}):\n{detail}")
    results = {}
    for name in CASES:
        _total, layout, causal, _pm, _backend, _uneven, _dtype = CASES[name]
        q, k, v, g, mask, lengths, _ = case_inputs(name, world)
        parts = [torch.load(tmp_path / f"{name}-{r}.pt") for r in range(world)]

        def whole(key, parts=parts, layout=layout, lengths=lengths):
            pieces = [p[key] for p in parts]
            return torch.cat(pieces, dim=2) if lengths is not None else unshard(pieces, layout)

        qr, kr, vr = (t.clone().requires_grad_(True) for t in (q, k, v))
        ref, _ = reference_attention(qr, kr, vr, causal=causal, key_padding_mask=mask)
        ref_grads = torch.autograd.grad((ref * g).sum(), (qr, kr, vr))
        results[name] = {"out": relative_error(whole("out"), ref)}
        for key, rg in zip(("dq", "dk", "dv"), ref_grads, strict=True):
            results[name][key] = relative_error(whole(key), rg)
    return results


def _table(world: int, results: dict[str, dict[str, float]]) -> str:
    lines = [f"ring attention, gloo world={world}: relative error vs float64 reference"]
    lines.append(f"{'case':28s} {'out':>9s} {'dq':>9s} {'dk':>9s} {'dv':>9s}")
    for name, errs in results.items():
        lines.append(f"{name:28s} " + " ".join(f"{errs[k]:9.2e}" for k in ("out", "dq", "dk", "dv")))
    return "\n".join(lines)


@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_ring_gloo_matches_float64_reference(world, tmp_path, record_property):
    results = run_ring(world, tmp_path)
    table = _table(world, results)
    print(table)
    record_property("relative_errors", table)
    for name, errs in results.items():
        tol = BF16_TOL if CASES[name][-1] == torch.bfloat16 else FP32_TOL
        worst = max(errs.values())
        assert worst < tol, f"{name}: worst relative error {worst:.3e} >= {tol:g}\n{table}"


def _flash_parity_worker(rank: int, world: int, store_path: str, out_dir: str) -> None:
    from longctx.attention import flash

    try:
        torch.cuda.set_device(rank)
        dist.init_process_group("nccl", store=dist.FileStore(store_path, world), rank=rank, world_size=world)
        errs = {}
        for layout, causal in (("contiguous", False), ("zigzag", True)):
            gen = torch.Generator().manual_seed(5)
            q, k, v = (torch.randn(1, 4, 512 * world, 64, generator=gen) for _ in range(3))
            ql, kl, vl = (shard(t, world, rank, layout).cuda().bfloat16() for t in (q, k, v))
            ours = ring_attention(ql, kl, vl, causal=causal, layout=layout, backend="sdpa")
            theirs, _ = flash.ring_flash_attention(
                ql, kl, vl, group=dist.group.WORLD, causal=causal, scale=64**-0.5, layout=layout
            )
            errs[f"{layout}-causal{causal}"] = relative_error(ours.float(), theirs.float())
        torch.save(errs, Path(out_dir) / f"parity-{rank}.pt")
        dist.destroy_process_group()
    except Exception:
        (Path(out_dir) / f"error-{rank}.txt").write_text(traceback.format_exc())
        raise


def test_ring_flash_attn_parity(tmp_path, record_property):
    """Our driver and ring_flash_attn agree where both apply (needs the [flash] extra and CUDA)."""
    from longctx.attention import flash

    if not flash.ring_flash_attn_available():
        pytest.skip("ring_flash_attn not importable (the [flash] extra needs a CUDA build)")
    world = min(2, torch.cuda.device_count())
    ctx = mp.get_context("spawn")
    args = (world, str(tmp_path / "store"), str(tmp_path))
    procs = [ctx.Process(target=_flash_parity_worker, args=(r, *args)) for r in range(world)]
    for p in procs:
        start_clean(p)
    for p in procs:
        p.join(timeout=240)
    errors = "\n".join(e.read_text() for e in tmp_path.glob("error-*.txt"))
    assert all(p.exitcode == 0 for p in procs), errors
    errs = torch.load(tmp_path / "parity-0.pt")
    record_property("ring_flash_attn_parity", errs)
    print("ring_flash_attn parity (bf16 relative difference):", errs)
    assert max(errs.values()) < BF16_TOL, errs
