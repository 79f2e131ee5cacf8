"""The reader network: shapes, the bounded budget and compact positions, the evidence scorer's length
invariance, segment selection, persistence."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from longctx.model.evidence import select_segments
from longctx.model.reader_model import LongContextReader, ReaderConfig, count_parameters, segment_starts
from longctx.model.tokenization import TokenizedDocument, chunk_layout

CLS, SEP = 101, 102


def tiny_config(**kw) -> ReaderConfig:
    base = dict(
        hidden=64, local_layers=2, heads=4, intermediate=128, max_positions=64, global_layers=2,
        global_heads=4, global_intermediate=128, max_query_len=16, chunk_batch=4, evidence_dim=16,
        global_budget=48, min_budget=24, max_segment_tokens=12, segment_gap=4,
    )  # fmt: skip
    base.update(kw)
    return ReaderConfig(**base)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return LongContextReader(tiny_config()).eval()


def _units(n: int, size: int = 8) -> torch.Tensor:
    return torch.arange(n) // size


def _query(model, tokens: list[int], batch: int = 1):
    row = [CLS, *tokens, SEP]
    ids = torch.tensor([row] * batch)
    return model.question(ids, torch.ones_like(ids, dtype=torch.bool))


def test_budget_is_bounded():
    cfg = ReaderConfig()
    assert cfg.budget(100) == 100
    assert cfg.budget(4096) == cfg.min_budget
    assert cfg.budget(1 << 20) == cfg.global_budget == cfg.budget(2 << 20)
    assert cfg.budget(1 << 20, rho=0.0001) == cfg.min_budget


def test_read_shapes_positions_and_heads(model):
    torch.manual_seed(1)
    n = 200
    states = torch.randn(n, 64)
    seg = _units(n)
    doc = model.document(states, seg, int(seg.max()) + 1)
    q_states, q_mask, qside = _query(model, [2000, 2001, 2002], batch=2)
    scores = model.score(doc, qside)
    assert scores.logits.shape == (2, 25)
    kept = [select_segments(scores.logits[b], doc.segment_len, 48, 12) for b in range(2)]
    for k in kept:
        assert sum(min(int(doc.segment_len[s]), 12) for s in k) <= 48 and k == sorted(k)
    out = model.read(q_states, q_mask, qside, states, doc, scores, kept)
    m = max(len(k) for k in kept)
    assert out.segment_logits.shape == (2, m) and out.no_answer_logit.shape == (2,)
    assert out.start_logits.shape == out.kept_tokens.shape == out.token_slot.shape
    for b in range(2):
        toks = out.kept_tokens[b][out.kept_tokens[b] >= 0]
        assert set(seg[toks].tolist()) == set(kept[b])


def test_compact_positions_never_exceed_the_trained_range(model):
    """However long the document and wherever the kept units are, positions stay below max_position."""
    cfg = model.cfg
    n = 100_000
    seg = _units(n, 10)
    s = int(seg.max()) + 1
    kept = sorted(np.random.default_rng(0).choice(s, 8, replace=False).tolist())
    starts = segment_starts(seg, s)
    assert starts[kept[0]] == kept[0] * 10
    # the same layout rule as `read`: kept tokens in order, a gap between non-adjacent units
    p, prev, last = cfg.max_query_len, None, 0
    for u in kept:
        if prev is not None and u != prev + 1:
            p += cfg.segment_gap
        p += min(10, cfg.max_segment_tokens)
        last, prev = p, u
    assert last <= cfg.max_position()


def test_evidence_score_is_independent_of_document_length(model):
    """A unit's keep-score depends on the unit, its neighbours and the question, not on how many other
    units the document has: the pruning layer ranks a needle the same way at 4K and at 1M."""
    torch.manual_seed(2)
    unit = torch.randn(3 * 8, 64)  # the needle unit with a neighbour on each side
    _, _, qside = _query(model, [3000, 3001])
    scores = []
    for before in (40, 4000):
        states = torch.cat([torch.randn(before, 64), unit, torch.randn(before, 64)])
        seg = _units(len(states))
        doc = model.document(states, seg, int(seg.max()) + 1)
        with torch.no_grad():
            logits = model.score(doc, qside).logits[0]
        scores.append(float(logits[before // 8 + 1]))  # the middle unit of `unit`
    assert scores[0] == pytest.approx(scores[1], abs=1e-5)


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 40), min_size=1, max_size=30),
    budget=st.integers(1, 120),
    seed=st.integers(0, 1000),
    pins=st.lists(st.integers(0, 29), max_size=3),
)
def test_select_segments_properties(lengths, budget, seed, pins):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(len(lengths), generator=g)
    seg_len = torch.tensor(lengths, dtype=torch.float32)
    kept = select_segments(scores, seg_len, budget, 16, pins)
    assert kept == sorted(set(kept))
    used = sum(min(lengths[s], 16) for s in kept)
    valid_pins = [p for p in pins if p < len(lengths) and lengths[p] > 0]
    assert used <= budget or len(kept) == 1  # one unit longer than the budget may stand alone
    if valid_pins:
        assert valid_pins[0] in kept  # the first pin always goes in
    assert all(lengths[s] > 0 for s in kept)
    rest = [s for s in range(len(lengths)) if s not in kept and lengths[s] > 0 and s not in pins]
    # no skipped unit scored above a kept unpinned one while it would still have fit
    for s in rest:
        for t in kept:
            if t not in pins and scores[s] > scores[t]:
                assert used + min(lengths[s], 16) > budget


def test_encode_document_gathers_owner_states(model):
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 1100, size=90).astype(np.int32)
    offsets = np.stack([np.arange(90), np.arange(90) + 1], 1).astype(np.int64)
    layout = chunk_layout(TokenizedDocument(ids, offsets), chunk_size=30, overlap=6)
    states = model.encode_document(layout)
    assert states.shape == (90, 64) and torch.isfinite(states).all()


def test_gradients_reach_every_trained_part():
    torch.manual_seed(3)
    m = LongContextReader(tiny_config())
    states = torch.randn(120, 64)
    seg = _units(120)
    doc = m.document(states, seg, 15)
    q_states, q_mask, qside = _query(m, [2000, 2001])
    scores = m.score(doc, qside)
    out = m.read(q_states, q_mask, qside, states, doc, scores, [[1, 2, 5]])
    loss = scores.logits.logsumexp(1).sum() + out.segment_logits.sum() + out.no_answer_logit.sum()
    loss = loss + out.start_logits[out.kept_tokens >= 0].sum()
    loss.backward()
    for name in ("evidence.doc_proj", "evidence.query_proj", "evidence.mlp.0", "token_features",
                 "global_layers.0.qkv", "segment_head", "no_answer_head", "span_head"):  # fmt: skip
        grad = m.get_submodule(name).weight.grad
        assert grad is not None and float(grad.abs().sum()) > 0, name


def test_save_load_roundtrip_and_format(model, tmp_path):
    d = model.save(tmp_path / "ckpt")
    loaded = LongContextReader.load(d)
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["format"] == 2
    cfg["format"] = 1
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="format"):
        LongContextReader.load(d)


def test_default_config_parameters():
    parts = count_parameters(LongContextReader(ReaderConfig()))
    assert parts["local"] == 22_565_376  # MiniLM-L6, loadable from the pretrained weights
    assert parts["total"] < 30_000_000
    assert math.isfinite(parts["evidence"]) and parts["evidence"] > 0


def test_an_all_true_key_mask_is_dropped_and_changes_nothing(model, monkeypatch):
    """One question with nothing padded reads without a key mask (so fused GPU kernels can serve the global
    layers), and the outputs equal those of the masked path."""
    torch.manual_seed(2)
    n = 120
    states = torch.randn(n, 64)
    seg = _units(n)
    doc = model.document(states, seg, int(seg.max()) + 1)
    q_states, q_mask, qside = _query(model, [2000, 2001])
    scores = model.score(doc, qside)
    kept = [select_segments(scores.logits[0], doc.segment_len, 48, 12)]
    seen: list = []
    real_stage = model.global_stage

    def spy(x, cos, sin, key_mask):  # noqa: ANN001, ANN202
        seen.append(key_mask)
        return real_stage(x, cos, sin, key_mask)

    monkeypatch.setattr(model, "global_stage", spy)
    out = model.read(q_states, q_mask, qside, states, doc, scores, kept)
    assert seen == [None]

    def masked(x, cos, sin, key_mask):  # noqa: ANN001, ANN202
        full = torch.ones(x.shape[:2], dtype=torch.bool)
        return real_stage(x, cos, sin, full)

    monkeypatch.setattr(model, "global_stage", masked)
    ref = model.read(q_states, q_mask, qside, states, doc, scores, kept)
    torch.testing.assert_close(out.segment_logits, ref.segment_logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out.no_answer_logit, ref.no_answer_logit, rtol=1e-5, atol=1e-5)


def test_bf16_global_layers_read_like_fp32(model):
    """On CUDA the global layers run in bf16 (so fused attention kernels serve them); the rest of the read
    stays fp32. Same choice of unit, logits within bf16 rounding."""
    import copy

    torch.manual_seed(3)
    n = 160
    states = torch.randn(n, 64)
    seg = _units(n)
    doc = model.document(states, seg, int(seg.max()) + 1)
    q_states, q_mask, qside = _query(model, [2000, 2001, 2002], batch=2)
    scores = model.score(doc, qside)
    kept = [select_segments(scores.logits[b], doc.segment_len, 48, 12) for b in range(2)]
    ref = model.read(q_states, q_mask, qside, states, doc, scores, kept)
    low = copy.deepcopy(model)
    low.global_layers.to(torch.bfloat16)
    out = low.read(q_states, q_mask, qside, states, doc, scores, kept)
    assert out.segment_logits.dtype == torch.float32
    torch.testing.assert_close(out.segment_logits, ref.segment_logits, rtol=0.05, atol=0.05)
    torch.testing.assert_close(out.no_answer_logit, ref.no_answer_logit, rtol=0.05, atol=0.05)
    assert torch.equal(out.segment_logits.argmax(1), ref.segment_logits.argmax(1))
