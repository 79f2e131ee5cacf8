"""`longctx eval SUITE ...`: evaluate a reader, print a table and write JSON.

niah, ruler, cuad, sec10q and ablation share the options below; `baseline` (the lexical reader's CUAD report)
and `cuad-spans` (how many CUAD clauses are located in the text) parse their own (`longctx eval baseline -h`).
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


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="longctx eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("suite", choices=("niah", "ruler", "cuad", "sec10q", "ablation", *OWN_OPTIONS))
    ap.add_argument("--reader", choices=("lexical", "neural", "auto"), default=None, help="default: settings")
    ap.add_argument("--lengths", type=parse_lengths, default=None, help="e.g. 2K,8K,32K,128K")
    ap.add_argument("--depths", type=parse_floats, default=None, help="niah: e.g. 0,0.25,0.5,0.75,1")
    ap.add_argument("--tasks", default=None, help="ruler: comma-separated subset of the tasks")
    ap.add_argument("--n", type=int, default=3, help="examples per cell (niah) / per task and length (ruler)")
    ap.add_argument("--split", choices=("train", "validation"), default="validation")
    ap.add_argument(
        "--top-k", type=int, default=20, help="cuad: answers per question (CUAD scores its 20-best lists)"
    )
    ap.add_argument("--out", type=Path, default=None, help="JSON (default results/eval-SUITE-READER.json)")
    ap.add_argument("--png", type=Path, default=None, help="niah: heatmap PNG")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="cuad: contracts; sec10q: questions")
    ap.add_argument("--data-dir", type=Path, default=None, help="shared data folder (default: settings)")
    ap.add_argument(
        "--rho", type=float, default=None, help="neural: kept-token ratio (default: checkpoint's)"
    )
    ap.add_argument(
        "--selection",
        choices=("learned", "unpinned", "random", "bm25"),
        default="learned",
        help="neural: which tokens reach the global layers (ablations)",
    )
    ap.add_argument(
        "--checkpoint", type=Path, default=None, help="neural: checkpoint folder (default: packaged)"
    )
    return ap


def load_reader(mode: str | None, rho: float | None = None, selection: str = "learned", checkpoint=None):
    from longctx.analysis.factory import get_reader
    from longctx.config import get_settings

    settings = get_settings()
    update = {}
    if mode is not None:
        update["reader"] = mode
    if checkpoint is not None:
        update["model_path"] = str(checkpoint)
    if update:
        settings = settings.model_copy(update=update)
    reader = get_reader(settings)
    if rho is not None or selection != "learned":
        from longctx.analysis.neural import NeuralReader

        if not isinstance(reader, NeuralReader):
            raise ValueError("--rho / --selection need the neural reader")
        reader = NeuralReader(reader.model, rho=rho, selection=selection, max_span_len=reader.max_span_len)
    return reader


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in OWN_OPTIONS:
        return OWN_OPTIONS[argv[0]](argv[1:])
    args = build_parser().parse_args(argv)
    try:
        reader = load_reader(args.reader, args.rho, args.selection, args.checkpoint)
    except (RuntimeError, ValueError) as exc:
        print(f"cannot load the reader: {exc}", file=sys.stderr)
        return 2
    name = getattr(reader, "name", "reader")
    out = args.out or Path("results") / f"eval-{args.suite}-{name}.json"
    data_root = args.data_dir
    if data_root is None:
        from longctx.config import get_settings

        data_root = get_settings().data_root
    if data_root is None:
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
        if args.suite == "niah":
            from .niah import DEFAULT_DEPTHS, DEFAULT_LENGTHS, run_niah

            run_niah(
                reader,
                args.lengths or DEFAULT_LENGTHS,
                args.depths if args.depths is not None else DEFAULT_DEPTHS,
                n=args.n,
                seed=args.seed,
                split=args.split,
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
                n=args.n,
                seed=args.seed,
                split=args.split,
                data_root=data_root,
                out=out,
                log=log,
            )
        elif args.suite == "ablation":
            from .ablation import run_ablation

            run_ablation(
                reader,
                args.lengths or (32768,),
                tasks,
                n=args.n,
                seed=args.seed,
                split=args.split,
                data_root=data_root,
                out=out,
                log=log,
            )
        elif args.suite == "cuad":
            from .cuad import run_cuad

            run_cuad(reader, args.split, data_root, top_k=args.top_k, limit=args.limit, out=out, log=log)
        else:
            from .sec10q import run_sec10q

            run_sec10q(reader, data_root, limit=args.limit, out=out, log=log)
    except FileNotFoundError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"wrote {out}" + (f" and {args.png}" if args.suite == "niah" and args.png else ""))
    return 0
