"""RULER-family synthetic retrieval tasks on real haystack text (CUAD contracts).

Tasks (after RULER, Hsieh et al. 2024):

- ``single``: one needle "The special magic number for {key} is {value}."; answer: the value.
- ``multi_key``: the target needle plus distractor needles with other keys; answer: the target's value.
- ``multi_value``: several needles with the same key and different values; answers: every value.
- ``multi_query``: several keys are asked at once (plus distractors); answers: each asked key's value.
- ``variable_tracking``: a chain "VAR A = 12345.", "VAR B = VAR A.", ... plus a distractor chain with another
  value; question: which variables are assigned 12345; answers: the chain's variable names (at their
  assignments).

The haystack is the concatenation of CUAD contract texts of ONE side of the shared contract split (``split``:
"train" for training data, "validation" for evaluation), starting at a seeded contract and cut at a sentence
boundary to reach the target length in reader tokens. Needles go in at sentence boundaries; the first answer
needle sits at ``depth`` (fraction of the text), the others at seeded random depths (variable-tracking
statements keep their chain order). Every example is a pure function of (task, target_tokens, depth, seed,
split, haystack) and its `length_tokens` is measured with the reader tokenizer.
"""

from __future__ import annotations

import bisect
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from longctx.model.tokenization import load_tokenizer, tokenize_text

from .cuad import contract_paths, read_contract, split_ids

TASKS = ("single", "multi_key", "multi_value", "multi_query", "variable_tracking")
DOC_SEPARATOR = "\n\n"

# fmt: off
_ADJ = [
    "amber", "ancient", "brave", "bright", "calm", "clever", "crimson", "curious", "dusty", "eager",
    "silent", "fuzzy", "gentle", "golden", "hollow", "humble", "icy", "jolly", "lucky", "mellow",
    "misty", "noble", "odd", "pale", "proud", "quiet", "rapid", "rustic", "scarlet", "shiny", "sleepy",
    "solid", "swift", "tidy", "velvet", "vivid", "wandering", "wild", "wooden", "young"
]
# fmt: on
# fmt: off
_NOUN = [
    "anchor", "badger", "beacon", "canyon", "cedar", "comet", "falcon", "garden", "glacier", "harbor",
    "island", "kettle", "lantern", "meadow", "mirror", "orchard", "otter", "pebble", "pepper", "pigeon",
    "quartz", "raven", "river", "saddle", "sparrow", "spruce", "summit", "thistle", "tiger", "tower",
    "tulip", "valley", "walnut", "willow", "wizard", "yacht", "zephyr", "lagoon", "marble"
]
# fmt: on

_SENTENCE_END = re.compile(r"(?<=[.!?;:])[\"')\]]*\s+")
_PARAGRAPH = re.compile(r"\n\s*\n")
_LINE = re.compile(r"\n")


@dataclass
class NeedleExample:
    text: str
    question: str
    answers: list[tuple[int, int]]  # exact [start, end) char spans of every answer in `text`
    task: str
    length_tokens: int  # measured with the reader tokenizer (or estimated when measure=False)
    depth: float  # requested depth of the first answer needle
    needles: list[tuple[int, int]] = field(default_factory=list)  # spans of all inserted needle sentences
    answer_texts: list[str] = field(default_factory=list)
    seed: int = 0
    split: str = "train"
    target_tokens: int = 0


# ---- haystack ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _cuad_haystack(root: str, split: str) -> tuple[str, ...]:
    paths = contract_paths(root)
    ids = split_ids(root)[split]
    return tuple(read_contract(paths[c]).strip() for c in ids)


def cuad_haystack(split: str = "train", data_root: Path | str | None = None) -> tuple[str, ...]:
    """Contract texts of one side of the shared CUAD split (sorted by id), each stripped."""
    if split not in ("train", "validation"):
        raise ValueError(f"split must be 'train' or 'validation', not {split!r}")
    from .cuad import cuad_dir

    return _cuad_haystack(str(cuad_dir(data_root)), split)


def _count_tokens(text: str) -> int:
    return len(tokenize_text(text))


@lru_cache(maxsize=16)
def _calibrate(sample: str) -> float:
    """Characters per reader token, measured on a haystack sample."""
    n = _count_tokens(sample)
    return len(sample) / max(n, 1)


def chars_per_token(docs: Sequence[str], sample_chars: int = 200_000) -> float:
    parts, total = [], 0
    for d in docs:
        parts.append(d)
        total += len(d)
        if total >= sample_chars:
            break
    sample = DOC_SEPARATOR.join(parts)[:sample_chars]
    return _calibrate(sample)


def _take_haystack(docs: Sequence[str], first: int, n_chars: int) -> str:
    """About n_chars of concatenated docs starting at docs[first] (cycling), cut at a sentence boundary."""
    parts: list[str] = []
    total = 0
    i = first
    while total < n_chars:
        d = docs[i % len(docs)]
        parts.append(d)
        total += len(d) + len(DOC_SEPARATOR)
        i += 1
    text = DOC_SEPARATOR.join(parts)
    if len(text) <= n_chars:
        return text
    bounds = _boundaries(text)
    j = bisect.bisect_right(bounds, n_chars) - 1
    cut = bounds[j] if j >= 0 and bounds[j] > n_chars * 0.9 else n_chars
    return text[:cut].rstrip()


def _boundaries(text: str) -> list[int]:
    """Sentence starts (positions right after sentence-ending punctuation + whitespace, or a blank line)."""
    out = {m.end() for m in _SENTENCE_END.finditer(text)} | {m.end() for m in _PARAGRAPH.finditer(text)}
    out.add(0)
    out.add(len(text))
    return sorted(out)


def _nearest(bounds: list[int], target: float) -> int:
    i = bisect.bisect_left(bounds, target)
    cands = [bounds[j] for j in (i - 1, i) if 0 <= j < len(bounds)]
    return min(cands, key=lambda b: abs(b - target))


def _snap(text: str, bounds: list[int], target: float) -> int:
    """A sentence boundary near target; a line break or a space when no sentence boundary is close."""
    tol = max(0.01 * len(text), 50)
    b = _nearest(bounds, target)
    if abs(b - target) <= tol:
        return b
    t = int(min(max(target, 0), len(text)))
    lo, hi = max(0, t - int(tol)), min(len(text), t + int(tol))
    for pat in (_LINE, re.compile(r" ")):
        cands = [m.end() for m in pat.finditer(text, lo, hi)]
        if cands:
            return min(cands, key=lambda c: abs(c - target))
    return b


# ---- needles ----------------------------------------------------------------------------------------------
@dataclass
class _Needle:
    sentence: str
    answer_parts: list[tuple[int, int]]  # spans of answers inside the sentence
    depth: float
    order: int  # tie-break at equal positions (chain order)
    chain: int | None = None  # variable-tracking chain id; statements of one chain stay in order


def _keys(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        k = f"{rng.choice(_ADJ)}-{rng.choice(_NOUN)}"
        if k not in out:
            out.append(k)
    return out


def _values(rng: random.Random, n: int, digits: int = 7) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        v = str(rng.randrange(10 ** (digits - 1), 10**digits))
        if v not in out:
            out.append(v)
    return out


def _var_names(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        v = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(5))
        if v not in out:
            out.append(v)
    return out


def _kv_needle(key: str, value: str, depth: float, order: int, is_answer: bool) -> _Needle:
    s = f"The special magic number for {key} is {value}."
    i = s.rindex(value)
    return _Needle(s, [(i, i + len(value))] if is_answer else [], depth, order)


def _join_keys(keys: list[str]) -> str:
    return keys[0] if len(keys) == 1 else ", ".join(keys[:-1]) + " and " + keys[-1]


def plan_task(
    task: str,
    rng: random.Random,
    depth: float,
    n_distractors: int,
    n_values: int,
    n_queries: int,
    n_hops: int,
    n_chains: int,
) -> tuple[str, list[_Needle]]:
    """The question and the needles (answer needle first, at `depth`)."""
    if task == "single":
        (key,), (val,) = _keys(rng, 1), _values(rng, 1)
        return f"What is the special magic number for {key}?", [_kv_needle(key, val, depth, 0, True)]
    if task == "multi_key":
        keys, vals = _keys(rng, 1 + n_distractors), _values(rng, 1 + n_distractors)
        needles = [_kv_needle(keys[0], vals[0], depth, 0, True)]
        needles += [
            _kv_needle(k, v, rng.random(), i + 1, False)
            for i, (k, v) in enumerate(zip(keys[1:], vals[1:], strict=True))
        ]
        return f"What is the special magic number for {keys[0]}?", needles
    if task == "multi_value":
        (key,), vals = _keys(rng, 1), _values(rng, n_values)
        needles = [_kv_needle(key, vals[0], depth, 0, True)]
        needles += [_kv_needle(key, v, rng.random(), i + 1, True) for i, v in enumerate(vals[1:])]
        return f"What are all the special magic numbers for {key}?", needles
    if task == "multi_query":
        keys, vals = _keys(rng, n_queries + n_distractors), _values(rng, n_queries + n_distractors)
        needles = [
            _kv_needle(k, v, depth if i == 0 else rng.random(), i, i < n_queries)
            for i, (k, v) in enumerate(zip(keys, vals, strict=True))
        ]
        return f"What are the special magic numbers for {_join_keys(keys[:n_queries])}?", needles
    if task == "variable_tracking":
        names = _var_names(rng, n_hops * n_chains)
        vals = _values(rng, n_chains, digits=5)
        needles: list[_Needle] = []
        order = 0
        for c in range(n_chains):
            chain = names[c * n_hops : (c + 1) * n_hops]
            if c == 0:
                lo = depth
                depths = [depth] + sorted(lo + (1 - lo) * rng.random() for _ in range(n_hops - 1))
            else:
                depths = sorted(rng.random() for _ in range(n_hops))
            for h, (name, d) in enumerate(zip(chain, depths, strict=True)):
                rhs = vals[c] if h == 0 else f"VAR {chain[h - 1]}"
                s = f"VAR {name} = {rhs}."
                parts = [(4, 4 + len(name))] if c == 0 else []
                needles.append(_Needle(s, parts, d, order, chain=c))
                order += 1
        return f"Which variables are assigned the value {vals[0]}?", needles
    raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")


def _insert(hay: str, needles: list[_Needle]) -> tuple[str, list[tuple[int, int]], list[tuple[int, int]]]:
    """Splice needles into hay; returns text, needle spans and answer spans (both in needle order)."""
    bounds = _boundaries(hay)
    total = sum(len(n.sentence) + 1 for n in needles)
    final_len = len(hay) + total
    pos: list[int] = [0] * len(needles)
    # Non-anchor needles first (their haystack positions), then the anchor (needle 0) compensated for the
    # needles that end up before it, so its offset in the final text is close to depth * len(text).
    for i, n in enumerate(needles[1:], start=1):
        pos[i] = _snap(hay, bounds, n.depth * len(hay))
    target = needles[0].depth * final_len
    h = target
    for _ in range(3):
        before = sum(len(n.sentence) + 1 for i, n in enumerate(needles[1:], 1) if pos[i] < h)
        h = max(0.0, min(float(len(hay)), target - before))
    pos[0] = _snap(hay, bounds, h)
    # a chain's statements (variable tracking) keep their order: positions non-decreasing along the chain
    last: dict[int, int] = {}
    for i, n in enumerate(needles):
        if n.chain is not None:
            pos[i] = max(pos[i], last.get(n.chain, 0))
            last[n.chain] = pos[i]
    order = sorted(range(len(needles)), key=lambda i: (pos[i], needles[i].order))
    out: list[str] = []
    cursor = 0
    length = 0
    spans: list[tuple[int, int]] = [(0, 0)] * len(needles)
    for i in order:
        p = pos[i]
        out.append(hay[cursor:p])
        length += p - cursor
        cursor = p
        sep_before = "" if p == 0 or hay[p - 1].isspace() else " "
        sep_after = " " if p < len(hay) and not hay[p].isspace() else ""
        if p == len(hay):
            sep_after = ""
        piece = sep_before + needles[i].sentence + sep_after
        start = length + len(sep_before)
        spans[i] = (start, start + len(needles[i].sentence))
        out.append(piece)
        length += len(piece)
    out.append(hay[cursor:])
    text = "".join(out)
    answers = [(spans[i][0] + a, spans[i][0] + b) for i, n in enumerate(needles) for a, b in n.answer_parts]
    return text, spans, answers


def make_needle_example(
    task: str,
    target_tokens: int,
    depth: float,
    seed: int,
    split: str = "train",
    data_root: Path | str | None = None,
    haystack: Sequence[str] | None = None,
    *,
    n_distractors: int = 3,
    n_values: int = 4,
    n_queries: int = 3,
    n_hops: int = 4,
    n_chains: int = 2,
    measure: bool = True,
    tolerance: float = 0.03,
) -> NeedleExample:
    """One synthetic example of about `target_tokens` reader tokens (2K .. 1M) with its answer spans.

    `haystack`: documents to use instead of the CUAD contracts of `split` (tests, other corpora).
    `measure`: count tokens with the reader tokenizer and rescale once or twice until within `tolerance`;
    when False the length is the calibrated chars-per-token estimate.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    if not 0.0 <= depth <= 1.0:
        raise ValueError("depth must be within [0, 1]")
    if target_tokens < 16:
        raise ValueError("target_tokens must be >= 16")
    docs = tuple(haystack) if haystack is not None else cuad_haystack(split, data_root)
    if not docs:
        raise ValueError("empty haystack")
    rng = random.Random(f"{task}|{split}|{seed}")
    first = rng.randrange(len(docs))
    question, needles = plan_task(task, rng, depth, n_distractors, n_values, n_queries, n_hops, n_chains)
    cpt = chars_per_token(docs)
    needle_chars = sum(len(n.sentence) + 1 for n in needles)
    budget = max(int(target_tokens * cpt) - needle_chars, 64)
    text = ""
    spans: list[tuple[int, int]] = []
    answers: list[tuple[int, int]] = []
    n_tokens = 0
    for _attempt in range(3):
        hay = _take_haystack(docs, first, budget)
        text, spans, answers = _insert(hay, needles)
        n_tokens = _count_tokens(text) if measure else round(len(text) / cpt)
        if not measure or abs(n_tokens - target_tokens) <= tolerance * target_tokens:
            break
        budget = max(int(budget * target_tokens / max(n_tokens, 1)), 64)
    return NeedleExample(
        text=text,
        question=question,
        answers=answers,
        task=task,
        length_tokens=n_tokens,
        depth=depth,
        needles=spans,
        answer_texts=[text[s:e] for s, e in answers],
        seed=seed,
        split=split,
        target_tokens=target_tokens,
    )


__all__ = [
    "TASKS",
    "NeedleExample",
    "cuad_haystack",
    "chars_per_token",
    "make_needle_example",
    "load_tokenizer",
]
