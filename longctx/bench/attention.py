"""``longctx bench attention``: kernel throughput per backend and ring efficiency.

Three measurements, all forward, bidirectional (the reader's case) unless ``causal``:

1. **kernels** — every backend that serves the device, on the whole sequence of N tokens, TFLOP/s with
   4·B·H·N²·d FLOPs; ``torch_sdpa`` (``F.scaled_dot_product_attention``) is the same-run reference.
2. **ring, simulated** — W ranks in one process (:mod:`longctx.attention.simulated`): the real block plans,
   kernels and merges without communication. Ring efficiency = (single-kernel time / W) / ring time per rank.
3. **ring, p2p** — the real ring over processes: gloo on CPU, NCCL with one process per GPU when
   ``torch.cuda.device_count() >= W``. Same efficiency formula, with the transfers included.

CPU figures measure the CPU (fp32); GPU figures use bf16.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from longctx.attention.kernels import available_kernels, get_kernel, select_backend
from longctx.attention.layout import shard
from longctx.attention.ring import RingSetup, dense_flops, ring_forward
from longctx.attention.simulated import simulated_forward_rank

SECTION = "## Attention"


def _device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Best-of-``repeats`` wall time after one warm-up call (seconds)."""
    fn()
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def _lengths(max_n: int, min_n: int = 8192) -> list[int]:
    ns, n = [], min(min_n, max_n)
    while n <= max_n:
        ns.append(n)
        n *= 2
    return ns


def _inputs(n: int, batch: int, heads: int, d: int, device: torch.device, dtype: torch.dtype, seed: int = 0):
    gen = torch.Generator(device=device).manual_seed(seed)
    return [torch.randn(batch, heads, n, d, generator=gen, device=device, dtype=dtype) for _ in range(3)]


def bench_kernels(ns, head_dims, backends, device, dtype, batch, heads, causal, repeats) -> list[dict]:
    rows = []
    for d in head_dims:
        names = backends or available_kernels(device, dtype, head_dim=d)
        for n in ns:
            q, k, v = _inputs(n, batch, heads, d, device, dtype)
            flops = dense_flops(n, batch, heads, d, causal)
            scale = d**-0.5
            runs = {
                "torch_sdpa": lambda q=q, k=k, v=v: F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            }
            for name in names:
                kernel = get_kernel(name)
                if kernel.serves(device, dtype, False, d):
                    runs[name] = lambda kernel=kernel, q=q, k=k, v=v, scale=scale: kernel.forward(
                        q, k, v, scale, causal, None
                    )
            sdpa_t = None
            for name, fn in runs.items():
                try:
                    t = _time(fn, device, repeats)
                except (RuntimeError, torch.OutOfMemoryError) as exc:  # pragma: no cover - device limits
                    rows.append({"backend": name, "n": n, "head_dim": d, "error": str(exc)[:120]})
                    continue
                sdpa_t = t if name == "torch_sdpa" else sdpa_t
                rows.append(
                    {
                        "backend": name,
                        "n": n,
                        "head_dim": d,
                        "seconds": t,
                        "tflops": flops / t / 1e12,
                        "vs_sdpa": (sdpa_t / t) if sdpa_t else None,
                    }
                )
            del q, k, v
    return rows


def bench_simulated(
    ns, head_dims, worlds, backend, device, dtype, batch, heads, causal, repeats
) -> list[dict]:
    rows = []
    layout = "zigzag" if causal else "contiguous"
    for d in head_dims:
        kernel = select_backend(backend, device, dtype, head_dim=d)
        for n in ns:
            q, k, v = _inputs(n, batch, heads, d, device, dtype)
            scale = d**-0.5
            single = _time(
                lambda q=q, k=k, v=v, kernel=kernel, scale=scale: kernel.forward(
                    q, k, v, scale, causal, None
                ),
                device,
                repeats,
            )
            for world in worlds:
                qs, ks, vs = (
                    [shard(t, world, r, layout).contiguous() for r in range(world)] for t in (q, k, v)
                )
                setup = RingSetup(tuple(t.shape[2] for t in qs), layout, causal)

                def one_rank(r, qs=qs, ks=ks, vs=vs, setup=setup, kernel=kernel, scale=scale):
                    return simulated_forward_rank(r, qs, ks, vs, setup, kernel, scale)

                per_rank = [_time(lambda r=r: one_rank(r), device, repeats) for r in range(world)]
                ring_t = max(per_rank)  # the slowest rank sets the pace of a real ring
                rows.append(
                    {
                        "backend": kernel.name,
                        "n": n,
                        "head_dim": d,
                        "world": world,
                        "single_s": single,
                        "ring_rank_s": ring_t,
                        "ring_rank_mean_s": statistics.mean(per_rank),
                        "efficiency": (single / world) / ring_t,
                        "tflops_per_rank": dense_flops(n, batch, heads, d, causal) / world / ring_t / 1e12,
                    }
                )
            del q, k, v
    return rows


def _p2p_worker(rank, world, store, out_dir, cfg):
    import torch.distributed as dist

    from longctx.attention.layout import shard, shard_lengths
    from longctx.attention.ring import RingComm

    use_cuda = cfg["device"] == "cuda"
    if use_cuda:
        torch.cuda.set_device(rank)
    else:
        torch.set_num_threads(max(1, cfg["threads"] // world))
    device = torch.device("cuda", rank) if use_cuda else torch.device("cpu")
    dist.init_process_group(
        "nccl" if use_cuda else "gloo", store=dist.FileStore(store, world), rank=rank, world_size=world
    )
    dtype = getattr(torch, cfg["dtype"])
    layout = "zigzag" if cfg["causal"] else "contiguous"
    results = []
    for d in cfg["head_dims"]:
        kernel = select_backend(cfg["backend"], device, dtype, head_dim=d)
        for n in cfg["ns"]:
            q, k, v = (
                shard(t, world, rank, layout).contiguous()
                for t in _inputs(n, cfg["batch"], cfg["heads"], d, device, dtype)
            )
            setup = RingSetup(tuple(shard_lengths(n, world, layout)), layout, cfg["causal"])
            comm = RingComm(None)

            def run(q=q, k=k, v=v, setup=setup, comm=comm, kernel=kernel, d=d):
                dist.barrier()
                return ring_forward(q, k, v, None, setup, comm, kernel, d**-0.5)

            t = _time(run, device, cfg["repeats"])
            slowest = torch.tensor([t], dtype=torch.float64, device=device)
            dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
            results.append(
                {
                    "n": n,
                    "head_dim": d,
                    "world": world,
                    "ring_rank_s": float(slowest.item()),
                    "backend": kernel.name,
                }
            )
    if rank == 0:
        Path(out_dir, "p2p.json").write_text(json.dumps(results))
    dist.destroy_process_group()


def bench_p2p(
    ns, head_dims, worlds, backend, device, dtype, batch, heads, causal, repeats, single
) -> list[dict]:
    rows = []
    for world in worlds:
        if device.type == "cuda" and torch.cuda.device_count() < world:
            continue
        cfg = {
            "device": device.type,
            "dtype": str(dtype).removeprefix("torch."),
            "ns": ns,
            "head_dims": head_dims,
            "backend": backend,
            "batch": batch,
            "heads": heads,
            "causal": causal,
            "repeats": repeats,
            "threads": torch.get_num_threads(),
        }
        with tempfile.TemporaryDirectory() as tmp:
            ctx = mp.get_context("spawn")
            procs = [
                ctx.Process(target=_p2p_worker, args=(r, world, f"{tmp}/store", tmp, cfg))
                for r in range(world)
            ]
            for p in procs:
                p.start()
            for p in procs:
                p.join()
            if any(p.exitcode != 0 for p in procs):
                rows.append({"world": world, "error": f"worker exit codes {[p.exitcode for p in procs]}"})
                continue
            for r in json.loads(Path(tmp, "p2p.json").read_text()):
                s = single.get((r["n"], r["head_dim"]))
                r["single_s"] = s
                r["efficiency"] = (s / world) / r["ring_rank_s"] if s else None
                r["transport"] = "nccl" if device.type == "cuda" else "gloo"
                # CPU ranks share the machine's cores: W ranks can at best finish together in the
                # single-kernel time, so the reachable efficiency there is min(1, cores / W).
                r["ideal"] = 1.0 if device.type == "cuda" else min(1.0, cfg["threads"] / world)
                rows.append(r)
    return rows


def run(
    max_n: int,
    head_dims: list[int],
    world_sizes: list[int],
    backends: list[str] | None,
    out: Path | None,
    command: str,
    device: str = "auto",
    *,
    min_n: int = 8192,
    batch: int = 1,
    heads: int | None = None,
    causal: bool = False,
    repeats: int = 3,
    p2p: bool = True,
    docs: Path | None = None,
) -> dict:
    """Run all three measurements; write JSON to ``out`` and the markdown section to ``docs`` when given."""
    dev = _device(device)
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    heads = heads or (16 if dev.type == "cuda" else 2)
    ns = _lengths(max_n, min_n)
    ring_backend = "auto"
    result = {
        "command": command,
        "device": torch.cuda.get_device_name(dev)
        if dev.type == "cuda"
        else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
        "torch": torch.__version__,
        "dtype": str(dtype).removeprefix("torch."),
        "batch": batch,
        "heads": heads,
        "causal": causal,
        "kernels": bench_kernels(ns, head_dims, backends, dev, dtype, batch, heads, causal, repeats),
    }
    result["ring_simulated"] = bench_simulated(
        ns, head_dims, world_sizes, ring_backend, dev, dtype, batch, heads, causal, repeats
    )
    single = {(r["n"], r["head_dim"]): r["single_s"] for r in result["ring_simulated"]}
    result["ring_p2p"] = (
        bench_p2p(ns, head_dims, world_sizes, ring_backend, dev, dtype, batch, heads, causal, repeats, single)
        if p2p
        else []
    )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
    if docs is not None:
        write_section(docs, markdown(result))
    return result


def _fmt(x, spec=".3g") -> str:
    return "—" if x is None else format(x, spec)


def markdown(result: dict) -> str:
    """The results as markdown tables (one run)."""
    lines = [
        "Rerun with the command below; `--docs docs/benchmarks.md` rewrites only this section. Without a",
        "GPU the rows are CPU figures (fp32, PyTorch's CPU kernels, gloo between processes on the same",
        "cores): they show the ring's arithmetic overhead, not GPU throughput. On a GPU the same command",
        "measures bf16 kernels, simulated ranks on one device, and NCCL rings when several devices exist.",
        "On CPU the gloo ranks share the cores, so a ring can reach at most min(1, cores / W) efficiency;",
        "'of reachable' divides by that. CPU timings on a shared 2-core machine are noisy (single rows",
        "up to 2-3x).",
        "",
        f"Device: {result['device']}, torch {result['torch']}, {result['dtype']}, batch {result['batch']}, "
        f"{result['heads']} heads, {'causal' if result['causal'] else 'bidirectional'}, forward.",
        "",
        "```",
        result["command"],
        "```",
        "",
        "Kernels on the whole sequence (`torch_sdpa` = `F.scaled_dot_product_attention`, same run):",
        "",
        "| backend | head dim | N | time (s) | TFLOP/s | vs torch_sdpa |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["kernels"]:
        if "error" in r:
            lines.append(f"| {r['backend']} | {r['head_dim']} | {r['n']} | error: {r['error']} | | |")
            continue
        lines.append(
            f"| {r['backend']} | {r['head_dim']} | {r['n']} | {r['seconds']:.4f} | {r['tflops']:.4f} | "
            f"{_fmt(r['vs_sdpa'], '.0%')} |"
        )
    lines += [
        "",
        "Ring, simulated ranks in one process (efficiency = (single-kernel time / W) / slowest rank's time):",
        "",
        "| backend | head dim | N | W | single (s) | ring per rank (s) | efficiency | TFLOP/s per rank |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["ring_simulated"]:
        lines.append(
            f"| {r['backend']} | {r['head_dim']} | {r['n']} | {r['world']} | {r['single_s']:.4f} | "
            f"{r['ring_rank_s']:.4f} | {r['efficiency']:.0%} | {r['tflops_per_rank']:.4f} |"
        )
    if result["ring_p2p"]:
        lines += [
            "",
            "Ring over real processes (transfers included; same efficiency formula):",
            "",
            "| transport | backend | head dim | N | W | ring per rank (s) | efficiency | reachable "
            "| of reachable |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in result["ring_p2p"]:
            if "error" in r:
                lines.append(f"| | | | | {r['world']} | error: {r['error']} | |")
                continue
            lines.append(
                f"| {r['transport']} | {r['backend']} | {r['head_dim']} | {r['n']} | {r['world']} | "
                f"{r['ring_rank_s']:.4f} | {_fmt(r['efficiency'], '.0%')} | {r['ideal']:.0%} | "
                f"{_fmt(r['efficiency'] / r['ideal'] if r['efficiency'] else None, '.0%')} |"
            )
    return "\n".join(lines) + "\n"


def write_section(path: Path, body: str) -> None:
    """Replace (or append) only the ``## Attention`` section of a shared benchmarks page."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == SECTION), None)
    if start is None:
        new = text.rstrip("\n") + "\n\n" + SECTION + "\n\n" + body
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        new = (
            "".join(lines[:start])
            + SECTION
            + "\n\n"
            + body
            + ("\n" + "".join(lines[end:]) if end < len(lines) else "")
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="longctx bench attention", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--max-n", type=int, default=262144, help="largest sequence length (from 8K, doubling)"
    )
    parser.add_argument("--min-n", type=int, default=8192)
    parser.add_argument("--head-dims", type=_ints, default=[64, 128])
    parser.add_argument("--world-sizes", type=_ints, default=[2, 4, 8])
    parser.add_argument(
        "--backends", type=lambda s: s.split(","), default=None, help="kernel names; default all"
    )
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--heads", type=int, default=None, help="default 16 on GPU, 2 on CPU")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--causal", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-p2p", action="store_true", help="skip the multi-process ring")
    parser.add_argument("--out", type=Path, default=None, help="JSON results file")
    parser.add_argument(
        "--docs", type=Path, default=None, help="markdown page whose '## Attention' section to replace"
    )
    args = parser.parse_args(argv)
    command = "longctx bench attention " + " ".join(sys.argv[1:] if argv is None else argv)
    result = run(
        args.max_n,
        args.head_dims,
        args.world_sizes,
        args.backends,
        args.out,
        command.strip(),
        args.device,
        min_n=args.min_n,
        batch=args.batch,
        heads=args.heads,
        causal=args.causal,
        repeats=args.repeats,
        p2p=not args.no_p2p,
        docs=args.docs,
    )
    print(markdown(result))
    return result
