"""The evaluation harness: scoring functions on hand-made cases, NIAH grid shape + PNG, RULER scoring."""

from __future__ import annotations

import json

import numpy as np
import pytest

from longctx.analysis.reader import Answer
from longctx.evaluation.cli import parse_lengths
from longctx.evaluation.report import (
    answer_covers,
    aupr,
    jaccard,
    precision_at_recall,
    precision_recall_curve,
)
from longctx.evaluation.ruler import score_task

HAYSTACK = [
    " ".join(
        f"Section {i}.{j}. The licensee shall deliver the goods to the buyer within thirty days of notice."
        for j in range(40)
    )
    for i in range(6)
]


def _ans(start: int, end: int, score: float = 0.9) -> Answer:
    return Answer(text="x" * (end - start), score=score, char_start=start, char_end=end)


def test_aupr_perfect_and_reversed():
    # 4 correct predictions (each its own gold clause) ranked above 4 wrong ones
    matched = [[0], [1], [2], [3], [], [], [], []]
    scores = np.linspace(1, 0, 8)
    p, r = precision_recall_curve(scores, matched, 4)
    assert aupr(p, r) == pytest.approx(1.0)
    assert precision_at_recall(p, r, 0.8) == 1.0
    assert precision_at_recall(p, r, 0.9) == 1.0
    p2, r2 = precision_recall_curve(scores[::-1].copy(), matched, 4)  # wrong ones first
    assert aupr(p2, r2) < 0.6
    assert precision_at_recall(p2, r2, 0.9) == pytest.approx(0.5)


def test_precision_at_recall_hand_computed():
    # ranking: hit, miss, hit, miss, hit; 4 gold clauses -> recall 0.25, 0.25, 0.5, 0.5, 0.75
    matched = [[0], [], [1], [], [2]]
    p, r = precision_recall_curve([5, 4, 3, 2, 1], matched, 4)
    assert list(r) == [0.25, 0.25, 0.5, 0.5, 0.75]
    assert precision_at_recall(p, r, 0.5) == pytest.approx(2 / 3)  # interpolated: best at recall >= 0.5
    assert precision_at_recall(p, r, 0.8) == 0.0  # never reached
    # envelope (1, 2/3, 2/3, 3/5, 3/5): trapezoids over recall 0->.25->.5->.75
    assert aupr(p, r) == pytest.approx(0.25 * 1 + 0.25 * 2 / 3 + 0.25 * 0.6)
    # a duplicate match of the same gold clause adds no recall
    p3, r3 = precision_recall_curve([2, 1], [[0], [0]], 2)
    assert list(r3) == [0.5, 0.5] and list(p3) == [1.0, 1.0]
    # ... and is neither a true nor a false positive (CUAD's TP / (TP + FP)): 1 TP, 1 FP -> 0.5, not 2/3
    p4, r4 = precision_recall_curve([3, 2, 1], [[0], [0], []], 2)
    assert list(p4) == [1.0, 1.0, 0.5] and list(r4) == [0.5, 0.5, 0.5]
    # two clauses found by one prediction count twice
    p5, r5 = precision_recall_curve([1], [[0, 1]], 2)
    assert list(p5) == [1.0] and list(r5) == [1.0]
    assert aupr(*precision_recall_curve([], [], 3)) == 0.0


def test_cuad_jaccard_rule():
    assert jaccard("The Seller shall indemnify.", "the seller shall indemnify") == 1.0
    assert jaccard("a b c d", "a b") == 0.5
    assert jaccard("and/or the", "and or") == pytest.approx(2 / 3)
    assert jaccard("", "") == 0.0


def test_answer_covers_span_or_passage():
    a = Answer(text="abc", score=0.9, char_start=10, char_end=20, passage="p" * 50, passage_start=0)
    assert answer_covers(a, 12, 18)
    assert answer_covers(a, 30, 40)  # inside the passage only
    assert not answer_covers(a, 45, 55)
    assert not answer_covers(Answer(text=None, score=0.2), 0, 1)


def test_ruler_scoring_per_task():
    gold = [(10, 15), (100, 105), (200, 205), (300, 305)]
    hits = [_ans(0, 20), _ans(95, 110)]
    assert score_task("single", hits[:1], gold[:1]) == (1.0, 1.0)
    assert score_task("single", [_ans(50, 60), _ans(0, 20)], gold[:1])[0] == 0.0  # top-1 only
    assert score_task("multi_key", [Answer(text=None, score=0.1)], gold[:1])[0] == 0.0
    assert score_task("multi_value", hits, gold) == (0.5, 0.5)
    assert score_task("multi_query", hits, gold[:3])[0] == pytest.approx(2 / 3)
    assert score_task("variable_tracking", hits, gold) == (0.0, 0.5)
    all_four = [_ans(s - 1, e + 1) for s, e in gold]
    assert score_task("variable_tracking", all_four, gold) == (1.0, 1.0)
    with pytest.raises(ValueError):
        score_task("nope", hits, gold)


def test_parse_lengths():
    assert parse_lengths("2K,8k,32768") == [2048, 8192, 32768]


def test_niah_grid_shape_and_png(tmp_path):
    from longctx.analysis.lexical import LexicalReader
    from longctx.evaluation.niah import run_niah

    out, png = tmp_path / "niah.json", tmp_path / "niah.png"
    res = run_niah(
        LexicalReader.default(),
        lengths=[512, 1024],
        depths=[0.1, 0.5, 0.9],
        n=2,
        haystack=HAYSTACK,
        out=out,
        png=png,
        log=None,
    )
    assert np.array(res["grid"]).shape == (2, 3)
    assert all(0.0 <= v <= 1.0 for row in res["grid"] for v in row)
    for bl in res["by_length"].values():
        assert bl["needles"] == 6 and bl["keep_recall"] is None and 0.0 <= bl["absent_unanswered"] <= 1.0
    assert res["family"] == "eval" and res["suite"] == "niah"
    assert json.loads(out.read_text())["lengths"] == [512, 1024]
    assert all(m["stage"] in ("pruning", "reader", "answer line") for m in res["misses"])
    from PIL import Image

    with Image.open(png) as img:
        assert img.size[0] > 200 and img.size[1] > 100


def test_ruler_run_small():
    from longctx.analysis.lexical import LexicalReader
    from longctx.evaluation.ruler import run_ruler

    res = run_ruler(LexicalReader.default(), lengths=[512], n=1, haystack=HAYSTACK, log=None)
    assert set(res["per_task"]) == {"single", "multi_key", "multi_value", "multi_query", "variable_tracking"}
    assert 0.0 <= res["mean"] <= 1.0


def _data_root():
    from longctx.config import get_settings

    return get_settings().data_root


@pytest.mark.data
def test_cuad_eval_two_contracts():
    root = _data_root()
    if root is None or not (root / "cuad" / "master_clauses.csv").exists():
        pytest.skip("shared data (../shared/data/cuad) not found: data_root is None")
    from longctx.analysis.lexical import LexicalReader
    from longctx.evaluation.cuad import run_cuad

    res = run_cuad(LexicalReader.default(), "validation", root, limit=2, log=None)
    o = res["overall"]
    assert res["contracts"] == 2 and o["gold"] > 0
    assert 0.0 <= o["p_at_90r"] <= o["aupr"] + 1.0 and 0.0 <= o["aupr"] <= 1.0
    assert o["correct_predictions"] > 0


def test_ablation_runs_three_readers_on_the_same_documents():
    import torch

    from longctx.analysis.lexical import LexicalReader
    from longctx.analysis.pipeline import ReaderPipeline
    from longctx.evaluation.ablation import VARIANTS, readers, run_ablation
    from longctx.model.reader_model import LongContextReader, ReaderConfig

    torch.manual_seed(0)
    small = dict(hidden=32, local_layers=1, heads=4, intermediate=64, global_layers=1, global_heads=4)
    cfg = ReaderConfig(**small, global_intermediate=64, max_query_len=64, evidence_dim=16, global_budget=128,
                       min_budget=64)  # fmt: skip
    pipeline = ReaderPipeline(LongContextReader(cfg))
    built = readers(pipeline)
    assert list(built) == list(VARIANTS)
    assert built["network"].span.pins is False and built["hybrid"].span.pins is True
    assert built["network"].states is built["hybrid"].states  # one encoder pass per document
    assert isinstance(built["bm25"], LexicalReader)
    with pytest.raises(ValueError, match="trained reader"):
        run_ablation(LexicalReader.default(), ["niah"], log=None)
