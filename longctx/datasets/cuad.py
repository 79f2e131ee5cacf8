"""CUAD v1 as the project uses it: the contract-level train/validation split, the contract files and their
expert labels, and the labelled clauses located in each contract's text.

**Split.** Whole contracts go to one side, so no clause of a validation contract is ever seen in training.
The split is a pure function of the file names (sha256 of each name), so it is the same on every machine and
in every run.

**Spans.** CUAD's SQuAD-style JSON is not shipped, only the clause texts (a Python-list string per contract
and category). Each clause is located in the contract after normalisation (whitespace runs -> one space,
curly quotes -> straight, dash variants -> "-") and mapped back to exact character offsets of the raw text,
so `text[start:end]` normalises to the clause. Three passes, stopping at the first hit:

1. ``exact``: normalised clause found in the normalised text;
2. ``casefold``: the same, case-insensitive;
3. ``nospace``: the same, case-insensitive, ignoring every whitespace character (PDF-to-text spacing slips).

Clauses with "<omitted>" gaps are found piece by piece, in order; their span runs from the first piece's
start to the last piece's end (``ClauseSpan.pieces`` > 1, so `text[start:end]` holds the gap text too).

    longctx eval cuad-spans            # full run over ../shared/data/cuad, prints the recovery stats
    longctx eval cuad-spans --json     # the same as JSON

Data: CUAD v1, The Atticus Project (CC BY 4.0).
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from longctx.analysis.schemas import load_schema
from longctx.config import get_settings

csv.field_size_limit(sys.maxsize)

# ---- split ------------------------------------------------------------------------------------------------
VALIDATION_SIZE = 50
SPLITS = ("train", "validation")


def contract_id(name: str) -> str:
    """A contract's id: its file name without folder and extension (txt, pdf and CSV rows agree on it)."""
    base = Path(name.strip().rstrip("'\"")).name
    stem, dot, ext = base.rpartition(".")
    return stem if dot and ext.lower() in ("txt", "pdf") else base


def _rank_key(cid: str) -> tuple[str, str]:
    return hashlib.sha256(cid.encode("utf-8")).hexdigest(), cid


def cuad_split(names: Iterable[str], validation_size: int = VALIDATION_SIZE) -> dict[str, list[str]]:
    """{"train": [...], "validation": [...]} of contract ids, each sorted; the `validation_size` ids with the
    smallest sha256 go to validation (with CUAD's 409 contracts: 359 train / 50 validation)."""
    ids = sorted({contract_id(n) for n in names})
    validation = set(sorted(ids, key=_rank_key)[:validation_size])
    return {
        "train": [c for c in ids if c not in validation],
        "validation": [c for c in ids if c in validation],
    }


def split_of(name: str, names: Iterable[str], validation_size: int = VALIDATION_SIZE) -> str:
    """Which side of the split `name` falls on, given the full list of contract names."""
    cid = contract_id(name)
    for split, members in cuad_split(names, validation_size).items():
        if cid in members:
            return split
    raise KeyError(f"{name!r} is not among the given contracts")


# ---- spans ------------------------------------------------------------------------------------------------
METHODS = ("exact", "casefold", "nospace")
OMITTED = "<omitted>"

# Length-preserving character equivalences (applied with str.translate on both sides).
_EQUIV = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "`": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00ad": "-",
    }
)
_TOKEN_RE = re.compile(r"\s+|\S+")


def normalise(text: str) -> str:
    """Comparison form: equivalent characters unified, whitespace runs -> one space, stripped."""
    return " ".join(text.translate(_EQUIV).split())


def _safe_lower(s: str) -> str:
    low = s.lower()
    return low if len(low) == len(s) else "".join(c.lower() if len(c.lower()) == 1 else c for c in s)


class NormalisedText:
    """A raw text in comparison form, with each normalised character's raw index (for offset mapping)."""

    def __init__(self, raw: str) -> None:
        self.raw = raw
        out: list[str] = []
        pos: list[int] = []
        translated = raw.translate(_EQUIV)
        for m in _TOKEN_RE.finditer(translated):
            if m.group()[0].isspace():
                out.append(" ")
                pos.append(m.start())
            else:
                out.append(m.group())
                pos.extend(range(m.start(), m.end()))
        self.norm = "".join(out)
        self.pos = np.asarray(pos, dtype=np.int64)
        self._lower: str | None = None
        self._nospace: tuple[str, np.ndarray] | None = None

    @property
    def lower(self) -> str:
        if self._lower is None:
            self._lower = _safe_lower(self.norm)
        return self._lower

    @property
    def nospace(self) -> tuple[str, np.ndarray]:
        if self._nospace is None:
            keep = [i for i, c in enumerate(self.lower) if c != " "]
            self._nospace = ("".join(self.lower[i] for i in keep), self.pos[np.asarray(keep, dtype=np.int64)])
        return self._nospace

    def _find_pieces(self, hay: str, pos: np.ndarray, pieces: list[str]) -> tuple[int, int] | None:
        cursor, start, end = 0, None, None
        for piece in pieces:
            i = hay.find(piece, cursor)
            if i < 0:
                return None
            if start is None:
                start = i
            cursor = end = i + len(piece)
        assert start is not None and end is not None
        return int(pos[start]), int(pos[end - 1]) + 1

    def locate(self, clause: str) -> tuple[int, int, str, int] | None:
        """(raw_start, raw_end, method, n_pieces) of the clause's first occurrence, or None."""
        pieces = [p for p in (normalise(x) for x in clause.split(OMITTED)) if p]
        if not pieces:
            return None
        hit = self._find_pieces(self.norm, self.pos, pieces)
        if hit:
            return (*hit, "exact", len(pieces))
        hit = self._find_pieces(self.lower, self.pos, [_safe_lower(p) for p in pieces])
        if hit:
            return (*hit, "casefold", len(pieces))
        hay, pos = self.nospace
        squeezed = [p for p in (_safe_lower(x).replace(" ", "") for x in pieces) if p]
        hit = self._find_pieces(hay, pos, squeezed) if squeezed else None
        if hit:
            return (*hit, "nospace", len(pieces))
        return None


@dataclass(frozen=True)
class ClauseSpan:
    start: int  # raw char offsets into ContractSpans.text, [start, end)
    end: int
    clause: str  # the label text from master_clauses.csv
    method: str  # one of METHODS
    pieces: int = 1  # > 1 when the clause had "<omitted>" gaps


@dataclass
class ContractSpans:
    contract_id: str
    split: str  # "train" | "validation"
    path: Path
    text: str
    spans: dict[str, list[ClauseSpan]]  # category -> located clauses (document order); [] when none
    missing: dict[str, list[str]]  # category -> labelled clauses that were not found
    labelled: dict[str, bool]  # category -> the contract has at least one clause for it

    def is_no_answer(self, category: str) -> bool:
        """True when the contract has no clause for the category (a no-answer example for it)."""
        return not self.labelled[category]


@dataclass
class RecoveryStats:
    """Clauses found / labelled, per split and category, and which pass found them."""

    found: Counter = field(default_factory=Counter)  # (split, category) -> n found
    total: Counter = field(default_factory=Counter)  # (split, category) -> n labelled clauses
    methods: Counter = field(default_factory=Counter)  # (split, method) -> n found
    contracts: Counter = field(default_factory=Counter)  # split -> n labelled contracts
    unlabelled_contracts: list[str] = field(default_factory=list)  # txt files without a CSV row
    rows_without_text: list[str] = field(default_factory=list)  # CSV rows without a txt file

    def add(self, other: RecoveryStats) -> None:
        for mine, theirs in (
            (self.found, other.found),
            (self.total, other.total),
            (self.methods, other.methods),
            (self.contracts, other.contracts),
        ):
            mine.update(theirs)

    def rate(self, split: str | None = None, category: str | None = None) -> float:
        def ok(k: tuple[str, str]) -> bool:
            return (split is None or k[0] == split) and (category is None or k[1] == category)

        tot = sum(v for k, v in self.total.items() if ok(k))
        fnd = sum(v for k, v in self.found.items() if ok(k))
        return fnd / tot if tot else float("nan")

    def counts(self, split: str | None = None, category: str | None = None) -> tuple[int, int]:
        def ok(k: tuple[str, str]) -> bool:
            return (split is None or k[0] == split) and (category is None or k[1] == category)

        return (
            sum(v for k, v in self.found.items() if ok(k)),
            sum(v for k, v in self.total.items() if ok(k)),
        )

    def as_dict(self) -> dict:
        splits = sorted({s for s, _ in self.total})
        cats = list(dict.fromkeys(c for _, c in self.total))
        out: dict = {"overall": dict(zip(("found", "total"), self.counts(), strict=True))}
        for s in splits:
            out[s] = {
                "contracts": self.contracts[s],
                "found": self.counts(s)[0],
                "total": self.counts(s)[1],
                "methods": {m: self.methods[(s, m)] for m in METHODS},
                "categories": {
                    c: dict(zip(("found", "total"), self.counts(s, c), strict=True))
                    for c in cats
                    if self.total[(s, c)]
                },
            }
        out["unlabelled_contracts"] = len(self.unlabelled_contracts)
        out["rows_without_text"] = len(self.rows_without_text)
        return out

    def summary(self) -> str:
        lines = []
        f, t = self.counts()
        lines.append(f"overall: {f}/{t} clauses located ({f / max(t, 1):.1%})")
        splits = sorted({s for s, _ in self.total})
        for s in splits:
            f, t = self.counts(s)
            meth = ", ".join(f"{m} {self.methods[(s, m)]}" for m in METHODS)
            lines.append(
                f"{s}: {self.contracts[s]} contracts, {f}/{t} clauses ({f / max(t, 1):.1%}); by pass: {meth}"
            )
        lines.append(
            f"txt files without labels: {len(self.unlabelled_contracts)}; "
            f"label rows without txt: {len(self.rows_without_text)}"
        )
        cats = list(dict.fromkeys(c for _, c in self.total))
        lines.append("")
        lines.append(f"{'category':40s} " + " ".join(f"{s:>18s}" for s in splits))
        for c in cats:
            cells = []
            for s in splits:
                f, t = self.counts(s, c)
                cells.append(f"{f:5d}/{t:<5d} {f / t if t else float('nan'):6.1%}")
            lines.append(f"{c:40s} " + " ".join(f"{x:>18s}" for x in cells))
        return "\n".join(lines)


def cuad_dir(data_root: Path | str | None = None) -> Path:
    root = Path(data_root) if data_root is not None else get_settings().data_root
    if root is None:
        raise FileNotFoundError(
            "no shared data folder (set LONGCTX_SHARED_DATA_DIR or provide ../shared/data)"
        )
    root = Path(root)
    return root / "cuad" if (root / "cuad").is_dir() else root


def read_contract(path: Path) -> str:
    """A contract's text exactly as offsets refer to it (UTF-8, newlines kept as they are in the file)."""
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read()


def contract_paths(data_root: Path | str | None = None) -> dict[str, Path]:
    """Contract id -> txt path, for every txt file in cuad/txt."""
    return {contract_id(p.name): p for p in sorted((cuad_dir(data_root) / "txt").glob("*.txt"))}


def split_ids(data_root: Path | str | None = None) -> dict[str, list[str]]:
    """The shared contract-level split (359 train / 50 validation) of every txt file, as ids of
    `contract_paths` (re-applying `contract_id` strips a trailing space some CUAD names have)."""
    paths = contract_paths(data_root)
    sides = cuad_split(paths)
    side_of = {cid: s for s, members in sides.items() for cid in members}
    out: dict[str, list[str]] = {s: [] for s in sides}
    for cid in sorted(paths):
        out[side_of[contract_id(cid)]].append(cid)
    return out


def load_labels(data_root: Path | str | None = None) -> dict[str, dict[str, list[str]]]:
    """Contract id -> category -> labelled clause texts (empty list: no clause for the category)."""
    keys = [q.key for q in load_schema("contract")]
    out: dict[str, dict[str, list[str]]] = {}
    with open(cuad_dir(data_root) / "master_clauses.csv", encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            cid = contract_id(row["Filename"])
            labels = {}
            for key in keys:
                raw = (row.get(key) or "").strip()
                values = ast.literal_eval(raw) if raw else []
                if isinstance(values, str):
                    values = [values]
                labels[key] = [str(v) for v in values if str(v).strip()]
            out[cid] = labels
    return out


# ---- labelled contracts with located gold clauses (evaluation and head training) ---------------------
@dataclass
class CuadDoc:
    cid: str
    text: str
    gold: dict[str, list[tuple[int, int]]]  # category -> located spans
    labelled: dict[str, bool]  # category -> has any gold clause (located or not)
    stats: dict[str, int] = field(default_factory=dict)


def load_cuad(root: Path, ids: set[str] | None = None) -> list[CuadDoc]:
    """Labelled CUAD contracts (optionally only `ids`), with their gold clauses located in the text."""
    keys = [q.key for q in load_schema("contract")]
    txt = {contract_id(p.name): p for p in (root / "txt").glob("*.txt")}
    docs = []
    with open(root / "master_clauses.csv", encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            cid = contract_id(row["Filename"])
            if cid not in txt or (ids is not None and cid not in ids):
                continue
            text = txt[cid].read_text(encoding="utf-8")
            located = NormalisedText(text)
            gold, labelled, found, total = {}, {}, 0, 0
            for key in keys:
                clauses = [c for c in ast.literal_eval(row[key] or "[]") if c.strip()]
                labelled[key] = bool(clauses)
                spans = [hit[:2] for hit in map(located.locate, clauses) if hit]
                gold[key] = spans
                total += len(clauses)
                found += len(spans)
            docs.append(CuadDoc(cid, text, gold, labelled, {"clauses": total, "located": found}))
    docs.sort(key=lambda d: d.cid)
    return docs


def recover_contract(
    cid: str, path: Path, split: str, labels: dict[str, list[str]]
) -> tuple[ContractSpans, RecoveryStats]:
    text = read_contract(path)
    nt = NormalisedText(text)
    stats = RecoveryStats()
    spans: dict[str, list[ClauseSpan]] = {}
    missing: dict[str, list[str]] = {}
    for category, clauses in labels.items():
        found: list[ClauseSpan] = []
        lost: list[str] = []
        for clause in clauses:
            hit = nt.locate(clause)
            if hit is None:
                lost.append(clause)
                continue
            s, e, method, pieces = hit
            found.append(ClauseSpan(s, e, clause, method, pieces))
            stats.methods[(split, method)] += 1
        found.sort(key=lambda c: (c.start, c.end))
        spans[category] = found
        missing[category] = lost
        stats.found[(split, category)] += len(found)
        stats.total[(split, category)] += len(clauses)
    stats.contracts[split] += 1
    labelled = {k: bool(v) for k, v in labels.items()}
    return ContractSpans(cid, split, path, text, spans, missing, labelled), stats


def recover_spans(
    data_root: Path | str | None = None,
    split: str | None = None,
    ids: list[str] | None = None,
) -> tuple[list[ContractSpans], RecoveryStats]:
    """Located clause spans of every labelled contract (optionally only one split, or only `ids`),
    sorted by contract id, and the recovery statistics."""
    paths = contract_paths(data_root)
    side_of = {cid: s for s, members in split_ids(data_root).items() for cid in members}
    labels = load_labels(data_root)
    stats = RecoveryStats()
    stats.unlabelled_contracts = sorted(set(paths) - set(labels))
    stats.rows_without_text = sorted(set(labels) - set(paths))
    wanted = set(ids) if ids is not None else None
    out: list[ContractSpans] = []
    for cid in sorted(set(paths) & set(labels)):
        if (wanted is not None and cid not in wanted) or (split is not None and side_of[cid] != split):
            continue
        cs, st = recover_contract(cid, paths[cid], side_of[cid], labels[cid])
        out.append(cs)
        stats.add(st)
    return out, stats


def main(argv: list[str] | None = None) -> int:
    """`longctx eval cuad-spans`: how many labelled clauses are found in their contract's text."""
    ap = argparse.ArgumentParser(prog="longctx eval cuad-spans", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", type=Path, default=None)
    ap.add_argument("--split", choices=("train", "validation"), default=None)
    ap.add_argument("--json", action="store_true", help="print the stats as JSON")
    ap.add_argument("--show-missing", type=int, default=0, help="print up to N clauses that were not found")
    args = ap.parse_args(argv)
    try:
        contracts, stats = recover_spans(args.data_root, split=args.split)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(stats.as_dict(), indent=2) if args.json else stats.summary())
    shown = 0
    for cs in contracts:
        for cat, lost in cs.missing.items():
            for clause in lost:
                if shown >= args.show_missing:
                    break
                print(f"\n[{cs.contract_id} | {cat}] {clause[:300]!r}")
                shown += 1
    return 0
