"""summary.md of a `scripts/gpu_checks.sh` run folder: every step, the reader against its 1M-token targets,
NIAH accuracy and the best kernel throughput. Usage: python scripts/gpu_summary.py RUN_FOLDER"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

COLD_TARGET_S, CACHED_TARGET_S, TARGET_TOKENS = 1.5, 0.3, 1 << 20


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _env(folder: Path) -> dict[str, str]:
    out = {}
    path = folder / "run.env"
    if path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            out[key] = value
    return out


def _steps(folder: Path) -> list[dict]:
    path = folder / "steps.tsv"
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _pytest_line(folder: Path) -> str | None:
    """pytest's closing line ("3 passed, 1 skipped in 4.2s")."""
    log = folder / "logs" / "pytest.log"
    if not log.exists():
        return None
    lines = [ln.strip("= \n") for ln in log.read_text(errors="replace").splitlines()]
    hits = [
        ln for ln in lines if re.search(r"\b(passed|failed|error|skipped|deselected)\b", ln) and " in " in ln
    ]
    return hits[-1] if hits else None


def _verdict(value: float | None, target: float) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f} s ({'met' if value <= target else 'NOT met'}, target <= {target} s)"


def reader_section(folder: Path, mode: str) -> list[str]:
    result = _json(folder / "json" / "bench-reader.json")
    lines = ["## Reader (bench reader)", ""]
    if result is None:
        return [*lines, "No results (the step did not run or did not finish; see logs/reader.log).", ""]
    lines.append(
        f"Device: {result['device']}; encoder {result['encoder_dtype']}, global layers "
        f"{result['global_dtype']} on `{result['attention_kernel']}`; haystack {result['haystack']}."
    )
    lines += [
        "",
        "| length | tokens | run | pipeline (s) | stages (s) | biggest stage | same answer |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for r in result["rows"]:
        stage, secs = max(r["stages"].items(), key=lambda kv: kv[1]) if r["stages"] else ("-", 0.0)
        lines.append(
            f"| {r['length']} | {r['tokens']} | {r['run']} | {r['pipeline_s']:.3f} "
            f"| {r['stage_sum_s']:.3f} | {stage} {secs:.3f} s | {'yes' if r['same_answer'] else 'NO'} |"
        )
    big = [r for r in result["rows"] if r["length"] >= TARGET_TOKENS]
    cold = min((r["pipeline_s"] for r in big if r["run"] == "cold"), default=None)
    cached = min((r["pipeline_s"] for r in big if r["run"] == "cached"), default=None)
    lines += ["", "Targets (one H100/H200, 1M-token document, one question):", ""]
    if mode != "gpu" or result.get("device_type") != "cuda":
        lines.append("- not applicable: this run is not on a GPU (the CPU half runs small sizes only)")
    else:
        lines += [
            f"- cold: {_verdict(cold, COLD_TARGET_S)}",
            f"- cached: {_verdict(cached, CACHED_TARGET_S)}",
        ]
    return [*lines, ""]


def niah_section(folder: Path) -> list[str]:
    result = _json(folder / "json" / "niah.json")
    lines = ["## NIAH (eval niah)", ""]
    if result is None:
        return [*lines, "No results (see logs/niah.log).", ""]
    lines.append(
        f"Reader {result.get('reader')}, {result.get('n_documents')} document(s) per length, "
        f"{result.get('seconds')} s."
    )
    lines += [
        "",
        "| length | found | accuracy | keep recall | absent unanswered |",
        "|---|---:|---:|---:|---:|",
    ]
    for length, bl in result.get("by_length", {}).items():
        lines.append(
            f"| {length} | {bl['found']}/{bl['needles']} | {bl['accuracy']:.2f} "
            f"| {bl['keep_recall'] if bl['keep_recall'] is not None else '-'} "
            f"| {bl['absent_unanswered'] if bl['absent_unanswered'] is not None else '-'} |"
        )
    return [*lines, ""]


def attention_section(folder: Path) -> list[str]:
    result = _json(folder / "json" / "bench-attention.json")
    lines = ["## Attention (bench attention)", ""]
    if result is None:
        return [*lines, "No results (see logs/attention.log).", ""]
    lines.append(f"Device: {result['device']}, {result['dtype']}, {result['heads']} heads.")
    best: dict[tuple[str, int], dict] = {}
    for r in result.get("kernels", []):
        if (
            "tflops" in r
            and (key := (r["backend"], r["head_dim"]))
            and (key not in best or r["tflops"] > best[key]["tflops"])
        ):
            best[key] = r
    lines += ["", "| backend | head dim | best TFLOP/s | at N |", "|---|---:|---:|---:|"]
    for (name, d), r in sorted(best.items()):
        lines.append(f"| {name} | {d} | {r['tflops']:.3g} | {r['n']} |")
    errors = [r for r in result.get("kernels", []) if "error" in r]
    if errors:
        lines.append(
            f"\n{len(errors)} kernel run(s) failed, e.g. {errors[0]['backend']}: {errors[0]['error']}"
        )
    ring = result.get("ring_simulated", [])
    if ring:
        lines += [
            "",
            "Simulated ring efficiency: "
            + ", ".join(f"N={r['n']} d={r['head_dim']} W={r['world']}: {r['efficiency']:.0%}" for r in ring),
        ]
    return [*lines, ""]


def summary(folder: Path) -> str:
    env = _env(folder)
    mode, dry = env.get("mode", "?"), env.get("dry_run") == "1"
    versions = _json(folder / "env" / "versions.json") or {}
    lines = ["# GPU checks", ""]
    if mode == "cpu":
        lines.append(
            "**No CUDA device** (or `--cpu`): this is the CPU half at small sizes; the GPU numbers "
            "and targets need a run on a CUDA machine."
        )
    else:
        lines.append(f"GPU run on {', '.join(versions.get('devices', [])) or 'a CUDA device'}.")
    if dry:
        lines.append("**Dry run**: the commands were written, not run.")
    lines += [
        "",
        f"Started {env.get('started', '?')}; torch {versions.get('torch', '?')}, CUDA "
        f"{versions.get('cuda_runtime')}, cuDNN {versions.get('cudnn')}, flash-attn "
        f"{versions.get('flash_attn')}; budget {env.get('budget_s', '?')} s.",
        "",
    ]
    lines += ["| step | status | seconds | log |", "|---|---|---:|---|"]
    steps = _steps(folder)
    for s in steps:
        lines.append(f"| {s['step']} | {s['status']} | {s['seconds']} | {s['log']} |")
    pytest_line = _pytest_line(folder)
    if pytest_line:
        lines += ["", f"pytest: {pytest_line}"]
    lines.append("")
    if not dry:
        lines += reader_section(folder, mode) + niah_section(folder) + attention_section(folder)
    ok = all(s["status"].startswith(("ok", "dry-run", "skipped")) for s in steps)
    lines.append(
        f"Overall: {'every step passed or was skipped with its reason' if ok else 'SOME STEPS FAILED'}."
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    folder = Path(argv[0])
    (folder / "summary.md").write_text(summary(folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
