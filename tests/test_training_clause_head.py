"""Training the clause head: segment labels, the folded standardisation, the AP report, the calibration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from longctx.model.clause_head import (
    N_ANSWER_FEATURES,
    AnswerCalibration,
    ClauseHead,
    answer_features,
    field_features,
)
from longctx.text.segment import Segment
from longctx.training.clause_head import (
    answer_examples,
    average_precision,
    fit,
    fit_calibration,
    segment_labels,
    segment_matches,
)


def seg(start: int, end: int) -> Segment:
    return Segment(start=start, end=end, heading=False)


def test_segment_labels_mark_inside_outside_and_ambiguous():
    segs = [seg(0, 10), seg(10, 20), seg(20, 30), seg(30, 40)]
    labels = segment_labels(segs, [(8, 26)])
    # 0-10: 2/10 inside (ambiguous); 10-20 all inside; 20-30: 6/10 inside; 30-40 outside
    assert labels.tolist() == [-1, 1, 1, 0]
    assert segment_labels(segs, []).tolist() == [0, 0, 0, 0]


def test_fit_separates_fields_and_folds_the_standardisation(tmp_path):
    rng = np.random.default_rng(0)
    n, d = 800, 12
    shared = rng.normal(loc=3.0, scale=0.1, size=(n, d)).astype(np.float32)  # far from 0, small spread
    lexical = rng.normal(size=(n, 2, 3)).astype(np.float32)
    labels = np.zeros((n, 2), dtype=np.int8)
    labels[:, 0] = shared[:, 0] > 3.1  # field A: an embedding direction
    labels[:, 1] = lexical[:, 1, 1] > 1.0  # field B: its BM25 passage score
    labels[:5, 1] = -1  # ignored rows
    head = fit(shared, lexical, labels, ["A", "B"], steps=200, l2=1e-4)
    for j, key in enumerate(["A", "B"]):
        p = head.probabilities(key, shared, lexical[:, j])
        assert average_precision(p, labels[:, j]) > 0.9
    head.save(tmp_path, {"k": 1})
    again = ClauseHead.load(tmp_path)
    np.testing.assert_allclose(
        again.probabilities("A", shared, lexical[:, 0]),
        head.probabilities("A", shared, lexical[:, 0]),
        atol=2e-3,
    )
    with torch.inference_mode():
        logits = head(torch.as_tensor(shared), torch.as_tensor(lexical)).numpy()
    np.testing.assert_allclose(
        1 / (1 + np.exp(-logits[:, 1])), head.probabilities("B", shared, lexical[:, 1]), atol=1e-5
    )


def test_average_precision_and_field_features():
    assert average_precision(np.array([0.9, 0.8, 0.1]), np.array([1, 0, 1])) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision(np.array([0.9, 0.8]), np.array([-1, 0])) != average_precision(
        np.array([0.9, 0.8]), np.array([-1, 0])
    )  # nan: no positive
    f = field_features(np.array([1.0, 2.0]), np.array([2.0, 4.0]), 4.0)
    assert f.tolist() == [[0.25, 0.5, -0.5], [0.5, 1.0, 0.0]]


def test_segment_matches_follow_cuads_rule():
    text = (
        "The parties are Acme Corp and Beta LLC. This Agreement is governed by the laws of Delaware. Other."
    )
    segs = [seg(0, 39), seg(40, 90), seg(91, 97)]
    gold_law = [(text.index("This"), text.index("Delaware") + len("Delaware"))]
    assert segment_matches(text, segs, gold_law, "Governing Law").tolist() == [0, 1, 0]
    # Parties: a segment holding the gold name matches however long it is (CUAD's substring rule)
    gold_party = [(text.index("Beta LLC"), text.index("Beta LLC") + len("Beta LLC"))]
    assert segment_matches(text, segs, gold_party, "Parties").tolist() == [1, 0, 0]
    assert segment_matches(text, segs, gold_party, "Governing Law").tolist() == [0, 0, 0]
    assert segment_matches(text, segs, [], "Parties").tolist() == [0, 0, 0]


def test_answer_examples_take_each_questions_best_segments():
    z = np.array([[0.1, 3.0], [2.0, -1.0], [1.0, 0.0]], dtype=np.float32)
    m = np.array([[0, 1], [1, 0], [0, 0]], dtype=np.int8)
    x, y, field = answer_examples([z], [m], top_k=2)
    assert x.shape == (4, N_ANSWER_FEATURES)
    assert field.tolist() == [0, 0, 1, 1]
    assert x[:, 0].tolist() == [2.0, 1.0, 3.0, 0.0]  # best first per question
    assert y.tolist() == [1, 0, 1, 0]
    np.testing.assert_allclose(
        answer_features(np.array([2.0, 1.0])), [[2, 0, 2, 0, 1], [1, -1, 2, np.log(2), 0]]
    )


def test_calibration_learns_field_rates_and_stays_monotone(tmp_path):
    """Two fields with the same probe logits but different hit rates get different calibrated scores; within
    a field a higher logit never scores lower; the calibration travels with the head."""
    rng = np.random.default_rng(1)
    logits = [rng.normal(size=(40, 2)).astype(np.float32) for _ in range(60)]
    matches = []
    for z in logits:
        p = np.stack([1 / (1 + np.exp(-(2 * z[:, 0] - 1))), 1 / (1 + np.exp(-(2 * z[:, 1] - 4)))], axis=1)
        matches.append((rng.random(p.shape) < p).astype(np.int8))
    x, y, field = answer_examples(logits, matches, top_k=10)
    cal = fit_calibration(x, y, field, ["A", "B"], steps=400)
    top = np.array([2.5, 1.0, 0.5, -0.5])
    a, b = cal.probabilities("A", top), cal.probabilities("B", top)
    assert (a > b).all()  # B's answers are right less often at the same logit
    assert (np.diff(a) < 0).all() and (np.diff(b) < 0).all()
    assert cal.probabilities("unknown field", top).shape == (4,)
    head = ClauseHead(["A", "B"], 3)
    head.calibration = cal
    head.save(tmp_path)
    again = ClauseHead.load(tmp_path)
    np.testing.assert_allclose(again.calibration.probabilities("B", top), b, atol=1e-5)


def test_ranked_uses_the_calibration_when_there_is_one():
    head = ClauseHead(["A"], 2)
    with torch.no_grad():
        head.shared.copy_(torch.tensor([[1.0, 0.0]]))
    shared = np.array([[0.0, 0], [3.0, 0], [1.0, 0], [2.0, 0]], dtype=np.float32)
    lexical = np.zeros((4, 3), dtype=np.float32)
    plain = head.ranked("A", shared, lexical, 3)
    assert [i for i, _ in plain] == [1, 3, 2]
    assert plain[0][1] == pytest.approx(1 / (1 + np.exp(-3.0)))
    # a calibration that prefers the second answer of a question (a made-up rule, to see it reorder)
    head.calibration = AnswerCalibration([0.0, 0.0, 0.0, 0.0, -5.0], {"A": 0.0}, {"A": 0.0})
    again = head.ranked("A", shared, lexical, 3)
    assert [i for i, _ in again] == [3, 2, 1]  # rank 0 pushed down, ties keep the probe's order
    assert again[-1][1] == pytest.approx(1 / (1 + np.exp(5.0)))
