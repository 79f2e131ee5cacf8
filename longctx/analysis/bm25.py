"""Okapi BM25 over one document's own passages, with numpy postings.

Statistics (document frequencies, average length) come from the document being read, not from a corpus:
the service reads one document at a time, and a term's rarity inside that document is what separates
the clause that answers from boilerplate that repeats everywhere.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np


class BM25Index:
    """Postings of term -> (passage ids, term frequencies); scores are computed per query with any k1/b."""

    def __init__(self, passages: Sequence[Sequence[str]]):
        self.n = len(passages)
        self.lengths = np.array([len(p) for p in passages], dtype=np.float64)
        self.avgdl = float(self.lengths.mean()) if self.n and self.lengths.sum() > 0 else 1.0
        ids: dict[str, list[int]] = {}
        tfs: dict[str, list[int]] = {}
        for i, passage in enumerate(passages):
            for term, tf in Counter(passage).items():
                ids.setdefault(term, []).append(i)
                tfs.setdefault(term, []).append(tf)
        self.postings = {
            t: (np.array(ids[t], dtype=np.int64), np.array(tfs[t], dtype=np.float64)) for t in ids
        }

    def to_arrays(self) -> tuple[list[str], dict[str, np.ndarray]]:
        """(terms, arrays) that ``from_arrays`` turns back into an equal index: the postings of ``terms[i]``
        are ``ids/tfs[ptr[i]:ptr[i + 1]]`` (the document state cache spills them)."""
        names = list(self.postings)
        sizes = np.array([len(self.postings[t][0]) for t in names], dtype=np.int64)
        ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        empty = np.zeros(0, dtype=np.int64)
        ids = np.concatenate([self.postings[t][0] for t in names]) if names else empty
        tfs = np.concatenate([self.postings[t][1] for t in names]) if names else empty.astype(np.float64)
        arrays = {
            "lengths": self.lengths.astype(np.int32),
            "ptr": ptr,
            "ids": ids.astype(np.int32),
            "tfs": tfs.astype(np.int32),
        }
        return names, arrays

    @classmethod
    def from_arrays(cls, names: Sequence[str], arrays: Mapping[str, np.ndarray]) -> BM25Index:
        """The index ``to_arrays`` described (bit-identical scores: lengths and frequencies are integers)."""
        index = cls([])
        lengths = np.asarray(arrays["lengths"]).astype(np.float64)
        ptr = np.asarray(arrays["ptr"]).astype(np.int64)
        ids = np.asarray(arrays["ids"]).astype(np.int64)
        tfs = np.asarray(arrays["tfs"]).astype(np.float64)
        if len(ptr) != len(names) + 1 or ptr[-1] != len(ids) or len(tfs) != len(ids):
            raise ValueError("postings arrays do not match the term list")
        if len(ids) and (ids.min() < 0 or ids.max() >= len(lengths)):
            raise ValueError("postings name a passage outside the index")
        index.n = len(lengths)
        index.lengths = lengths
        index.avgdl = float(lengths.mean()) if index.n and lengths.sum() > 0 else 1.0
        bounds = ptr.tolist()
        index.postings = {
            t: (ids[a:b], tfs[a:b]) for t, a, b in zip(names, bounds[:-1], bounds[1:], strict=True)
        }
        return index

    def df(self, term: str) -> int:
        p = self.postings.get(term)
        return 0 if p is None else len(p[0])

    def idf(self, term: str) -> float:
        """Robertson-Sparck Jones idf with +1 inside the log, so it never goes negative for common terms."""
        df = self.df(term)
        return math.log(1.0 + (self.n - df + 0.5) / (df + 0.5))

    def scores(self, query: Mapping[str, float], k1: float = 1.2, b: float = 0.75) -> np.ndarray:
        """BM25 score of every passage: sum over query terms of weight * idf * saturated, length-normed tf."""
        out = np.zeros(self.n, dtype=np.float64)
        if not self.n:
            return out
        norm = k1 * (1.0 - b + b * self.lengths / self.avgdl)
        for term in sorted(query):  # sorted: float sums in a fixed order, so results are bit-identical
            p = self.postings.get(term)
            if p is None:
                continue
            idx, tf = p
            out[idx] += query[term] * self.idf(term) * tf * (k1 + 1.0) / (tf + norm[idx])
        return out
