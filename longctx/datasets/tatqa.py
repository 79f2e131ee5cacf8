"""TAT-QA (dev set) as uniform extractive-QA examples over a financial-report excerpt: one table + paragraphs.

**Context.** The table is rendered as plain text lines, the way a PDF text extractor shows a statement in a
10-Q (pypdf gives ``Total net sales 117,154 123,945``): one line per non-empty row, label first, then the
values; cells are joined by two spaces so cell boundaries stay visible. The paragraphs follow, each its own
block, in their ``order``. The reader answers with a line or sentence, so that is what it will see in
service.

**Evidence spans.** A citation is right when it holds the answer, so ``answers`` are the character spans of:

- span / multi-span: every occurrence of each answer string. Numbers match by value on number tokens
  (``1,496.5`` = ``$1,496.5`` = ``(1,496.5)``, sign ignored since statements show negatives in parentheses);
  other strings exact, then case-insensitively with quotes/dashes/whitespace normalised, then ignoring
  whitespace; whole words first, inside words only when nothing else matched;
- arithmetic: every occurrence of each operand of ``derivation`` (``44.1-56.7`` -> the cells holding 44.1 and
  56.7); constants such as the ``/2`` of an average or ``*100`` are not searched for;
- count: every occurrence of each item of ``derivation`` (``A##B##C``).

A question whose evidence cannot be found at all is skipped and counted, never emitted as "no answer":
every TAT-QA question is answerable. One found in part is kept, with what was missing in ``meta["missing"]``.

Data: TAT-QA (NExT++), CC BY 4.0.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

from longctx.datasets.squad import QAExample, hash_split, shared_data_root

TATQA_FILE = Path("tatqa") / "tatqa_dataset_dev.json"
ANSWER_TYPES = ("span", "multi-span", "arithmetic", "count")
CELL_SEP = "  "
_CURRENCY = frozenset({"$", "€", "£", "¥", "US$"})


# ---- table rendering --------------------------------------------------------------------------------------
def _clean(cell: str) -> str:
    return " ".join(str(cell).split())


def render_table(table: list[list[str]]) -> str:
    """The table as text lines: one per row with any non-empty cell, its non-empty cells (whitespace
    collapsed) joined by two spaces; a lone currency-symbol cell is joined to the value after it
    (``$ 1,234``, as pypdf shows it)."""
    lines = []
    for row in table:
        cells = [c for c in map(_clean, row) if c]
        merged: list[str] = []
        for cell in cells:
            if merged and merged[-1] in _CURRENCY:
                merged[-1] = f"{merged[-1]} {cell}"
            else:
                merged.append(cell)
        if merged:
            lines.append(CELL_SEP.join(merged))
    return "\n".join(lines)


def render_excerpt(item: dict) -> tuple[str, int]:
    """(context, table_chars): the rendered table, a blank line, then each paragraph as its own block in
    ``order``; ``context[:table_chars]`` is the table part."""
    table = render_table(item["table"]["table"])
    paras = [p["text"].strip() for p in sorted(item["paragraphs"], key=lambda p: int(p.get("order", 0)))]
    return "\n\n".join([table, *[p for p in paras if p]]), len(table)


# ---- number tokens ----------------------------------------------------------------------------------------
_NUM_CORE = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
# a number as written in a statement: optional sign/parenthesis and currency before, ")" / "%" after
_NUM_TOKEN_RE = re.compile(
    r"(?<![\w.,])(?:[(\-−–]\s?)?(?:(?:US)?[$€£¥]\s?)?[(\-−]?"
    rf"(?P<core>{_NUM_CORE})(?![\w])(?:\s?%)?\)?"
)
_NUMBER_ANSWER_RE = re.compile(rf"[(\-−]?\s?(?:(?:US)?[$€£¥]\s?)?[(\-−]?(?:{_NUM_CORE})\s?%?\)?")
_NUM_IN_DERIVATION_RE = re.compile(rf"(?<![\w.])(?:{_NUM_CORE})(?![\w])")
_ALWAYS_CONSTANT = frozenset({0.0, 1.0})  # "x / y - 1", "1 - x%", "0 - x": never a cell worth citing
_CONSTANTS = frozenset({*map(float, range(2, 13)), 100.0, 1000.0, 1_000_000.0})


def _value(core: str) -> float:
    return abs(float(core.replace(",", "")))


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def number_tokens(text: str) -> list[tuple[int, int, float]]:
    """(start, end, |value|) of every number token of `text`; a span covers its ``$``, ``(``, ``)``, ``%``."""
    return [(m.start(), m.end(), _value(m.group("core"))) for m in _NUM_TOKEN_RE.finditer(text)]


def parse_number(text: str) -> float | None:
    """|value| of a string that is only a number as statements write it (``$(1,234.5)``, ``12.5%``);
    None for any other string."""
    s = text.strip()
    if not _NUMBER_ANSWER_RE.fullmatch(s):
        return None
    core = re.search(_NUM_CORE, s)
    return _value(core.group()) if core else None


def derivation_operands(derivation: str) -> list[float]:
    """|values| of the numbers of an arithmetic derivation that should be found in the excerpt, in order,
    without duplicates. Constants are left out: 0 and 1 (``x / y - 1``), and a small number or power of ten
    right after ``/`` or ``*`` or right before ``*`` (an average's ``/3``, a percentage's ``*100``)."""
    out: list[float] = []
    for m in _NUM_IN_DERIVATION_RE.finditer(derivation):
        v = _value(m.group())
        before = derivation[: m.start()].rstrip()[-1:]
        after = derivation[m.end() :].lstrip()[:1]
        if v in _ALWAYS_CONSTANT or (v in _CONSTANTS and (before in ("/", "*", "×") or after in ("*", "×"))):
            continue
        if not any(_same(v, o) for o in out):
            out.append(v)
    return out


# ---- string matching --------------------------------------------------------------------------------------
_EQUIV = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00a0": " ",
    }
)


def _lower(s: str) -> str:
    """Lower case, one char per char (so offsets survive)."""
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in s)


class _Folded:
    """A text in comparison form (quotes/dashes unified, whitespace runs -> one space, lower case, optionally
    without any whitespace), with each folded char's raw index."""

    def __init__(self, raw: str, drop_space: bool) -> None:
        chars: list[str] = []
        pos: list[int] = []
        prev_space = False
        for i, c in enumerate(_lower(raw.translate(_EQUIV))):
            if c.isspace():
                if drop_space or prev_space:
                    continue
                c, prev_space = " ", True
            else:
                prev_space = False
            chars.append(c)
            pos.append(i)
        self.text = "".join(chars)
        self.pos = pos

    def raw_span(self, start: int, end: int) -> tuple[int, int]:
        return self.pos[start], self.pos[end - 1] + 1


def _fold(s: str, drop_space: bool) -> str:
    return _Folded(s, drop_space).text.strip()


def _find_all(hay: str, needle: str, whole_word: bool) -> list[tuple[int, int]]:
    out, i = [], hay.find(needle)
    while i >= 0:
        j = i + len(needle)
        left_ok = i == 0 or not (hay[i - 1].isalnum() and needle[0].isalnum())
        right_ok = j == len(hay) or not (hay[j].isalnum() and needle[-1].isalnum())
        if not whole_word or (left_ok and right_ok):
            out.append((i, j))
        i = hay.find(needle, i + 1)
    return out


class ContextIndex:
    """Finds answers in one context; the folded forms and number tokens are built once per excerpt."""

    def __init__(self, context: str) -> None:
        self.context = context
        self.numbers = number_tokens(context)
        self._folded: dict[bool, _Folded] = {}

    def folded(self, drop_space: bool) -> _Folded:
        if drop_space not in self._folded:
            self._folded[drop_space] = _Folded(self.context, drop_space)
        return self._folded[drop_space]

    def find_number(self, value: float) -> list[tuple[int, int]]:
        """Every number token equal in magnitude to `value`."""
        return [(s, e) for s, e, v in self.numbers if _same(v, value)]

    def find_text(self, answer: str) -> tuple[list[tuple[int, int]], str]:
        """(spans, pass) of every occurrence of `answer`; numbers by value first; ([], "") when absent."""
        answer = answer.strip()
        if not answer:
            return [], ""
        value = parse_number(answer)
        if value is not None:
            hits = self.find_number(value)
            if hits:
                return hits, "number"
        for whole_word in (True, False):
            hits = _find_all(self.context, answer, whole_word)
            if hits:
                return hits, "exact"
            for drop_space, name in ((False, "folded"), (True, "nospace")):
                needle = _fold(answer, drop_space)
                if not needle:
                    continue
                f = self.folded(drop_space)
                hits = [f.raw_span(s, e) for s, e in _find_all(f.text, needle, whole_word)]
                if hits:
                    return hits, name
        return [], ""


# ---- examples ---------------------------------------------------------------------------------------------
def _answer_texts(q: dict) -> list[str]:
    ans = q["answer"]
    if isinstance(ans, list):
        return [str(a) for a in ans]
    return [str(ans)]


def _evidence(index: ContextIndex, q: dict) -> tuple[list[tuple[int, int]], list[str], list[str], str]:
    """(spans, targets, missing, kind) of one question: what was looked for and what was not found."""
    atype = q["answer_type"]
    if atype in ("span", "multi-span"):
        targets, kind = [t for t in _answer_texts(q) if t.strip()], "answer"
        found = [index.find_text(t)[0] for t in targets]
    elif atype == "count":
        targets, kind = [t.strip() for t in q.get("derivation", "").split("##") if t.strip()], "items"
        found = [index.find_text(t)[0] for t in targets]
    else:
        values, kind = derivation_operands(q.get("derivation", "")), "operands"
        if not values:  # no usable derivation: the result itself may be in the excerpt
            values = [v for v in (parse_number(t) for t in _answer_texts(q)) if v is not None]
            kind = "answer"
        targets = [str(int(v)) if v.is_integer() else repr(v) for v in values]
        found = [index.find_number(v) for v in values]
    spans = sorted({s for hits in found for s in hits})
    missing = [t for t, hits in zip(targets, found, strict=True) if not hits]
    return spans, targets, missing, kind


def tatqa_examples_from_json(obj: list[dict], stats: dict[str, Counter] | None = None) -> list[QAExample]:
    """One example per locatable question of a TAT-QA-format list (``[{"table", "paragraphs",
    "questions"}]``). `stats`, when given, gets per answer type a Counter of ``located`` (all evidence
    found), ``partial`` (some found; kept) and ``skipped`` (none found; dropped)."""
    stats = stats if stats is not None else {}
    out: list[QAExample] = []
    for item in obj:
        uid = item["table"]["uid"]
        context, table_chars = render_excerpt(item)
        index = ContextIndex(context)
        for q in sorted(item["questions"], key=lambda q: int(q.get("order", 0))):
            atype = q["answer_type"]
            counter = stats.setdefault(atype, Counter())
            spans, targets, missing, kind = _evidence(index, q)
            if not spans:
                counter["skipped"] += 1
                continue
            counter["partial" if missing else "located"] += 1
            out.append(
                QAExample(
                    id=q["uid"],
                    question=q["question"],
                    context=context,
                    answers=spans,
                    unanswerable=False,
                    group=uid,
                    source="tatqa",
                    meta={
                        "answer_type": atype,
                        "answer_from": q.get("answer_from", ""),
                        "scale": q.get("scale", ""),
                        "answer_texts": _answer_texts(q),
                        "derivation": q.get("derivation", ""),
                        "rel_paragraphs": list(q.get("rel_paragraphs", [])),
                        "evidence": kind,  # what `answers` point at: answer | operands | items
                        "targets": targets,
                        "missing": missing,
                        "table_chars": table_chars,
                    },
                )
            )
    return out


def _load_tatqa_json(data_root: Path | str | None) -> list[dict]:
    path = shared_data_root(data_root) / TATQA_FILE
    if not path.exists():
        raise FileNotFoundError(f"TAT-QA file not found: {path}")
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def tatqa_examples(
    data_root: Path | str | None = None, stats: dict[str, Counter] | None = None
) -> list[QAExample]:
    """The locatable questions of ``tatqa/tatqa_dataset_dev.json``; see `tatqa_examples_from_json`."""
    return tatqa_examples_from_json(_load_tatqa_json(data_root), stats)


def tatqa_stats(data_root: Path | str | None = None) -> dict[str, dict[str, int]]:
    """Answer type -> {"located", "partial", "skipped", "total"} over the shared TAT-QA dev file."""
    stats: dict[str, Counter] = {}
    tatqa_examples(data_root, stats)
    return {
        t: {k: stats[t][k] for k in ("located", "partial", "skipped")} | {"total": sum(stats[t].values())}
        for t in (*ANSWER_TYPES, *sorted(set(stats) - set(ANSWER_TYPES)))
        if t in stats
    }


def tatqa_split(examples: list[QAExample], eval_fraction: float = 0.2) -> dict[str, list[QAExample]]:
    """{"train": [...], "eval": [...]}: whole excerpts to one side; the ``round(eval_fraction * n)`` excerpt
    uids with the smallest sha256 go to eval (the same on every machine)."""
    groups = sorted({ex.group for ex in examples})
    eval_groups = hash_split(groups, round(eval_fraction * len(groups)))
    return {
        "train": [ex for ex in examples if ex.group not in eval_groups],
        "eval": [ex for ex in examples if ex.group in eval_groups],
    }
