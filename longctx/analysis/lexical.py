"""The lexical baseline reader: BM25 over a document's sentences/clauses, answers with citations.

It is the service's model-free mode (`LONGCTX_READER=lexical`) and the yardstick for neural readers. Steps
per document: segment into sentences/clauses, index their stemmed terms (section headings are kept as extra
context), then per query: weight the question's terms (plus the schema field's description and keywords when
the query has a key), score every clause, smooth with its neighbours (the passage), rank distinct passages,
and decide "no answer" when the best score stays low relative to the document's own scoring scale.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from longctx.text.segment import Segment, segment
from longctx.text.terms import query_terms, terms

from .bm25 import BM25Index
from .reader import Answer, Query, ReaderDocument
from .schemas import field_index
from .state_cache import StateCache, code_fingerprint, text_key

CALIBRATION_FILE = Path(__file__).resolve().parent / "lexical_calibration.json"
# A neighbour longer than this is left out of a passage (context, not a second page of text).
MAX_NEIGHBOUR_CHARS = 700


@dataclass(frozen=True)
class LexicalParams:
    """Ranking knobs; the defaults are overwritten by the calibration file (tuned on CUAD train)."""

    k1: float = 1.2
    b: float = 0.5
    heading_weight: float = 0.5
    neighbour_weight: float = 0.25
    question_weight: float = 1.0
    key_weight: float = 1.0
    keyword_weight: float = 0.6
    description_weight: float = 0.3
    # Fields marked `"position": "start"` (title, parties, dates) live in the preamble: their clause scores
    # get a bonus of lead_weight * (best score) decaying with distance from the start (lead_chars scale).
    lead_weight: float = 1.0
    lead_chars: float = 3000.0
    # No-answer: the best passage score relative to the document's own scoring scale (the score a clause
    # holding every query term once would get, with this document's rarest-term idf), compared with a
    # threshold per schema key (default for free questions); `slope` maps rel - threshold to (0, 1).
    default_threshold: float = 0.3
    slope: float = 12.0
    thresholds: dict[str, float] = field(default_factory=dict)


@dataclass
class DocumentIndex:
    """Everything query-independent about one document, reusable for every query."""

    segments: list[Segment]
    bm25: BM25Index
    heading_of: np.ndarray  # per segment: index into `headings` of its section heading, or -1
    headings: list[set[str]]
    starts: np.ndarray


@dataclass
class Ranking:
    """Scores of one query over a document's clauses, before answers are cut out."""

    own: np.ndarray  # clause score (BM25 + heading context)
    score: np.ndarray  # passage score (own + neighbour context)
    rel: float  # best passage score relative to the document's scoring scale (the no-answer feature)
    z: float  # best passage score in standard deviations above the document's mean (diagnostic)
    ceiling: float

    def relative(self, s: float) -> float:
        return s / self.ceiling if self.ceiling > 0 else 0.0


def build_index(text: str) -> DocumentIndex:
    """Segment and index one document text."""
    segs = segment(text)
    seg_terms = [terms(text[s.start : s.end]) for s in segs]
    headings: list[set[str]] = []
    heading_of = np.full(len(segs), -1, dtype=np.int64)
    current = -1
    for i, s in enumerate(segs):
        if s.heading:
            headings.append(set(seg_terms[i]))
            current = len(headings) - 1
        else:
            heading_of[i] = current
    starts = np.array([s.start for s in segs], dtype=np.int64)
    return DocumentIndex(segs, BM25Index(seg_terms), heading_of, headings, starts)


def _strings_array(strings: Sequence[str]) -> np.ndarray:
    return np.frombuffer(json.dumps(list(strings)).encode("utf-8"), dtype=np.uint8)


def _strings(array: np.ndarray) -> list[str]:
    out = json.loads(np.asarray(array, dtype=np.uint8).tobytes().decode("utf-8"))
    if not isinstance(out, list) or not all(isinstance(t, str) for t in out):
        raise ValueError("not a list of strings")
    return out


def index_arrays(idx: DocumentIndex) -> dict[str, np.ndarray]:
    """A document index as flat arrays (the document state cache spills them as safetensors)."""
    names, arrays = idx.bm25.to_arrays()
    heading_terms = [sorted(h) for h in idx.headings]
    return {
        **{f"bm25.{k}": v for k, v in arrays.items()},
        "terms": _strings_array(names),
        "seg_start": np.array([s.start for s in idx.segments], dtype=np.int64),
        "seg_end": np.array([s.end for s in idx.segments], dtype=np.int64),
        "seg_heading": np.array([s.heading for s in idx.segments], dtype=np.uint8),
        "heading_of": idx.heading_of.astype(np.int64),
        "heading_terms": _strings_array([t for h in heading_terms for t in h]),
        "heading_ptr": np.cumsum([0] + [len(h) for h in heading_terms]).astype(np.int64),
    }


def index_from_arrays(arrays: dict[str, np.ndarray], text_len: int) -> DocumentIndex:
    """The index ``index_arrays`` flattened; ValueError when the arrays do not describe one of ``text_len``
    characters (a damaged cache file)."""
    starts = np.asarray(arrays["seg_start"]).astype(np.int64)
    ends = np.asarray(arrays["seg_end"]).astype(np.int64)
    heading = np.asarray(arrays["seg_heading"]).astype(bool)
    n = len(starts)
    if len(ends) != n or len(heading) != n or (n and (starts.min() < 0 or ends.max() > text_len)):
        raise ValueError("segments do not fit the text")
    bm25 = BM25Index.from_arrays(
        _strings(arrays["terms"]), {k[5:]: v for k, v in arrays.items() if k.startswith("bm25.")}
    )
    if bm25.n != n:
        raise ValueError("BM25 passages do not match the segments")
    flat = _strings(arrays["heading_terms"])
    ptr = np.asarray(arrays["heading_ptr"]).astype(np.int64).tolist()
    if not ptr or ptr[-1] != len(flat):
        raise ValueError("heading terms do not match their pointers")
    headings = [set(flat[a:b]) for a, b in zip(ptr[:-1], ptr[1:], strict=True)]
    heading_of = np.asarray(arrays["heading_of"]).astype(np.int64)
    if len(heading_of) != n or (n and heading_of.max() >= len(headings)):
        raise ValueError("heading references outside the headings")
    segments = [
        Segment(int(a), int(b), bool(h))
        for a, b, h in zip(starts.tolist(), ends.tolist(), heading.tolist(), strict=True)
    ]
    return DocumentIndex(segments, bm25, heading_of, headings, starts)


def _decode_index(arrays: dict[str, np.ndarray], meta: dict[str, str], text_len: int) -> DocumentIndex:
    if int(meta.get("chars", -1)) != text_len:
        raise ValueError(f"cached index is of a text of {meta.get('chars')} characters, not {text_len}")
    return index_from_arrays(arrays, text_len)


_lexical_space: str | None = None


def lexical_space() -> str:
    """The state cache folder of lexical indexes: one per version of the segmenter, stemmer and index code."""
    global _lexical_space
    if _lexical_space is None:
        import sys

        from longctx.text import segment as segment_module
        from longctx.text import terms as terms_module

        from . import bm25 as bm25_module

        _lexical_space = "lexical-" + code_fingerprint(
            segment_module, terms_module, bm25_module, sys.modules[__name__]
        )
    return _lexical_space


def load_params(path: Path = CALIBRATION_FILE) -> LexicalParams:
    """Calibrated parameters when the file exists, else the built-in defaults."""
    if not path.exists():
        return LexicalParams()
    data = json.loads(path.read_text(encoding="utf-8"))
    params = dict(data.get("params", {}))
    params["thresholds"] = dict(data.get("thresholds", {}))
    known = set(LexicalParams.__dataclass_fields__)
    return LexicalParams(**{k: v for k, v in params.items() if k in known})


class LexicalReader:
    """BM25 sentence/clause reader; deterministic (ties broken by position), numpy only."""

    name = "lexical"
    # answers below this confidence are withheld (no-answer); CUAD's AUPR evaluation sets 0 to rank all
    answer_threshold = 0.5

    def __init__(
        self, params: LexicalParams | None = None, cache_size: int = 8, store: StateCache | None = None
    ):
        self.params = params or LexicalParams()
        self._cache: OrderedDict[str, DocumentIndex] = OrderedDict()
        self._cache_size = cache_size
        self.store = store  # the document state cache on disk (shared by processes), or None
        self.builds = 0  # indexes built here (not served from memory or from the disk cache)
        self.loaded = 0  # indexes read from the disk cache

    @classmethod
    def default(cls, store: StateCache | None = None) -> LexicalReader:
        return cls(load_params(), store=store)

    # ---- indexing ---------------------------------------------------------------------------------------
    def index(self, document: ReaderDocument) -> DocumentIndex:
        """The document's index, cached by content hash (a job asks many queries of one document): in memory
        (LRU), then in the document state cache on disk when there is one, else built (and spilled)."""
        key = text_key(document.text)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        text_len = len(document.text)
        idx = None
        if self.store is not None:
            idx = self.store.read(lexical_space(), key, lambda a, meta: _decode_index(a, meta, text_len))
        if idx is None:
            idx = build_index(document.text)
            self.builds += 1
            if self.store is not None:
                self.store.write(lexical_space(), key, index_arrays(idx), {"chars": str(text_len)})
        else:
            self.loaded += 1
        self._cache[key] = idx
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return idx

    @property
    def state_cache(self) -> StateCache | None:
        return self.store

    def use_state_cache(self, store: StateCache | None) -> None:
        self.store = store

    def stats(self) -> dict[str, int]:
        return {"index_builds": self.builds, "index_loaded": self.loaded}

    # ---- queries ----------------------------------------------------------------------------------------
    def query_weights(self, query: Query) -> dict[str, float]:
        """Weighted query terms: the question, plus the schema field's key, keywords and description."""
        p = self.params
        weights: dict[str, float] = {}

        def add(text: str, w: float) -> None:
            found = query_terms(text)
            for t in found:
                weights[t] = weights.get(t, 0.0) + w / max(1, found.count(t))  # a repeated word counts once

        add(query.text, p.question_weight)
        info = field_index().get(query.key) if query.key else None
        if query.key:
            add(query.key.replace("/", " ").replace("-", " "), p.key_weight)
        if info is not None:
            for kw in info.get("keywords", []):
                add(kw, p.keyword_weight)
            add(info.get("description", ""), p.description_weight)
        # Cap so that one term named in question, key and keywords does not drown all others.
        cap = 2.0 * max(p.question_weight, p.key_weight)
        return {t: min(w, cap) for t, w in weights.items()}

    def threshold(self, query: Query) -> float:
        return self.params.thresholds.get(query.key or "", self.params.default_threshold)

    def rank(self, idx: DocumentIndex, query: Query) -> Ranking:
        """Clause and passage scores for one query, and how far the best stands out (z)."""
        p = self.params
        weights = self.query_weights(query)
        n = len(idx.segments)
        if n == 0:
            return Ranking(np.zeros(0), np.zeros(0), 0.0, 0.0, 0.0)
        own = idx.bm25.scores(weights, k1=p.k1, b=p.b)
        if idx.headings and p.heading_weight:
            head = np.array(
                [sum(weights[t] * idx.bm25.idf(t) for t in sorted(h) if t in weights) for h in idx.headings]
            )
            has = idx.heading_of >= 0
            own = own + p.heading_weight * np.where(has, head[np.maximum(idx.heading_of, 0)], 0.0)
        info = field_index().get(query.key) if query.key else None
        if info is not None and info.get("position") == "start" and p.lead_weight and own.max() > 0:
            own = own + p.lead_weight * float(own.max()) * np.exp(-idx.starts / p.lead_chars) * (own > 0)
        neighbour = np.zeros(n)
        if n > 1:
            neighbour[1:] = own[:-1]
            neighbour[:-1] = np.maximum(neighbour[:-1], own[1:])
        score = own + p.neighbour_weight * neighbour
        mean, std = float(score.mean()), float(score.std())
        best = float(score.max())
        z = (best - mean) / std if std > 1e-12 else 0.0
        # A term found in a single clause has idf ln(1 + (n - 0.5) / 1.5); a clause of average length holding
        # each query term once scores sum(w) * that idf. Dividing by it makes scores comparable across
        # documents of any length (a z-score cannot reach a high value in a 10-sentence document).
        ceiling = sum(weights.values()) * math.log(1.0 + (n - 0.5) / 1.5)
        rel = best / ceiling if ceiling > 0 else 0.0
        return Ranking(own, score, rel, z, ceiling)

    def confidence(self, rel: float, query: Query) -> float:
        """Map the relative score to (0, 1); 0.5 is the calibrated answer/no-answer boundary."""
        x = self.params.slope * (rel - self.threshold(query))
        return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))

    def passages(self, idx: DocumentIndex, ranking: Ranking, top_k: int) -> list[tuple[int, int, int, float]]:
        """Top-k distinct (non-overlapping) passages as (answer segment, first, last segment, score)."""
        segs = idx.segments
        n = len(segs)
        # Best first, ties broken by position: lexsort sorts by the last key first.
        order = np.lexsort((np.arange(n), -ranking.score))
        chosen: list[tuple[int, int, int, float]] = []
        taken: list[tuple[int, int]] = []
        for i in order.tolist():
            if len(chosen) >= top_k or ranking.score[i] <= 0:
                break
            lo = i - 1 if i > 0 and segs[i - 1].end - segs[i - 1].start <= MAX_NEIGHBOUR_CHARS else i
            hi = i + 1 if i + 1 < n and segs[i + 1].end - segs[i + 1].start <= MAX_NEIGHBOUR_CHARS else i
            start, end = segs[lo].start, segs[hi].end
            if any(start < e and s < end for s, e in taken):
                continue
            # The answer is the best clause of the passage (the centre unless a neighbour matched better).
            window = ranking.own[lo : hi + 1]
            ans = lo + int(np.argmax(window)) if window.max() > ranking.own[i] else i
            chosen.append((ans, lo, hi, float(ranking.score[i])))
            taken.append((start, end))
        return chosen

    def answer(
        self,
        document: ReaderDocument,
        queries: Sequence[Query],
        top_k: int = 3,
        progress: Callable[[float], None] | None = None,
    ) -> list[list[Answer]]:
        """Per query, up to top_k answers best first, or one no-answer entry carrying the best score."""
        if progress:
            progress(0.0)
        idx = self.index(document)
        if progress:
            progress(0.3 if queries else 1.0)
        results: list[list[Answer]] = []
        for qi, query in enumerate(queries):
            ranking = self.rank(idx, query)
            conf = self.confidence(ranking.rel, query) if ranking.rel > 0 else 0.0
            picked = self.passages(idx, ranking, max(1, top_k)) if conf >= self.answer_threshold else []
            if not picked:
                results.append([Answer(text=None, score=round(conf, 6))])
            else:
                answers = []
                for ans, lo, hi, s in picked:
                    seg = idx.segments[ans]
                    # Context clauses stay on the answer's page, so the cited page shows the whole passage
                    # (only an answer sentence that itself runs over a page break crosses it).
                    page_start, page_end = document.page_bounds(seg.start)
                    p_start = max(idx.segments[lo].start, min(page_start, seg.start))
                    p_end = min(idx.segments[hi].end, max(page_end, seg.end))
                    score = self.confidence(ranking.relative(s), query)
                    answers.append(Answer.cited(document, seg.start, seg.end, score, p_start, p_end))
                results.append(answers)
            if progress:
                progress(0.3 + 0.7 * (qi + 1) / len(queries))
        return results
