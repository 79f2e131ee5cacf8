"""BM25 math on a tiny corpus, checked against hand-computed numbers."""

from __future__ import annotations

import math

import pytest

from longctx.analysis.bm25 import BM25Index


def test_bm25_hand_computed():
    docs = [["law", "govern", "law"], ["term", "year"], ["law"]]
    idx = BM25Index(docs)
    assert idx.n == 3 and idx.avgdl == pytest.approx(2.0)
    # idf = ln(1 + (N - df + 0.5) / (df + 0.5))
    idf_law = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))  # ln 1.6
    idf_term = math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))  # ln(8/3)
    assert idx.idf("law") == pytest.approx(math.log(1.6))
    assert idx.idf("term") == pytest.approx(math.log(8 / 3))
    assert idx.idf("absent") == pytest.approx(math.log(1 + 3.5 / 0.5))

    k1, b = 1.2, 0.75
    s = idx.scores({"law": 1.0, "term": 2.0}, k1=k1, b=b)
    # doc 0: tf(law)=2, |d|=3 -> norm = 1.2 * (0.25 + 0.75 * 1.5) = 1.65
    d0 = idf_law * 2 * 2.2 / (2 + 1.65)
    # doc 1: tf(term)=1, |d|=2 -> norm = 1.2; weight 2
    d1 = 2.0 * idf_term * 1 * 2.2 / (1 + 1.2)
    # doc 2: tf(law)=1, |d|=1 -> norm = 1.2 * (0.25 + 0.375) = 0.75
    d2 = idf_law * 1 * 2.2 / (1 + 0.75)
    assert s.tolist() == pytest.approx([d0, d1, d2])


def test_b_zero_ignores_length_and_empty_index():
    idx = BM25Index([["a"], ["a", "x", "y", "z"]])
    s = idx.scores({"a": 1.0}, k1=1.5, b=0.0)
    assert s[0] == pytest.approx(s[1])
    assert BM25Index([]).scores({"a": 1.0}).shape == (0,)
