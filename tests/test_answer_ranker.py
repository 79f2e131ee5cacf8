"""The answer ranker: candidate spans per sentence, features, persistence, use by the neural reader."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from longctx.analysis import Query
from longctx.analysis.neural import NeuralReader
from longctx.model.answer_ranker import (
    FEATURES,
    AnswerRanker,
    Candidate,
    best_span_per_segment,
    candidate_features,
)
from longctx.training.answer_ranker import fit, top1

from .test_analysis_neural import tiny_model  # noqa: F401  (fixture)
from .test_analysis_reader import make_contract


def brute_force(start, end, kept, token_segment, max_len):
    best: dict[int, tuple[float, int, int]] = {}
    for i in range(len(kept)):
        for j in range(i, len(kept)):
            if kept[j] - kept[i] >= max_len:
                continue
            s = float(start[i] + end[j])
            seg = int(token_segment[kept[i]])
            if seg not in best or s > best[seg][0]:
                best[seg] = (s, int(kept[i]), int(kept[j]))
    return best


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 40),
    data=st.data(),
    max_len=st.integers(1, 12),
)
def test_best_span_per_segment_matches_brute_force(n, data, max_len):
    kept = sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=n)))
    bounds = sorted(data.draw(st.sets(st.integers(1, n - 1), max_size=6))) if n > 1 else []
    token_segment = np.searchsorted(np.array(bounds, dtype=np.int64), np.arange(n), side="right")
    g = torch.Generator().manual_seed(data.draw(st.integers(0, 10_000)))
    start, end = torch.randn(len(kept), generator=g), torch.randn(len(kept), generator=g)
    got = best_span_per_segment(start, end, torch.tensor(kept), token_segment, max_len, limit=100)
    want = brute_force(start, end, kept, token_segment, max_len)
    assert {c.segment for c in got} == set(want)
    for c in got:
        s, ts, te = want[c.segment]
        assert c.span_score == pytest.approx(s, abs=1e-5)
        assert (c.token_start, c.token_end) == (ts, te)
        assert c.token_end - c.token_start < max_len
    assert [c.span_score for c in got] == sorted((c.span_score for c in got), reverse=True)
    limited = best_span_per_segment(start, end, torch.tensor(kept), token_segment, max_len, limit=1)
    assert len(limited) == 1 and limited[0] == got[0]


def test_features_are_relative_to_the_document():
    cands = [Candidate(2, 10, 12, 8.0), Candidate(0, 0, 1, 5.0)]
    own, passage = np.array([1.0, 0.0, 3.0]), np.array([1.5, 0.5, 4.0])
    cos = np.array([0.2, 0.1, 0.6])
    f = candidate_features(cands, 2.0, own, passage, 4.0, cos)
    col = {k: i for i, k in enumerate(FEATURES)}
    assert f.shape == (2, len(FEATURES))
    assert f[0, col["span_margin"]] == pytest.approx(0.6) and f[0, col["span_gap"]] == 0.0
    assert f[1, col["span_gap"]] == pytest.approx(-0.3)
    assert f[0, col["bm25_gap"]] == 0.0 and f[1, col["bm25_gap"]] == pytest.approx(-2.5 / 4)
    assert f[0, col["bm25_rank"]] == 0.0 and f[1, col["bm25_rank"]] > 0
    assert f[0, col["cosine"]] == pytest.approx(0.6) and f[1, col["cosine_gap"]] == pytest.approx(-0.4)
    # leads: how far each candidate stands above the best other candidate
    assert f[0, col["span_lead"]] == pytest.approx(0.3) and f[1, col["span_lead"]] == pytest.approx(-0.3)
    assert f[0, col["bm25_lead"]] == pytest.approx(2.5 / 4)
    assert f[1, col["cosine_lead"]] == pytest.approx(-0.4)
    assert candidate_features([], 0.0, own, passage, 4.0, cos).shape == (0, len(FEATURES))
    one = candidate_features(cands[:1], 2.0, own, passage, 4.0, cos)
    assert one[0, col["span_lead"]] == 0.0


def test_fit_learns_a_separable_signal_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, len(FEATURES))).astype(np.float32)
    y = (x[:, 3] + 0.5 * x[:, 7] > 0.8).astype(np.float32)
    qid = np.repeat(np.arange(60), 10)
    ranker = fit(x, y, epochs=200)
    p = ranker.probabilities(x)
    assert ((p > 0.5) == (y > 0.5)).mean() > 0.9
    assert top1(p, y, qid) > top1(-x[:, 3], y, qid)
    ranker.save(tmp_path)
    again = AnswerRanker.load(tmp_path)
    np.testing.assert_allclose(again.probabilities(x), p, rtol=1e-5, atol=1e-6)
    assert AnswerRanker.load(tmp_path / "missing") is None


def test_reader_answers_through_the_ranker(tiny_model):  # noqa: F811
    """A ranker that only trusts BM25 makes the reader answer from the lexically best sentence."""
    doc = make_contract(pages=3)
    col = FEATURES.index("bm25_passage")
    w1 = np.zeros((1, len(FEATURES)), np.float32)
    w1[0, col] = 1.0
    ranker = AnswerRanker(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), w1, [0.0], [20.0], -2.0)
    reader = NeuralReader(tiny_model, answer_ranker=ranker, answer_threshold=0.0)
    q = Query("Which state's laws govern this agreement?")
    [answers] = reader.answer(doc, [q], top_k=2)
    enc = reader.encode(doc)
    [(cands, feats, _na)] = reader.span_candidates(doc, enc, [q])
    assert cands and feats.shape == (len(cands), len(FEATURES))
    best = cands[int(np.argmax(feats[:, col]))]
    top = answers[0]
    seg = enc.segments[best.segment]  # the answer is the judged sentence (and the span, if it runs past it)
    assert top.text is not None and top.char_start == min(seg.start, int(enc.offsets[best.token_start, 0]))
    assert top.char_end >= seg.end and top.text == doc.text[top.char_start : top.char_end]
    assert top.score == pytest.approx(float(ranker.probabilities(feats).max()), abs=1e-5)
    assert "Delaware" in doc.text[seg.start : seg.end] or "govern" in doc.text[seg.start : seg.end].lower()


def test_pinned_sentences_are_kept(tiny_model):  # noqa: F811
    """The best BM25 and embedding sentences are inside the kept set, whatever the keep-scores say."""
    from longctx.model.pruning import keep_count

    doc = make_contract(pages=6)
    reader = NeuralReader(tiny_model, rho=0.05)
    enc = reader.encode(doc)
    idx = reader.segment_index(doc, enc)
    q = Query("Which state's laws govern this agreement?")
    ranking = reader.lexical.rank(idx, q)
    n = enc.states.shape[0]
    k = keep_count(n, 0.05)
    cos = np.linspace(0.0, 1.0, len(enc.segments))  # the last sentence is the "closest"
    pins = reader._pins(enc, [ranking.score], [cos], k)
    assert 0 < int(pins.sum()) <= k // 2
    lo, hi = (int(v) for v in enc.ranges[int(np.argmax(ranking.score))])
    assert pins[0, lo : min(hi, lo + k // 2)].all()
    ids, mask = reader._query_rows([q])
    with torch.inference_mode():
        out = tiny_model(ids, mask, doc_states=enc.states, rho=0.05, pin_mask=pins)
    kept = set(out.kept_index[0].tolist())
    assert len(kept) == k
    assert set(torch.nonzero(pins[0]).flatten().tolist()) <= kept


def test_operating_points_trade_answers_for_abstentions():
    from longctx.training.answer_ranker import cross_validated_operating_points, source_weights

    rng = np.random.default_rng(1)
    n_q, per_q = 60, 8
    x = rng.normal(size=(n_q * per_q, len(FEATURES))).astype(np.float32)
    qid = np.repeat(np.arange(n_q), per_q)
    y = np.zeros(len(x), np.float32)
    for q in range(0, n_q, 2):  # half the questions have one right candidate, with a strong signal
        i = q * per_q + int(rng.integers(per_q))
        y[i], x[i, 3] = 1.0, 3.0
    did = qid // 2  # two questions per document
    is_needle = np.arange(did.max() + 1) % 2 == 0
    w = source_weights(did, is_needle)
    assert w[is_needle[did]].sum() == pytest.approx(w[~is_needle[did]].sum())
    points = cross_validated_operating_points(x, y, qid, did, w, is_needle, folds=3)
    for rows in points.values():
        answered = [rows[t]["answered"] for t in ("0.3", "0.4", "0.5")]
        kept = [rows[t]["no_answer_kept"] for t in ("0.3", "0.4", "0.5")]
        assert answered == sorted(answered, reverse=True) and kept == sorted(kept)
        assert all(rows[t]["right"] <= rows[t]["answered"] for t in rows)
