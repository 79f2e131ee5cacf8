"""The phrase head: names, titles and dates for the contract fields whose answers are a few words.

Some contract fields -- the parties, the contract's title, its dates -- are annotated in CUAD as short phrases
("Capital Resources, Inc.", "AGENCY AGREEMENT", "December 12, 2014"), and a whole sentence never matches
such an answer under CUAD's word-overlap rule. For those fields the reader proposes phrases found in the
text: quoted defined terms (with and without their quotes), runs of capitalised words (company and person
names, with and without a corporate suffix), date expressions, headings, and whole segments (some annotators
mark a sentence instead). A small per-field MLP scores every candidate from its kind, length, position,
repetition, whether it sits in brackets or ends in a corporate suffix, hashed words to its left and right,
and the field's BM25 scores of the segment around it. Everything is lexical, so the head needs no encoder
pass. Which fields get a phrase model, and the weights, come from CUAD's training contracts
(``longctx.training.phrase_head``); the head is stored as ``phrase_head.json`` next to the reader weights.
"""

from __future__ import annotations

import bisect
import json
import math
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from longctx.text.segment import Segment
from longctx.text.terms import terms

HEAD_FILE = "phrase_head.json"
KINDS = ("quoted_inner", "quoted_outer", "bracketed", "name", "date", "heading", "segment")
HASH_BUCKETS = 32  # per context slot (word before, two words before, word after)
MAX_NAME_WORDS = 12
MAX_HEADING_WORDS = 15

_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"
)
_DATE = re.compile(
    rf"(?<![\w])(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"  # March 1, 2020
    rf"|\d{{1,2}}\s?(?:st|nd|rd|th)?\s+(?:day\s+of\s+)?{_MONTH},?\s+\d{{4}}"  # 1st day of March, 2020
    rf"|{_MONTH},?\s+\d{{4}}"  # March 2020
    r"|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"  # 03/01/2020
    r"|(?:_{2,}|\[\s*_*\s*\])\s*(?:\d{1,2}\s*)?,?\s*\d{4})",  # ______, 2020 / [___], 2020 (blank dates)
    re.IGNORECASE,
)
_QUOTED = re.compile(r"[\"“]([^\"“”\n]{1,80})[\"”]|(?<![\w])['‘]([^'‘’\n]{1,60})['’](?![\w])")
_BRACKETED = re.compile(r"\(([^()\n]{1,80})\)")
_TOKEN = re.compile(r"[^\s\"“”()\[\],;:]+|,|\n\s*\n")
_CONNECTORS = frozenset({"of", "and", "&", "the", "de", "du", "la", "for", "y", "von", "van", "der", "-"})
_SUFFIX_WORDS = (
    "inc incorporated corp corporation co company llc l.l.c ltd limited lp l.p llp l.l.p plc gmbh ag sa s.a"
)
SUFFIXES = frozenset(
    w
    for base in (_SUFFIX_WORDS + " nv n.v bv b.v pty sarl s.a.r.l spa s.p.a").split()
    for w in (base, base + ".")
)
_WORD = re.compile(r"[a-z0-9]+")
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")


@dataclass
class Candidates:
    """A document's phrase candidates: parallel arrays of character spans and kinds, plus their texts."""

    starts: np.ndarray
    ends: np.ndarray
    kinds: np.ndarray  # index into KINDS
    segment: np.ndarray  # index of the segment holding the candidate's start
    texts: list[str]

    def __len__(self) -> int:
        return len(self.texts)


def _is_cap(tok: str) -> bool:
    c = tok[0]
    return c.isupper() or (c.isdigit() and any(ch.isalpha() for ch in tok))


def _names(text: str) -> list[tuple[int, int]]:
    """Runs of capitalised words (connectors allowed inside, a comma only before a corporate suffix)."""
    out: list[tuple[int, int]] = []
    run: list[tuple[int, int, str]] = []

    def emit(part: list[tuple[int, int, str]]) -> None:
        while part and (part[-1][2].lower() in _CONNECTORS or part[-1][2] == ","):
            part = part[:-1]
        while part and (part[0][2].lower() in _CONNECTORS - {"the"} or part[0][2] == ","):
            part = part[1:]
        if not part:
            return
        s, e = part[0][0], part[-1][1]
        out.append((s, e))
        words = [t for t in part if t[2] != ","]
        if len(words) > 1 and words[-1][2].lower() in SUFFIXES:  # also the name without ", Inc."
            k = len(part) - 1
            while k > 0 and (part[k - 1][2] == "," or part[k - 1][2].lower() in SUFFIXES):
                k -= 1
            if k > 0 and part[k - 1][1] > s:
                out.append((s, part[k - 1][1]))
        if words[0][2].lower() == "the" and len(words) > 1:
            out.append((words[1][0], e))

    def flush() -> None:
        emit(run)
        cuts = [i for i, t in enumerate(run) if t[2] == "and"]  # "Acme Inc. and Beta LLC": each name too
        for lo, hi in zip([-1, *cuts], [*cuts, len(run)], strict=True):
            if cuts and hi - lo > 1:
                emit(run[lo + 1 : hi])
        run.clear()

    for m in _TOKEN.finditer(text):
        tok = m.group()
        if tok.startswith("\n"):
            flush()
            continue
        words_in_run = sum(t[2] != "," for t in run)
        if tok == ",":
            if run and run[-1][2] != ",":
                run.append((m.start(), m.end(), tok))
            else:
                flush()
            continue
        low = tok.lower()
        if run and run[-1][2] == "," and low not in SUFFIXES:
            flush()
        if words_in_run < MAX_NAME_WORDS and (_is_cap(tok) or (run and low in _CONNECTORS)):
            run.append((m.start(), m.end(), tok))
        else:
            flush()
            if _is_cap(tok):
                run.append((m.start(), m.end(), tok))
    flush()
    return out


def candidates(text: str, segments: list[Segment]) -> Candidates:
    """Every phrase candidate of a document, de-duplicated by (start, end, kind)."""
    spans: dict[tuple[int, int], int] = {}

    def add(s: int, e: int, kind: str) -> None:
        while e > s and text[e - 1] in " \t\n.,;:":
            if text[e - 1] == "." and text[s:e].lower().rstrip(".").endswith(
                ("inc", "ltd", "corp", "co", "l.p")
            ):
                break
            e -= 1
        while s < e and text[s].isspace():
            s += 1
        if e > s and (s, e) not in spans:
            spans[(s, e)] = KINDS.index(kind)

    for m in _QUOTED.finditer(text):
        g = 1 if m.group(1) is not None else 2
        add(m.start(g), m.end(g), "quoted_inner")
        add(m.start(), m.end(), "quoted_outer")
    for m in _BRACKETED.finditer(text):
        if not m.group(1).strip().isdigit() and len(m.group(1).strip()) > 2:  # not "(a)", "(i)", "(30)"
            add(m.start(), m.end(), "bracketed")
    for m in _DATE.finditer(text):
        add(m.start(), m.end(), "date")
    for sg in segments:  # before the names: a title line is a heading even when it is also a capitalised run
        if sg.heading and len(text[sg.start : sg.end].split()) <= MAX_HEADING_WORDS:
            add(sg.start, sg.end, "heading")
    for s, e in _names(text):
        add(s, e, "name")
    for sg in segments:
        add(sg.start, sg.end, "segment")
    items = sorted(spans.items())
    starts = np.array([s for (s, _), _k in items], dtype=np.int64)
    ends = np.array([e for (_, e), _k in items], dtype=np.int64)
    kinds = np.array([k for _, k in items], dtype=np.int64)
    seg_starts = [sg.start for sg in segments]
    seg = np.array([max(bisect.bisect_right(seg_starts, s) - 1, 0) for s in starts], dtype=np.int64)
    return Candidates(starts, ends, kinds, seg, [text[s:e] for s, e in zip(starts, ends, strict=True)])


def _bucket(word: str, slot: int) -> int:
    return slot * HASH_BUCKETS + zlib.crc32(word.encode()) % HASH_BUCKETS


def _context_words(text: str, s: int, e: int) -> tuple[list[str], str]:
    left = _WORD.findall(text[max(0, s - 60) : s].lower())[-2:]
    right = _WORD.findall(text[e : e + 40].lower())[:1]
    return left, right[0] if right else ""


N_SCALAR = 22
N_FEATURES = len(KINDS) + N_SCALAR + 3 * HASH_BUCKETS


def features(
    text: str, segments: list[Segment], cands: Candidates, own, passage, ceiling: float, query_weights: dict
) -> np.ndarray:
    """(C, N_FEATURES) features of every candidate for one field; ``own``/``passage`` are the field's BM25
    scores of each segment (``LexicalReader.rank``), ``ceiling`` the document's scoring scale and
    ``query_weights`` the field query's stemmed terms (``LexicalReader.query_weights``)."""
    n = len(cands)
    x = np.zeros((n, N_FEATURES), dtype=np.float32)
    if n == 0:
        return x
    length = max(len(text), 1)
    c = ceiling if ceiling > 0 else 1.0
    own_n = np.asarray(own, dtype=np.float64) / c
    pas_n = np.asarray(passage, dtype=np.float64) / c
    best = pas_n.max() if len(pas_n) else 0.0
    norm = [normalised(t) for t in cands.texts]
    counts = Counter(norm)
    seen: set[str] = set()
    heading = np.array([sg.heading for sg in segments], dtype=bool)
    k = len(KINDS)
    kinds_short = [kind != "segment" for kind in KINDS]  # query-term overlap of phrases, not of sentences
    x[np.arange(n), cands.kinds] = 1.0
    q_total = sum(query_weights.values()) or 1.0
    for i in range(n):
        s, e, t = int(cands.starts[i]), int(cands.ends[i]), cands.texts[i]
        words = t.split()
        letters = [ch for ch in t if ch.isalpha()]
        g = int(cands.segment[i])
        low_words = [w.lower().strip(".,") for w in words]
        before = text[max(0, s - 60) : s]
        open_paren = before.rfind("(") > before.rfind(")")
        cand_terms = set(terms(t)) if kinds_short[cands.kinds[i]] else set()
        in_query = [w for w in cand_terms if w in query_weights]
        f = [
            math.log1p(len(words)) / math.log(100.0),
            float(len(words) == 1),
            s / length,
            math.exp(-s / 2000.0),
            math.exp(-s / 300.0),
            math.exp(-(length - e) / 3000.0),
            math.exp(-g / 10.0),
            own_n[g] if len(own_n) else 0.0,
            pas_n[g] if len(pas_n) else 0.0,
            (pas_n[g] - best) if len(pas_n) else 0.0,
            float(heading[g]) if len(heading) else 0.0,
            math.log1p(counts[norm[i]]) / math.log(100.0),
            float(norm[i] not in seen),
            float(bool(low_words) and low_words[-1] in SUFFIXES),
            float(bool(letters) and all(ch.isupper() for ch in letters)),
            float(any(ch.isdigit() for ch in t)),
            float(bool(_YEAR.search(t))),
            float("_" in t or "[" in t),
            float(open_paren),
            float(text[e : e + 3].lstrip().startswith("(")),
            sum(query_weights[w] for w in in_query) / q_total,
            len(in_query) / len(cand_terms) if cand_terms else 0.0,
        ]
        seen.add(norm[i])
        x[i, k : k + N_SCALAR] = f
        left, right = _context_words(text, s, e)
        for slot, w in enumerate(reversed(left)):
            x[i, k + N_SCALAR + _bucket(w, slot)] = 1.0
        if right:
            x[i, k + N_SCALAR + _bucket(right, 2)] = 1.0
    return x


class PhraseHead:
    """Per-field scorers over phrase candidates: a one-hidden-layer tanh MLP each (a title is "capitalised
    and holds the word agreement and more words than that": interactions a linear model cannot express),
    after a feature standardisation shared by the fields."""

    def __init__(self, fields: dict[str, dict], mean, std, info=None) -> None:
        self.fields = {
            k: {n: np.asarray(v, dtype=np.float64) for n, v in f.items()} for k, f in fields.items()
        }
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        self.info = info or {}

    @property
    def keys(self) -> list[str]:
        return list(self.fields)

    def has(self, key: str | None) -> bool:
        return key in self.fields

    def probabilities(self, key: str, x: np.ndarray) -> np.ndarray:
        f = self.fields[key]
        h = np.tanh(((x - self.mean) / self.std) @ f["w1"] + f["b1"])
        logit = h @ f["w2"] + f["b2"]
        return 1.0 / (1.0 + np.exp(-np.clip(logit, -50.0, 50.0)))

    def save(self, directory: str | Path) -> None:
        def rounded(a: np.ndarray):
            return np.round(a, 5).tolist()

        body = {
            "features": N_FEATURES,
            "kinds": list(KINDS),
            "mean": rounded(self.mean),
            "std": rounded(self.std),
            "fields": {k: {n: rounded(v) for n, v in f.items()} for k, f in self.fields.items()},
            "info": self.info,
        }
        (Path(directory) / HEAD_FILE).write_text(json.dumps(body, separators=(",", ":")))

    @classmethod
    def load(cls, directory: str | Path) -> PhraseHead | None:
        path = Path(directory) / HEAD_FILE
        if not path.is_file():
            return None
        body = json.loads(path.read_text())
        if body.get("features") != N_FEATURES or body.get("kinds") != list(KINDS):
            raise RuntimeError(f"{path}: written for other phrase features; retrain it")
        return cls(body["fields"], body["mean"], body["std"], body.get("info"))


def ranked_phrases(probs: np.ndarray, cands: Candidates, top_k: int) -> list[tuple[int, int, float]]:
    """The top_k (start, end, probability) best first, one per distinct phrase (same words = one answer, at
    its best-scored occurrence; phrases may overlap)."""
    out, seen = [], set()
    for i in np.lexsort((cands.starts, -probs)).tolist():
        words = normalised(cands.texts[i])
        if words and words not in seen:
            seen.add(words)
            out.append((int(cands.starts[i]), int(cands.ends[i]), float(probs[i])))
            if len(out) >= max(1, top_k):
                break
    return out


def normalised(text: str) -> str:
    """The words of a phrase, lower-cased: answers with the same words are one answer."""
    return " ".join(_WORD.findall(text.lower()))


__all__ = [
    "HEAD_FILE",
    "KINDS",
    "N_FEATURES",
    "Candidates",
    "PhraseHead",
    "candidates",
    "features",
    "normalised",
]
