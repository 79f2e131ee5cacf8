"""`longctx eval SUITE ...`: evaluate a reader, print a table and write JSON.

niah, multikey, ruler, cuad, cuad-questions, short-contracts, sec10q, report-facts and ablation share the
options below;
`baseline` (the lexical reader's CUAD report) and `cuad-spans` (how many CUAD clauses are located in the
text) parse their own (`longctx eval baseline -h`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from longctx.datasets.needles import TASKS as ALL_TASKS


def parse_lengths(s: str) -> list[int]:
    """ "2K,8K,32768" -> [2048, 8192, 32768] (K = 1024, M = 1024**2)."""
    out = []
    for part in s.split(","):
        p = part.strip().upper()
        if not p:
            continue
        mult = 1024 if p.endswith("K") else 1024**2 if p.endswith("M") else 1
        out.append(int(float(p.rstrip("KM")) * mult))
    return out


def parse_floats(s: str) -> list[float]:
    return [float(x) for x in s.split(",") if x.strip()]


def _baseline(argv: list[str]) -> int:
    from .baseline import main

    return main(argv)


def _cuad_spans(argv: list[str]) -> int:
    from longctx.datasets.cuad import main

    return main(argv)


#: suites with options of their own: name -> entry taking the suite's argv
OWN_OPTIONS: dict[str, Callable[[list[str]], int]] = {"baseline": _baseline, "cuad-spans": _cuad_spans}


SUITES = (
    "niah",
    "multikey",
    "ruler",
    "cuad",
    "cuad-questions",
    "short-contracts",
    "sec10q",
    "report-facts",
    "ablation",
    *OWN_OPTIONS,
)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="longctx eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("suite", choices=SUITES)
    ap.add_argument("--reader", choices=("lexical", "neural", "auto"), default=None, help="default: settings")
    ap.add_argument("--lengths", type=parse_lengths, default=None, help="e.g. 4K,32K,128K,1M")
    ap.add_argument("--depths", type=parse_floats, default=None, help="niah: e.g. 0.05,0.25,0.5,0.75,0.95")
    ap.add_argument("--tasks", default=None, help="ruler: comma-separated subset of the tasks")
    ap.add_argument(
        "--n",
        type=int,
        default=None,
        help="niah/multikey: documents per length (one needle per depth each; default 5); ruler: examples "
        "per task and length (default 3); short-contracts: contracts (default 40); cuad-questions: "
        "contracts (default 40); ablation: niah documents per length (default 2)",
    )
    ap.add_argument("--family", choices=("eval", "train"), default="eval", help="wording family of needles")
    ap.add_argument("--near-identical", type=int, default=None, help="niah: distractor keys (multikey: 3)")
    ap.add_argument("--split", choices=("train", "validation"), default="validation")
    ap.add_argument(
        "--top-k", type=int, default=20, help="cuad: answers per question (CUAD scores its 20-best lists)"
    )
    ap.add_argument("--suites", default=None, help="ablation: comma-separated subset of niah,cuad,sec10q")
    ap.add_argument("--out", type=Path, default=None, help="JSON (default results/eval-SUITE-READER.json)")
    ap.add_argument("--png", type=Path, default=None, help="niah: heatmap PNG")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="cuad: contracts; sec10q: questions")
    ap.add_argument("--data-dir", type=Path, default=None, help="shared data folder (default: settings)")
    ap.add_argument("--rho", type=float, default=None, help="neural: kept share of the tokens")
    ap.add_argument("--budget", type=int, default=None, help="neural: most tokens the global layers read")
    ap.add_argument(
        "--selection",
        choices=("learned", "random", "bm25"),
        default="learned",
        help="neural: which units reach the global layers (ablations)",
    )
    ap.add_argument(
        "--no-pins", action="store_true", help="neural: the network alone (no lexical passages pinned)"
    )
    ap.add_argument(
        "--checkpoint", type=Path, default=None, help="neural: checkpoint folder (default: packaged)"
    )
    return ap


def load_reader(
    mode: str | None,
    rho: float | None = None,
    selection: str = "learned",
    checkpoint=None,
    pins: bool = True,
    budget: int | None = None,
):
    from longctx.analysis.factory import get_reader
    from longctx.config import get_settings

    settings = get_settings()
    # evaluations measure reading: no document state cache on disk (a warm one would skip the encoder, and
    # a suite's thousands of documents would only churn it)
    update: dict = {"state_cache_mb": 0}
    if mode is not None:
        update["reader"] = mode
    if checkpoint is not None:
        update["model_path"] = str(checkpoint)
    settings = settings.model_copy(update=update)
    reader = get_reader(settings)
    if rho is not None or selection != "learned" or not pins or budget is not None:
        from longctx.analysis.pipeline import ReaderPipeline

        if not isinstance(reader, ReaderPipeline):
            raise ValueError("--rho / --selection / --no-pins / --budget need the trained reader")
        reader = reader.variant(rho=rho, selection=selection, pins=pins, budget=budget)
    return reader


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in OWN_OPTIONS:
        return OWN_OPTIONS[argv[0]](argv[1:])
    args = build_parser().parse_args(argv)
    try:
        reader = load_reader(
            args.reader, args.rho, args.selection, args.checkpoint, not args.no_pins, args.budget
        )
    except (RuntimeError, ValueError) as exc:
        print(f"cannot load the reader: {exc}", file=sys.stderr)
        return 2
    name = getattr(reader, "name", "reader")
    out = args.out or Path("results") / f"eval-{args.suite}-{name}.json"
    data_root = args.data_dir
    if data_root is None:
        from longctx.config import get_settings

        data_root = get_settings().data_root
    if data_root is None and args.suite != "short-contracts":
        print("shared data not found (set LONGCTX_SHARED_DATA_DIR or --data-dir)", file=sys.stderr)
        return 2

    tasks = [t.strip() for t in args.tasks.split(",")] if args.tasks else list(ALL_TASKS)
    unknown = [t for t in tasks if t not in ALL_TASKS]
    if unknown:
        print(f"unknown tasks {unknown}; valid: {', '.join(ALL_TASKS)}", file=sys.stderr)
        return 2

    def log(msg: str) -> None:
        print(msg, flush=True)

    try:
        if args.suite in ("niah", "multikey"):
            from .niah import DEFAULT_DEPTHS, DEFAULT_LENGTHS, run_niah

            near = (
                args.near_identical
                if args.near_identical is not None
                else (3 if args.suite == "multikey" else 0)
            )
            default_lengths = (131072, 1048576) if args.suite == "multikey" else DEFAULT_LENGTHS
            run_niah(
                reader,
                args.lengths or default_lengths,
                args.depths if args.depths is not None else DEFAULT_DEPTHS,
                n=args.n or 5,
                seed=args.seed,
                split=args.split,
                family=args.family,
                near_identical=near,
                data_root=data_root,
                out=out,
                png=args.png,
                log=log,
            )
        elif args.suite == "ruler":
            from .ruler import DEFAULT_LENGTHS, run_ruler

            run_ruler(
                reader,
                args.lengths or DEFAULT_LENGTHS,
                tasks,
                n=args.n or 3,
                seed=args.seed,
                split=args.split,
                data_root=data_root,
                out=out,
                log=log,
            )
        elif args.suite == "ablation":
            from .ablation import SUITES as ABLATION_SUITES
            from .ablation import run_ablation

            suites = [x.strip() for x in args.suites.split(",")] if args.suites else list(ABLATION_SUITES)
            run_ablation(
                reader,
                suites,
                niah_lengths=args.lengths or (131072, 1048576),
                niah_docs=args.n or 2,
                cuad_contracts=args.limit or 40,
                seed=args.seed,
                data_root=data_root,
                out=out,
                log=log,
            )
        elif args.suite == "cuad":
            from .cuad import run_cuad

            run_cuad(reader, args.split, data_root, top_k=args.top_k, limit=args.limit, out=out, log=log)
        elif args.suite == "cuad-questions":
            from .free_questions import run_cuad_questions

            run_cuad_questions(
                reader,
                args.split,
                n_contracts=args.n or 40,
                family=args.family,
                seed=args.seed,
                data_root=data_root,
                out=out,
                log=log,
            )
        elif args.suite == "short-contracts":
            from .free_questions import run_short_contracts

            run_short_contracts(reader, n=args.n or 40, family=args.family, seed=args.seed, out=out, log=log)
        elif args.suite == "report-facts":
            from .report_facts import run_report_facts

            run_report_facts(reader, data_root, limit=args.limit, out=out, log=log)
        else:
            from .sec10q import run_sec10q

            run_sec10q(reader, data_root, limit=args.limit, out=out, log=log)
    except FileNotFoundError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"wrote {out}" + (f" and {args.png}" if args.suite in ("niah", "multikey") and args.png else ""))
    return 0
