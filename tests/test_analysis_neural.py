"""The neural reader behind the Reader interface: offsets, pages, thresholds, ablation selections, loading.

Most tests use a tiny randomly initialised model (the contract of the adapter, not answer quality); the
packaged-checkpoint tests check the shipped reader really answers.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from longctx.analysis import Query, ReaderDocument, get_reader
from longctx.analysis.factory import PACKAGED_CHECKPOINT
from longctx.analysis.lexical import LexicalReader
from longctx.analysis.neural import NeuralReader, query_text
from longctx.analysis.schemas import load_schema
from longctx.model.pruning import keep_count
from longctx.model.reader_model import LongContextReader, ReaderConfig

from .test_analysis_reader import make_contract

TINY = {
    "hidden": 32,
    "local_layers": 1,
    "heads": 4,
    "intermediate": 64,
    "global_layers": 1,
    "global_heads": 4,
    "global_intermediate": 64,
    "max_query_len": 64,
    "rho": 0.25,
    "chunk_batch": 4,
    "max_span_len": 12,
}


@pytest.fixture(scope="module")
def tiny_model() -> LongContextReader:
    torch.manual_seed(0)
    return LongContextReader(ReaderConfig(**TINY)).eval()


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, tiny_model) -> str:
    d = tmp_path_factory.mktemp("ckpt")
    tiny_model.save(d, fp16=True)
    return str(d)


def test_answers_point_at_their_text_page_and_passage(tiny_model):
    doc = make_contract(pages=4)
    reader = NeuralReader(tiny_model, answer_threshold=0.0)
    queries = [Query("governing law", key="Governing Law"), Query("Who are the parties?")]
    results = reader.answer(doc, queries, top_k=3)
    assert len(results) == 2
    for answers in results:
        assert 1 <= len(answers) <= 3
        spans = []
        for a in answers:
            assert a.text is not None and a.text == doc.text[a.char_start : a.char_end]
            assert a.page == doc.page_for_offset(a.char_start)
            page_start, page_end = doc.page_bounds(a.char_start)
            assert doc.text[a.passage_start : a.passage_start + len(a.passage)] == a.passage
            assert a.passage_start <= a.char_start and a.char_end <= a.passage_start + len(a.passage)
            assert page_start <= a.passage_start or a.passage_start == a.char_start
            assert 0.0 <= a.score <= 1.0
            spans.append((a.char_start, a.char_end))
        for i, (s1, e1) in enumerate(spans):  # distinct, non-overlapping answers
            assert all(e1 <= s2 or e2 <= s1 for s2, e2 in spans[i + 1 :])
        assert [a.score for a in answers] == sorted((a.score for a in answers), reverse=True)


def test_threshold_withholds_answers(tiny_model):
    doc = make_contract(pages=2)
    reader = NeuralReader(tiny_model, answer_threshold=1.01)
    [[only]] = reader.answer(doc, [Query("What is the term?")], top_k=3)
    assert only.text is None and 0.0 <= only.score <= 1.0


def test_empty_document_gives_no_answer(tiny_model):
    reader = NeuralReader(tiny_model)
    res = reader.answer(ReaderDocument.from_text("e", ""), [Query("a"), Query("b")])
    assert [[a.text for a in r] for r in res] == [[None], [None]]


def test_document_states_are_cached_and_progress_reported(tiny_model):
    doc = make_contract(pages=3)
    reader = NeuralReader(tiny_model)
    seen: list[float] = []
    reader.answer(doc, [Query("term")], progress=seen.append)
    assert seen[0] == 0.0 and seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
    enc = reader.encode(doc)
    assert reader.encode(doc) is enc  # second call: the cache
    assert enc.states.shape[0] == enc.offsets.shape[0] > 0


@pytest.mark.parametrize("selection", ["random", "bm25"])
def test_ablation_selections_keep_exactly_the_budget(tiny_model, selection):
    doc = make_contract(pages=3)
    reader = NeuralReader(tiny_model, rho=0.1, selection=selection)
    enc = reader.encode(doc)
    n = enc.states.shape[0]
    k = keep_count(n, 0.1)
    q = Query("governed by the laws of the State of New York")
    idx = reader._select(doc, enc, q, k)
    assert idx is not None and len(idx) == k and len(set(idx.tolist())) == k
    assert np.all(np.diff(idx) > 0) and idx.min() >= 0 and idx.max() < n
    if selection == "bm25":  # the governing-law sentence is the best BM25 passage: its tokens are kept
        start = doc.text.index("governed by and construed")
        tok = int(np.searchsorted(enc.offsets[:, 0], start))
        assert tok in set(idx.tolist())
    answers = reader.answer(doc, [q])[0]
    assert answers


def test_unpinned_selection_is_the_pruning_layer_alone(tiny_model, monkeypatch):
    """ "learned" pins the question's best sentences into the kept set; "unpinned" (the ablation) does not."""
    doc = make_contract(pages=3)
    q = Query("Which law governs this agreement?")
    masks = {}
    for selection in ("learned", "unpinned"):
        reader = NeuralReader(tiny_model, rho=0.1, selection=selection)
        enc = reader.encode(doc)
        calls = []
        forward = tiny_model.forward
        monkeypatch.setattr(
            tiny_model, "forward", lambda *a, _f=forward, _c=calls, **kw: _c.append(kw) or _f(*a, **kw)
        )
        reader.span_candidates(doc, enc, [q])
        monkeypatch.undo()
        masks[selection] = [kw.get("pin_mask") for kw in calls]
    assert masks["learned"] and all(m is not None and bool(m.any()) for m in masks["learned"])
    assert masks["unpinned"] and all(m is None for m in masks["unpinned"])
    with pytest.raises(ValueError, match="selection"):
        NeuralReader(tiny_model, selection="bogus")


def test_query_text_carries_the_schema_field():
    assert query_text(Query("Which law governs?", key="Governing Law")) == "Governing Law: Which law governs?"
    assert query_text(Query("What is the magic number?")) == "What is the magic number?"


def test_get_reader_loads_a_checkpoint_folder(tiny_checkpoint, tmp_path):
    reader = get_reader(SimpleNamespace(reader="neural", model_path=tiny_checkpoint))
    assert isinstance(reader, NeuralReader) and reader.model.cfg.hidden == TINY["hidden"]
    lexical = get_reader(SimpleNamespace(reader="lexical", model_path=tiny_checkpoint))
    assert isinstance(lexical, LexicalReader)
    with pytest.raises(RuntimeError, match="not a reader checkpoint"):
        get_reader(SimpleNamespace(reader="neural", model_path=str(tmp_path)))
    # auto falls back to the lexical baseline when the folder holds no usable checkpoint
    assert isinstance(get_reader(SimpleNamespace(reader="auto", model_path=str(tmp_path))), LexicalReader)


def test_get_reader_passes_the_attention_setting_to_the_global_layers(tiny_checkpoint):
    """The `attention_backend` setting reaches the kernels through the reader, not by a settings read."""
    reader = get_reader(
        SimpleNamespace(reader="neural", model_path=tiny_checkpoint, attention_backend="math")
    )
    assert reader.model.cfg.attention_backend == "math"
    assert {layer.backend for layer in reader.model.global_layers} == {"math"}
    default = get_reader(SimpleNamespace(reader="neural", model_path=tiny_checkpoint))
    assert {layer.backend for layer in default.model.global_layers} == {"auto"}


def test_inference_path_equals_training_path(tiny_model):
    """The blockwise inference path (score all, fuse only kept) gives the training path's outputs."""
    torch.manual_seed(1)
    doc = torch.randn(300, TINY["hidden"])
    q = torch.randint(1000, 2000, (2, 9))
    none = torch.tensor([-1, -1])
    with torch.no_grad():
        fast = tiny_model(q, doc_states=doc, rho=0.2)
        slow = tiny_model(q, doc_states=doc, rho=0.2, answer_start=none, answer_end=none)
    assert torch.equal(fast.kept_index, slow.kept_index)
    torch.testing.assert_close(fast.start_logits, slow.start_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast.no_answer_logit, slow.no_answer_logit, atol=1e-5, rtol=1e-5)


def test_multi_span_loss_is_the_marginal_over_gold_spans(tiny_model):
    torch.manual_seed(2)
    doc = torch.randn(40, TINY["hidden"])
    q = torch.randint(1000, 2000, (1, 6))
    args = dict(doc_states=doc, prune=False, answer_start=torch.tensor([3]), answer_end=torch.tensor([4]))
    one = tiny_model(q, **args, answer_spans=[[(3, 4)]])
    two = tiny_model(q, **args, answer_spans=[[(3, 4), (20, 22)]])
    s, e = one.start_logits[0], one.end_logits[0]
    full_s = torch.cat([one.no_answer_logit, s])
    full_e = torch.cat([one.no_answer_logit, e])
    expect_one = 0.5 * (
        torch.logsumexp(full_s, 0) - full_s[1 + 3] + torch.logsumexp(full_e, 0) - full_e[1 + 4]
    )
    expect_two = 0.5 * (
        torch.logsumexp(full_s, 0)
        - torch.logsumexp(full_s[[1 + 3, 1 + 20]], 0)
        + torch.logsumexp(full_e, 0)
        - torch.logsumexp(full_e[[1 + 4, 1 + 22]], 0)
    )
    torch.testing.assert_close(one.aux["span_loss"], expect_one)
    torch.testing.assert_close(two.aux["span_loss"], expect_two)
    assert two.aux["span_loss"] < one.aux["span_loss"]


# ---- the packaged checkpoint ---------------------------------------------------------------------------
packaged = pytest.mark.skipif(
    not (PACKAGED_CHECKPOINT / "model.safetensors").exists(), reason="no packaged checkpoint in this build"
)


@packaged
def test_auto_and_neural_load_the_packaged_checkpoint():
    from longctx.config import Settings

    for mode in ("auto", "neural"):
        reader = get_reader(SimpleNamespace(reader=mode, model_path=None))
        assert isinstance(reader, NeuralReader) and reader.model.cfg.rho == pytest.approx(0.1)
    # the service default is the trained reader, with its answer ranker and clause head
    assert Settings().reader == "auto"
    default = get_reader(Settings(model_path=None))
    assert isinstance(default, NeuralReader)
    assert default.answer_ranker is not None and default.clause_head is not None
    assert all(default.clause_head.has(q.key) for q in load_schema("contract"))
    assert default.clause_head.calibration is not None  # answers scored as P(matches a clause)


@packaged
def test_packaged_reader_finds_key_terms_on_their_pages():
    reader = get_reader(SimpleNamespace(reader="neural", model_path=None))
    doc = make_contract(seed=3, pages=6)
    law, term = reader.answer(
        doc,
        [
            Query("Which state's law governs the contract?", key="Governing Law"),
            Query("What is the length of the contract's initial term?", key="Expiration Date"),
        ],
    )
    assert law[0].text is not None and "New York" in law[0].passage
    assert law[0].page == doc.page_for_offset(doc.text.index("laws of the State of New York"))
    assert term[0].text is not None and "three (3) years" in term[0].passage


@packaged
def test_packaged_reader_finds_a_single_fact_on_its_page():
    """The span path (free questions): one fact in a 6-page contract, found with its page."""
    reader = get_reader(SimpleNamespace(reader="neural", model_path=None))
    base = make_contract(seed=6, pages=6)
    page_texts = [base.text[s:e] for _, s, e in base.pages]
    page_texts[3] += " The special magic number for quiet-lantern is 4417093."
    doc = ReaderDocument.from_pages("needle", [(i + 1, t) for i, t in enumerate(page_texts)])
    [best, *_] = reader.answer(doc, [Query("What is the special magic number for quiet-lantern?")])[0]
    assert best.text is not None and "4417093" in best.text and best.page == 4
    assert best.score >= 0.5


@packaged
def test_packaged_reader_answers_a_free_question_from_the_right_clause():
    """A real question without a schema key takes the span path and cites the governing-law clause."""
    reader = get_reader(SimpleNamespace(reader="neural", model_path=None))
    doc = make_contract(seed=4, pages=6)
    [best, *_] = reader.answer(doc, [Query("Which state's law governs this agreement?")])[0]
    assert best.text is not None and "New York" in best.passage, best
    assert best.page == doc.page_for_offset(doc.text.index("laws of the State of New York"))


@packaged
def test_packaged_reader_finds_a_fact_by_its_key_among_distractors():
    """The span path (free questions): the value of the asked key, not of the distractor keys, on its page."""
    reader = get_reader(SimpleNamespace(reader="neural", model_path=None))
    base = make_contract(seed=5, pages=6)
    facts = {"amber-otter": "6035608", "misty-harbor": "1846273", "rustic-pebble": "9051327"}
    pages = [p for p in base.text.split("\n")]
    text = base.text
    inserts = [(2, "amber-otter"), (4, "misty-harbor"), (5, "rustic-pebble")]
    page_texts = [text[s:e] for _, s, e in base.pages]
    for page, key in inserts:
        page_texts[page - 1] += f" The special magic number for {key} is {facts[key]}."
    doc = ReaderDocument.from_pages("needles", [(i + 1, t) for i, t in enumerate(page_texts)])
    del pages
    for page, key in inserts:
        [best, *_] = reader.answer(doc, [Query(f"What is the special magic number for {key}?")])[0]
        assert best.text is not None and facts[key] in best.passage, (key, best)
        assert best.page == page


def test_clause_head_answers_schema_fields_with_whole_segments(tiny_model, tmp_path):
    from longctx.model.clause_head import ClauseHead
    from longctx.text.segment import segment

    torch.manual_seed(3)
    head = ClauseHead(["Governing Law"], 3 * TINY["hidden"] + 4)
    with torch.no_grad():
        head.shared.normal_()
        head.lexical.copy_(torch.tensor([[0.0, 3.0, 1.0]]))
    head.save(tmp_path, {"note": "test"})
    loaded = ClauseHead.load(tmp_path)
    assert loaded is not None and ClauseHead.load(tmp_path / "missing") is None
    assert loaded.has("Governing Law") and not loaded.has("Parties") and not loaded.has(None)
    reader = NeuralReader(tiny_model, clause_head=loaded, answer_threshold=0.0)
    doc = make_contract(pages=3)
    field, free, unprobed = reader.answer(
        doc,
        [Query("Which law governs?", key="Governing Law"), Query("Which law?"), Query("Who?", key="Parties")],
        2,
    )
    bounds = {(s.start, s.end) for s in segment(doc.text)}
    assert len(field) == 2 and all((a.char_start, a.char_end) in bounds for a in field)
    assert field[0].score >= field[1].score and all(0.0 <= a.score <= 1.0 for a in field)
    assert all(a.text == doc.text[a.char_start : a.char_end] for a in field + free)
    enc = reader.encode(doc)
    features = reader.clause_features(enc)
    assert features.shape == (len(enc.segments), 3 * TINY["hidden"] + 4)
    # the probe's own ranking, recomputed by hand
    from longctx.model.clause_head import field_features

    r = reader.lexical.rank(reader.lexical.index(doc), Query("Which law governs?", key="Governing Law"))
    probs = loaded.probabilities("Governing Law", features, field_features(r.own, r.score, r.ceiling))
    assert field[0].score == pytest.approx(float(probs.max()), abs=1e-5)
    # with an answer calibration the scores are its probabilities of the probe's top logits, best first
    from longctx.model.clause_head import AnswerCalibration

    loaded.calibration = AnswerCalibration([0.5, 1.0, 0.0, -0.5, 0.3], {"Governing Law": -1.0}, {})
    calibrated = reader.answer(doc, [Query("Which law governs?", key="Governing Law")], 2)[0]
    logits = np.sort(np.log(probs) - np.log1p(-probs))[::-1][:2]
    expect_scores = sorted(loaded.calibration.probabilities("Governing Law", logits), reverse=True)
    assert [a.score for a in calibrated] == pytest.approx(expect_scores, abs=1e-5)
    assert {a.char_start for a in calibrated} == {a.char_start for a in field}
    # a contract field without a probe is the lexical reader's clause ranking
    expect = LexicalReader.default()
    expect.answer_threshold = 0.0
    assert unprobed == expect.answer(doc, [Query("Who?", key="Parties")], 2)[0]
    assert reader.is_clause_query(Query("x", key="Governing Law"))
    assert not reader.is_clause_query(Query("x", key="not a contract field"))
    assert not reader.is_clause_query(Query("x"))


def test_eval_cli_builds_the_ablation_readers(tiny_checkpoint):
    from longctx.evaluation.cli import load_reader, main

    reader = load_reader("neural", 0.5, "random", tiny_checkpoint)
    assert isinstance(reader, NeuralReader) and reader.rho == 0.5 and reader.selection == "random"
    assert reader.name == "neural[random,rho=0.5]"
    assert load_reader("neural", None, "learned", tiny_checkpoint).rho == pytest.approx(TINY["rho"])
    with pytest.raises(ValueError, match="neural reader"):
        load_reader("lexical", 0.5)
    assert main(["ruler", "--reader", "lexical", "--rho", "0.5"]) == 2  # a lexical reader has no rho
    assert main(["ablation", "--reader", "lexical", "--tasks", "single,bogus"]) == 2


def test_contract_fields_without_clause_head_skip_the_encoder(tiny_model):
    """Without a clause head, contract fields are the BM25 clause ranking: no encoder pass is spent."""
    doc = make_contract(pages=3)
    reader = NeuralReader(tiny_model, answer_threshold=0.0)
    [law] = reader.answer(doc, [Query("Which law governs?", key="Governing Law")])
    assert not reader._cache and law[0].text is not None
    expect = LexicalReader.default()
    expect.answer_threshold = 0.0
    assert law == expect.answer(doc, [Query("Which law governs?", key="Governing Law")])[0]
    reader.answer(doc, [Query("Which law governs?")])
    assert len(reader._cache) == 1
