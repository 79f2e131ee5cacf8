import json
import math

import numpy as np
import pytest
import torch

from longctx.attention import ring_attention
from longctx.model.reader_model import LongContextReader, ReaderConfig, count_parameters
from longctx.model.tokenization import TokenizedDocument, chunk_layout

CLS, SEP = 101, 102


def tiny_config(**kw) -> ReaderConfig:
    base = dict(
        hidden=64, local_layers=2, heads=4, intermediate=128, max_positions=64, global_layers=2,
        global_heads=4, global_intermediate=128, rho=0.25, max_query_len=16, chunk_batch=4,
    )  # fmt: skip
    base.update(kw)
    return ReaderConfig(**base)


def make_doc(n: int = 90, seed: int = 0, chunk: int = 30, overlap: int = 6):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, 1100, size=n).astype(np.int32)
    offsets = np.stack([np.arange(n), np.arange(n) + 1], 1).astype(np.int64)
    return chunk_layout(TokenizedDocument(ids, offsets), chunk_size=chunk, overlap=overlap)


def make_query(tokens: list[int], batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    row = [CLS, *tokens, SEP]
    return torch.tensor([row] * batch), torch.ones(batch, len(row), dtype=torch.long)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return LongContextReader(tiny_config()).eval()


def test_shapes_and_decode(model):
    layout = make_doc()
    q, m = make_query([1500, 1501, 1502], batch=2)
    with torch.no_grad():
        out = model(q, m, layout=layout)
    k = math.ceil(0.25 * 90)
    assert out.start_logits.shape == (2, k) and out.end_logits.shape == (2, k)
    assert out.no_answer_logit.shape == (2,) and out.kept_index.shape == (2, k)
    assert out.keep_logits.shape == (2, 90)
    dec = model.decode_spans(out, max_span_len=5, top_n=3)
    assert len(dec) == 2 and len(dec[0].spans) == 3
    for s, e, score in dec[0].spans:
        assert 0 <= s <= e < 90 and e - s < 5 and math.isfinite(score)
    assert dec[0].spans[0][2] >= dec[0].spans[-1][2]
    assert math.isfinite(dec[0].no_answer_score)


def test_encode_document_gathers_owner_states_and_is_query_independent(model):
    layout = make_doc()
    with torch.no_grad():
        a = model.encode_document(layout)
        b = model.encode_document(layout, batch_size=1)
        rows = model.local(torch.as_tensor(layout.input_ids), torch.as_tensor(layout.attention_mask))
    assert a.shape == (90, 64)
    assert torch.allclose(a, b, atol=1e-5)
    assert torch.allclose(a[37], rows[layout.owner_chunk[37], layout.owner_pos[37]])
    # the same cached states serve two different queries; results differ only through the query path
    q1, m1 = make_query([1500, 1501])
    q2, m2 = make_query([1600, 1601, 1602, 1603])
    with torch.no_grad():
        o1 = model(q1, m1, doc_states=a)
        o1b = model(q1, m1, layout=layout)
        o2 = model(q2, m2, doc_states=a)
    assert torch.allclose(o1.start_logits, o1b.start_logits, atol=1e-5)
    assert o2.start_logits.shape == o1.start_logits.shape


def test_rho_one_equals_no_pruning(model):
    layout = make_doc()
    q, m = make_query([1500, 1501, 1502])
    with torch.no_grad():
        states = model.encode_document(layout)
        full = model(q, m, doc_states=states, rho=1.0)
        plain = model(q, m, doc_states=states, prune=False)
    assert torch.equal(full.kept_index[0], torch.arange(90))
    assert torch.allclose(full.start_logits, plain.start_logits, atol=1e-5)
    assert torch.allclose(full.end_logits, plain.end_logits, atol=1e-5)
    assert torch.allclose(full.no_answer_logit, plain.no_answer_logit, atol=1e-5)


def test_query_padding_is_masked(model):
    layout = make_doc()
    q, m = make_query([1500, 1501])
    qp = torch.cat([q, torch.zeros(1, 3, dtype=torch.long)], 1)
    mp = torch.cat([m, torch.zeros(1, 3, dtype=torch.long)], 1)
    with torch.no_grad():
        states = model.encode_document(layout)
        a = model(q, m, doc_states=states)
        b = model(qp, mp, doc_states=states)
    assert torch.equal(a.kept_index, b.kept_index)
    assert torch.allclose(a.start_logits, b.start_logits, atol=1e-4)


def test_ring_engine_matches_plain_softmax():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, 23, 16) for _ in range(3))
    mask = torch.ones(2, 23, dtype=torch.bool)
    mask[1, 20:] = False
    out = ring_attention(q, k, v, group=None, key_padding_mask=mask)
    scores = (q @ k.transpose(-1, -2)) / 4.0
    scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
    ref = scores.softmax(-1) @ v
    assert torch.allclose(out, ref, atol=1e-5)


def test_save_load_roundtrip(model, tmp_path):
    layout = make_doc()
    q, m = make_query([1500, 1501, 1502])
    with torch.no_grad():
        ref = model(q, m, layout=layout)
    model.save(tmp_path / "ckpt")
    cfg = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert cfg["hidden"] == 64
    loaded = LongContextReader.load(tmp_path / "ckpt").eval()
    with torch.no_grad():
        out = loaded(q, m, layout=layout)
    assert torch.equal(out.kept_index, ref.kept_index)
    assert torch.equal(out.start_logits, ref.start_logits)
    assert torch.equal(out.no_answer_logit, ref.no_answer_logit)
    model.save(tmp_path / "half", fp16=True)
    half = LongContextReader.load(tmp_path / "half").eval()
    assert (tmp_path / "half" / "model.safetensors").stat().st_size < (
        tmp_path / "ckpt" / "model.safetensors"
    ).stat().st_size * 0.6
    with torch.no_grad():
        out16 = half(q, m, layout=layout)
    assert torch.allclose(out16.start_logits, ref.start_logits, atol=5e-2)


@pytest.mark.parametrize("mode", ["straight_through", "soft_topk"])
def test_training_gradients_reach_scorer(mode):
    torch.manual_seed(0)
    model = LongContextReader(tiny_config(prune_mode=mode, prune_temperature=0.5)).train()
    layout = make_doc()
    q, m = make_query([1500, 1501])
    out = model(q, m, layout=layout, answer_start=torch.tensor([40]), answer_end=torch.tensor([42]))
    assert 40 in out.kept_index[0].tolist() and 42 in out.kept_index[0].tolist()  # gold forced in
    out.aux["span_loss"].backward()  # the span loss alone must train the scorer (through the gate)
    g = model.pruning.scorer[-1].weight.grad
    assert g is not None and g.abs().sum() > 0
    assert set(out.aux) == {"span_loss", "keep_loss", "budget_loss"}


def test_overfit_needle():
    torch.manual_seed(0)
    model = LongContextReader(tiny_config(rho=0.2)).train()
    rng = np.random.default_rng(1)
    ids = rng.integers(1000, 1100, size=80).astype(np.int32)
    ids[50:53] = [2000, 2001, 2002]  # the needle
    offsets = np.stack([np.arange(80), np.arange(80) + 1], 1).astype(np.int64)
    layout = chunk_layout(TokenizedDocument(ids, offsets), chunk_size=30)
    q, m = make_query([2000, 1999])
    a_s, a_e = torch.tensor([50]), torch.tensor([52])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        out = model(q, m, layout=layout, answer_start=a_s, answer_end=a_e)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
    assert losses[-1] < 0.3 * losses[0], losses
    model.eval()
    with torch.no_grad():
        out = model(q, m, layout=layout)
    assert 50 in out.kept_index[0].tolist()  # the scorer learned to keep the needle without forcing
    best = model.decode_spans(out, max_span_len=5)[0].spans[0]
    assert best[:2] == (50, 52)


def test_config_json_and_params():
    cfg = tiny_config()
    assert ReaderConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError):
        ReaderConfig.from_dict({"nope": 1})
    assert count_parameters(LongContextReader(cfg))["total"] > 0
