"""`longctx bench ingest`: robustness sweep + speed of sandboxed ingest vs raw pypdf, as a markdown report.

Numbers in docs come from this command so anyone can rerun them. When the output file already holds this
report between its markers, only that block is replaced (hand-written notes around it survive).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from longctx.ingest.sweep import SweepResult, reason_category, sweep
from longctx.ingest.types import ParseLimits

MARK_START = "<!-- longctx-bench-ingest:start -->"
MARK_END = "<!-- longctx-bench-ingest:end -->"


def collect_pdfs(paths: list[Path]) -> list[Path]:
    """Files as given; folders searched recursively for *.pdf (any case), sorted for a stable order."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() == ".pdf"))
        elif p.is_file():
            out.append(p)
    return out


def _raw_pypdf(path: str) -> tuple[int, float, int]:
    """pypdf alone, in-process, no sandbox or normalisation: (pages, seconds, page errors)."""
    import logging

    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    t0 = time.perf_counter()
    reader = pypdf.PdfReader(path)
    if reader.is_encrypted:
        reader.decrypt("")
    errors = 0
    n = len(reader.pages)
    for i in range(n):
        try:
            reader.pages[i].extract_text()
        except Exception:
            errors += 1
    return n, time.perf_counter() - t0, errors


def raw_speed(paths: list[Path], jobs: int) -> dict:
    """Raw pypdf over the same files, same parallelism (worker processes; imports done before timing)."""
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        list(pool.map(_warm, range(jobs)))
        t0 = time.perf_counter()
        results = list(pool.map(_raw_pypdf, [str(p) for p in paths], chunksize=1))
        wall = time.perf_counter() - t0
    pages = sum(r[0] for r in results)
    return {
        "files": len(paths),
        "pages": pages,
        "wall_s": wall,
        "pages_per_s": pages / wall if wall else 0.0,
        "cpu_s": sum(r[1] for r in results),
        "page_errors": sum(r[2] for r in results),
    }


def _warm(_: int) -> None:
    import pypdf  # noqa: F401


def sandbox_overhead(path: Path, repeats: int = 20) -> dict:
    """Per-file cost of the sandbox: median parse_file minus median in-process parse of one small file."""
    from longctx.ingest import parse_file, parse_path_inprocess
    from longctx.ingest.sandbox import shutdown

    shutdown()
    t0 = time.perf_counter()
    parse_file(path)  # cold: starts a zygote (python + parser imports), once per worker thread
    cold = time.perf_counter() - t0
    sandboxed, inproc = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        parse_file(path)
        sandboxed.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        parse_path_inprocess(path)
        inproc.append(time.perf_counter() - t0)
    return {
        "file": str(path),
        "cold_ms": cold * 1000,
        "sandboxed_ms": statistics.median(sandboxed) * 1000,
        "inprocess_ms": statistics.median(inproc) * 1000,
        "overhead_ms": (statistics.median(sandboxed) - statistics.median(inproc)) * 1000,
    }


def _group(path: str, roots: list[Path]) -> str:
    for root in roots:
        try:
            rel = Path(path).resolve().relative_to(root.resolve())
        except ValueError:
            continue
        return rel.parts[0] if len(rel.parts) > 1 else root.name
    return Path(path).parent.name


def markers(label: str | None) -> tuple[str, str]:
    """Start/end markers of a generated block; a label lets one file hold several reports."""
    if not label:
        return MARK_START, MARK_END
    return f"<!-- longctx-bench-ingest:{label}:start -->", f"<!-- longctx-bench-ingest:{label}:end -->"


def run(
    paths: list[Path],
    out: Path | None,
    jobs: int = 2,
    command: str = "",
    *,
    limit: int | None = None,
    label: str | None = None,
) -> dict:
    """Sweep + speed comparison; writes the markdown report to `out` (when given) and returns the numbers.

    `limit` keeps the first N files (sorted) for a quicker run; `label` names the report block in `out`.
    """
    from longctx.config import get_settings

    limits = ParseLimits.of(get_settings())
    roots = [Path(p) for p in paths if Path(p).is_dir()]
    files = collect_pdfs([Path(p) for p in paths])
    if limit:
        files = files[:limit]
    if not files:
        raise SystemExit("no PDF files found")

    def progress(done: int, total: int, outcome) -> None:
        if done % 100 == 0 or done == total or outcome.status in ("crashed", "hung"):
            print(f"  {done}/{total} {outcome.status} {Path(outcome.path).name}", file=sys.stderr, flush=True)

    print(f"sweep: {len(files)} files, jobs={jobs}", file=sys.stderr)
    result = sweep(files, limits=limits, jobs=jobs, progress=progress)

    # text-layer speed is compared with raw pypdf on the files ingested without OCR (pypdf reads no scan);
    # OCR is timed by the sweep itself (engine seconds per page, from each document's OCR summary)
    ok = [Path(o.path) for o in result.outcomes if o.status == "ingested" and not o.ocr_read_pages]
    if len(ok) == len(files):
        timed = result
    else:  # time ingest on exactly the files raw pypdf can be compared on
        print(f"speed: sandboxed ingest on the {len(ok)} ingested files", file=sys.stderr)
        timed = sweep(ok, limits=limits, jobs=jobs)
    print(f"speed: raw pypdf on the same {len(ok)} files", file=sys.stderr)
    raw = raw_speed(ok, jobs) if ok else {}
    small = min(ok, key=lambda p: p.stat().st_size) if ok else None
    overhead = sandbox_overhead(small) if small else {}

    data = {
        "command": command,
        "machine": _machine(),
        "limits": limits.__dict__,
        "summary": result.summary(),
        "by_folder": _by_folder(result, roots),
        "examples": _examples(result),
        "speed": {
            "ingest": {
                "files": len(timed.outcomes),
                "pages": timed.total_pages,
                "wall_s": timed.wall_s,
                "pages_per_s": timed.pages_per_s,
                "files_per_s": len(timed.outcomes) / timed.wall_s if timed.wall_s else 0.0,
            },
            "raw_pypdf": raw,
            "overhead": overhead,
        },
        "ocr": _ocr_speed(result, limits),
        "slowest": [
            {"path": o.path, "seconds": o.seconds, "pages": o.pages, "status": o.status}
            for o in sorted(result.outcomes, key=lambda o: -o.seconds)[:5]
        ],
    }
    if out is not None:
        write_report(Path(out), render(data, label), label)
    return data


def _ocr_speed(result: SweepResult, limits: ParseLimits) -> dict:
    """OCR pages per second on this CPU: pages read by OCR / seconds the OCR step took (per worker)."""
    from longctx.ingest.ocr import engine_status

    files = [o for o in result.outcomes if o.ocr_read_pages]
    engine = engine_status(limits.ocr_tesseract, limits.ocr_languages)
    pages = sum(o.ocr_read_pages for o in files)
    seconds = sum(o.ocr_seconds for o in files)
    return {
        "enabled": limits.ocr,
        "engine": engine.version or engine.problem,
        "dpi": limits.ocr_dpi,
        "files": len(files),
        "pages": pages,
        "used_pages": sum(o.ocr_pages for o in files),
        "seconds": seconds,
        "pages_per_s": pages / seconds if seconds else 0.0,
        "wall_s": sum(o.seconds for o in files),
    }


def _machine() -> dict:
    import pypdf

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "pypdf": pypdf.__version__,
        "platform": platform.platform(terse=True),
    }


def _by_folder(result: SweepResult, roots: list[Path]) -> dict[str, dict[str, int]]:
    table: dict[str, Counter] = {}
    for o in result.outcomes:
        table.setdefault(_group(o.path, roots), Counter())[o.status] += 1
    return {k: dict(v) for k, v in sorted(table.items())}


def _examples(result: SweepResult) -> dict[str, dict]:
    """Per failure category: count and one example reason (with its file)."""
    out: dict[str, dict] = {}
    for o in result.outcomes:
        if o.status != "ingested":
            cat = reason_category(o.reason) if o.status == "failed" else o.status
            entry = out.setdefault(cat, {"count": 0, "example": o.reason, "file": Path(o.path).name})
            entry["count"] += 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["count"]))


def render(d: dict, label: str | None = None) -> str:
    s, sp = d["summary"], d["speed"]
    ing, raw, ov = sp["ingest"], sp["raw_pypdf"], sp["overhead"]
    m = d["machine"]
    start, end = markers(label)
    lines = [
        start,
        f"## {'Robustness sweep and speed' if not label else 'Speed: ' + label} (generated)",
        "",
        "Command (rerun to refresh this block):",
        "",
        "```",
        d["command"],
        "```",
        "",
        f"Machine: {m['cpus']} CPU cores, no GPU; Python {m['python']}, pypdf {m['pypdf']}; "
        f"jobs={s['jobs']}. "
        f"Limits: timeout {d['limits']['parse_timeout_s']:g} s, memory {d['limits']['parse_memory_mb']} MB, "
        f"max pages {d['limits']['max_pages']}.",
        "",
        "| files | ingested | failed (with a reason) | crashed | hung | ingested with warnings | pages "
        "| wall |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {s['files']} | {s['ingested']} | {s['failed']} | {s['crashed']} | {s['hung']} "
        f"| {s['ingested_with_warnings']} | {s['total_pages']} | {s['wall_s']:.1f} s |",
        "",
        "Failures by reason category (one example each):",
        "",
        "| category | files | example reason | example file |",
        "|---|---:|---|---|",
    ]
    for cat, e in d["examples"].items():
        reason = e["example"].replace("|", "\\|")
        lines.append(f"| {cat} | {e['count']} | {reason[:140]} | `{e['file']}` |")
    if not d["examples"]:
        lines.append("| (none) | 0 | | |")
    lines += [
        "",
        "By folder:",
        "",
        "| folder | ingested | failed | crashed | hung |",
        "|---|---:|---:|---:|---:|",
    ]
    for folder, c in d["by_folder"].items():
        lines.append(
            f"| {folder} | {c.get('ingested', 0)} | {c.get('failed', 0)} | {c.get('crashed', 0)} "
            f"| {c.get('hung', 0)} |"
        )
    lines += [
        "",
        f"Speed on the same {ing['files']} files ingested from their text layer ({ing['pages']} pages), "
        f"{s['jobs']} parallel jobs:",
        "",
        "| | wall | pages/s | files/s |",
        "|---|---:|---:|---:|",
        f"| ingest (`parse_file`: sandbox child, limits, normalisation, JSON back) | {ing['wall_s']:.1f} s "
        f"| {ing['pages_per_s']:.1f} | {ing['files_per_s']:.1f} |",
    ]
    if raw:
        lines.append(
            "| raw pypdf (in-process `PdfReader(path).pages[i].extract_text()`, "
            f"{s['jobs']} worker processes) "
            f"| {raw['wall_s']:.1f} s | {raw['pages_per_s']:.1f} | {raw['files'] / raw['wall_s']:.1f} |"
        )
    if ov:
        lines += [
            "",
            f"Sandbox cost per file (median of 20, smallest file `{Path(ov['file']).name}`): "
            f"{ov['sandboxed_ms']:.1f} ms sandboxed vs {ov['inprocess_ms']:.1f} ms in-process "
            f"= {ov['overhead_ms']:.1f} ms overhead (fork of a warm zygote, rlimit, JSON result file). "
            f"The first parse on a worker thread also starts its zygote: {ov['cold_ms']:.0f} ms, once.",
        ]
    ocr = d.get("ocr") or {}
    if ocr.get("pages"):
        lines += [
            "",
            f"OCR ({ocr['engine']}, pages rendered at {ocr['dpi']} dpi, one engine thread per page): "
            f"{ocr['pages']} pages of {ocr['files']} files read by OCR in {ocr['seconds']:.1f} s of OCR "
            f"time = **{ocr['pages_per_s']:.2f} OCR pages/s per worker** on this CPU ({s['jobs']} workers "
            "side by side; the time includes rendering, the layout check and the child processes); "
            f"{ocr['used_pages']} of these pages took the OCR text (the others kept their text layer). "
            "Files the engine read are left out of the speed comparison above.",
        ]
    elif ocr:
        lines += ["", f"OCR: no page was read by OCR ({'on' if ocr['enabled'] else 'off'}; {ocr['engine']})."]
    lines += ["", "Slowest files:", "", "| file | status | pages | seconds |", "|---|---|---:|---:|"]
    for o in d["slowest"]:
        lines.append(f"| `{Path(o['path']).name}` | {o['status']} | {o['pages']} | {o['seconds']:.2f} |")
    lines += ["", end, ""]
    return "\n".join(lines)


def replace_block(out: Path, block: str, start: str, end: str, new_file_head: str) -> None:
    """Replace the block between the `start` and `end` lines of `out`, append it when missing, or write a new
    file (`new_file_head` + block). Benchmarks keep their generated tables in the docs this way."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        text = out.read_text(encoding="utf-8")
        if start in text and end in text:
            head, _, rest = text.partition(start)
            _, _, tail = rest.partition(end)
            out.write_text(head + block.rstrip("\n") + tail, encoding="utf-8")
        else:
            out.write_text(text.rstrip("\n") + "\n\n" + block, encoding="utf-8")
        return
    out.write_text(new_file_head + block, encoding="utf-8")


def write_report(out: Path, block: str, label: str | None = None) -> None:
    """Replace the generated block in `out`, append it when missing, or write a new file."""
    start, end = markers(label)
    replace_block(out, block, start, end, "# Ingestion benchmark\n\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="longctx bench ingest", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="PDF files or folders (searched recursively)")
    parser.add_argument(
        "--out", type=Path, default=None, help="markdown report to write (e.g. docs/ingestion.md)"
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="only the first N files (sorted)")
    parser.add_argument("--label", default=None, help="name of the report block in --out (several per file)")
    args = parser.parse_args(argv)
    command = "longctx bench ingest " + " ".join(str(p) for p in args.paths)
    if args.out:
        command += f" --out {args.out}"
    if args.jobs != 2:
        command += f" --jobs {args.jobs}"
    if args.limit:
        command += f" --limit {args.limit}"
    if args.label:
        command += f" --label {args.label}"
    data = run(args.paths, args.out, args.jobs, command, limit=args.limit, label=args.label)
    s = data["summary"]
    print(
        f"files={s['files']} ingested={s['ingested']} failed={s['failed']} crashed={s['crashed']} "
        f"hung={s['hung']} pages={s['total_pages']} wall={s['wall_s']:.1f}s"
    )
    return 1 if s["crashed"] or s["hung"] else 0
