"""Training the clause head: segment labels, the folded standardisation, the AP report."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from longctx.analysis.segment import Segment
from longctx.model.clause_head import ClauseHead, field_features
from longctx.training.clause_head import average_precision, fit, segment_labels


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
