"""``longctx bench report``: ``ask`` and ``extract --schema report`` on a long financial report, timed as a
user runs them (a fresh data directory, the CLI in its own process: parse with table recovery, tokenize,
read, store findings).

No 10-K is in the shared data, so the report is assembled from the 10-Q PDFs (whole reports, in a fixed
order, to ``--pages`` pages): the same kind of pages a 10-K has (statements, notes, MD&A tables), at the
length the target names. The command prints the wall time of each run and the answers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPORTS = ("2023 Q3 AMZN.pdf", "2023 Q1 MSFT.pdf", "2023 Q3 INTC.pdf", "2023 Q3 AAPL.pdf", "2023 Q3 NVDA.pdf")
QUESTIONS = (
    "What was total revenue for the quarter?",
    "What were the capital expenditures for the nine months?",
    "What was diluted earnings per share for the quarter?",
)


def assemble(data_root: Path, pages: int, out: Path) -> int:
    """A ``pages``-page PDF made of the 10-Q reports in ``REPORTS`` order."""
    import pypdf

    writer = pypdf.PdfWriter()
    n = 0
    configure = getattr(pypdf, "apply_configuration", None)
    limits = {"array_maximum_element_count": 20_000_000, "dictionary_maximum_element_count": 2_000_000}
    ctx = configure(**limits) if configure else None
    if ctx is not None:
        ctx.__enter__()
    try:
        for name in REPORTS:
            reader = pypdf.PdfReader(data_root / "sec10q" / "docs" / name)
            for page in reader.pages:
                if n >= pages:
                    break
                writer.add_page(page)
                n += 1
        writer.write(out)
    finally:
        if ctx is not None:
            ctx.__exit__(None, None, None)
    return n


def _run(args: list[str], env: dict) -> tuple[float, dict]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", "from longctx.cli import main; main()", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"longctx {' '.join(args)} failed: {proc.stderr[-2000:]}")
    return seconds, json.loads(proc.stdout[proc.stdout.index("{") :])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="longctx bench report", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=150)
    ap.add_argument("--data-root", default=None, help="the shared data folder (default: the setting)")
    args = ap.parse_args(argv)
    from longctx.config import get_settings

    root = Path(args.data_root or get_settings().data_root or "../shared/data")
    if not (root / "sec10q" / "docs").is_dir():
        print("SEC 10-Q PDFs not found (set LONGCTX_SHARED_DATA_DIR)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / f"report-{args.pages}p.pdf"
        n = assemble(root, args.pages, pdf)
        results = {}
        for name, cmd in (
            ("ask", ["ask", str(pdf), *sum((["-q", q] for q in QUESTIONS), [])]),
            ("extract --schema report", ["extract", str(pdf), "--schema", "report"]),
        ):
            env = {**os.environ, "LONGCTX_DATA_DIR": str(Path(tmp) / name.split()[0])}
            seconds, out = _run(cmd, env)
            items = out.get("items", [])
            results[name] = seconds
            print(f"{name}: {seconds:.1f} s on a {n}-page report (fresh data dir, one process)")
            for f in items:
                if f.get("rank") == 0:
                    print(
                        f"  {f.get('query_key') or f['query']}: {f.get('answer')!r} p.{f.get('page')} "
                        f"[{f.get('row_label') or ''} | {f.get('period') or ''}]"
                    )
    return 0
