"""`longctx train TRAINER ...`: one entry to every trainer; each trainer parses its own options.

A trainer is imported only when chosen (most need torch and the shared data). `longctx train --config ...`
(no trainer name) is the reader trainer, as before trainers were named.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


def _reader(argv: list[str]) -> int:
    from longctx.training.reader import main

    return main(argv)


def _clause_head(argv: list[str]) -> int:
    from longctx.training.clause_head import main

    return main(argv)


def _phrase_head(argv: list[str]) -> int:
    from longctx.training.phrase_head import main

    return main(argv)


def _answer_line(argv: list[str]) -> int:
    from longctx.training.answer_line import main

    return main(argv)


def _lexical(argv: list[str]) -> int:
    from longctx.training.lexical import main

    return main(argv)


#: name -> (entry taking the trainer's own argv, what it trains)
TRAINERS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "reader": (_reader, "the long-context reader: evidence scorer, global layers, heads"),
    "answer-line": (_answer_line, "the span reader's answer line, on held-out human questions"),
    "clause-head": (_clause_head, "the clause head (41 CUAD field probes + answer calibration)"),
    "phrase-head": (_phrase_head, "the phrase head (parties, title, dates)"),
    "lexical": (_lexical, "the lexical reader's calibration (BM25 knobs, no-answer thresholds)"),
}


def usage() -> str:
    width = max(map(len, TRAINERS))
    lines = ["usage: longctx train TRAINER [options]   (longctx train TRAINER -h: its options)", ""]
    lines += [f"  {name:<{width}}  {what}" for name, (_, what) in TRAINERS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    if args[0].startswith("-"):  # `longctx train --config ...`: the reader trainer
        name, rest = "reader", args
    else:
        name, rest = args[0], args[1:]
    if name not in TRAINERS:
        print(f"unknown trainer {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    return int(TRAINERS[name][0](rest) or 0)
