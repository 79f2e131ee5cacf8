"""The trained reader as a pipeline of named answerers: routing, offsets and pages, the answer line, the span
reader's selection variants, shared document states, loading.

These use a tiny randomly initialised network: they check the contract of the pipeline, not answer quality
(tests/test_reader_quality.py checks that the packaged network really reads).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from longctx.analysis import Query, ReaderDocument, get_reader
from longctx.analysis.lexical import LexicalReader
from longctx.analysis.pipeline import CLAUSE, LEXICAL, PHRASE, SPAN, ReaderPipeline
from longctx.analysis.units import reading_units
from longctx.model.reader_model import LongContextReader, ReaderConfig

from .test_analysis_reader import check_invariants, make_contract

TINY = {
    "hidden": 32,
    "local_layers": 1,
    "heads": 4,
    "intermediate": 64,
    "global_layers": 1,
    "global_heads": 4,
    "global_intermediate": 64,
    "max_query_len": 64,
    "chunk_batch": 4,
    "evidence_dim": 16,
    "global_budget": 256,
    "min_budget": 128,
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


def test_routes_say_which_answerer_serves_a_question(tiny_model):
    from longctx.model.clause_head import ClauseHead

    head = ClauseHead(["Governing Law"], 3 * TINY["hidden"] + 4)
    reader = ReaderPipeline(tiny_model, clause_head=head)
    assert reader.route(Query("x", key="Governing Law")) is CLAUSE
    assert reader.route(Query("x", key="Parties")) is LEXICAL  # a contract field without a probe
    assert reader.route(Query("Which law governs?")) is SPAN  # free question
    assert reader.route(Query("x", key="Total Revenue")) is SPAN  # not a contract field
    explained = reader.explain([Query("Which law governs?"), Query("x", key="Governing Law")])
    assert [r for _, r, _ in explained] == ["span reader", "clause head"]
    assert all(why for _, _, why in explained)


def test_phrase_fields_route_to_the_phrase_head(tiny_model):
    from longctx.model.phrase_head import PhraseHead

    class Stub(PhraseHead):
        def __init__(self):
            pass

        def has(self, key):
            return key == "Agreement Date"

    reader = ReaderPipeline(tiny_model, phrase_head=Stub())
    assert reader.route(Query("x", key="Agreement Date")) is PHRASE
    assert reader.route(Query("x", key="Governing Law")) is LEXICAL


def test_span_answers_are_whole_units_with_pages(tiny_model):
    doc = make_contract(pages=4)
    reader = ReaderPipeline(tiny_model, answer_threshold=0.0)
    [answers] = reader.answer(doc, [Query("Who are the parties?")], top_k=3)
    check_invariants(doc, answers)
    assert len(answers) == 3
    state = reader.states.get(doc)
    units = reader.states.units(doc, state)
    spans = {units.span(u) for u in range(len(units))}
    assert all((a.char_start, a.char_end) in spans for a in answers)
    assert answers[0].score >= answers[1].score >= answers[2].score


def test_answer_line_withholds_low_scores(tiny_model):
    doc = make_contract(pages=2)
    reader = ReaderPipeline(tiny_model, answer_threshold=1.01)
    [[only]] = reader.answer(doc, [Query("Which law governs?")])
    assert only.text is None and 0.0 <= only.score <= 1.0


def test_empty_document(tiny_model):
    reader = ReaderPipeline(tiny_model)
    doc = ReaderDocument.from_text("empty", "")
    assert reader.answer(doc, [Query("anything?")]) == [[reader.answer(doc, [Query("x")])[0][0]]]
    assert reader.answer(doc, [Query("anything?")])[0][0].text is None


def test_selection_variants_share_document_states(tiny_model):
    doc = make_contract(pages=5)
    reader = ReaderPipeline(tiny_model, answer_threshold=0.0, budget=64)
    network = reader.variant(pins=False)
    bm25 = reader.variant(selection="bm25")
    rnd = reader.variant(selection="random")
    assert network.states is reader.states and bm25.states is reader.states
    q = [Query("Which state's law governs this agreement?")]
    traces = {name: r.span.trace(doc, q)[0] for name, r in
              {"hybrid": reader, "network": network, "bm25": bm25, "random": rnd}.items()}  # fmt: skip
    assert reader.states.encoded == 1  # one encoder pass served every variant
    units = reader.states.units(doc, reader.states.get(doc))
    law = units.units_overlapping(
        doc.text.index("laws of the State of New York"), doc.text.index("laws of") + 5
    )
    assert set(law) <= set(traces["bm25"].kept)  # the lexical reader's best passage is what bm25 keeps
    assert set(law) <= set(traces["hybrid"].kept)  # and is pinned into the hybrid's kept set
    for t in traces.values():
        assert (
            sum(min(int(units.token_ranges[u, 1] - units.token_ranges[u, 0]), 160) for u in t.kept)
            <= 64 + 160
        )
    assert network.name == "neural[learned,network,budget=64]" and reader.name.startswith("neural[")


def test_kept_tokens_never_exceed_the_global_budget(tiny_model):
    """However long the document, the global layers read at most global_budget tokens."""
    base = make_contract(pages=3).text
    doc = ReaderDocument.from_text("long", base * 30)
    reader = ReaderPipeline(tiny_model, pins=False)
    [trace] = reader.span.trace(doc, [Query("Which law governs?")])
    state = reader.states.get(doc)
    units = reader.states.units(doc, state)
    assert state.n_tokens > 4 * TINY["global_budget"]
    lengths = units.token_ranges[:, 1] - units.token_ranges[:, 0]
    assert sum(min(int(lengths[u]), 160) for u in trace.kept) <= TINY["global_budget"]
    assert len(trace.evidence_rank) == len(units) and sorted(trace.evidence_rank) == list(range(len(units)))


def test_reading_units_cover_every_token_and_split_long_segments():
    from longctx.model.tokenization import tokenize_text

    table = "\n".join(f"Row {i}  {i * 3},{i:03d}  {i * 7},{i:03d}  {i * 11}.{i}" for i in range(120))
    text = "Intro sentence here. " + table + "\nClosing sentence."
    tok = tokenize_text(text)
    units = reading_units(text, np.asarray(tok.offsets), max_tokens=64)
    lengths = units.token_ranges[:, 1] - units.token_ranges[:, 0]
    assert lengths.max() <= 64 and lengths.min() >= 1
    assert units.token_ranges[0, 0] == 0 and units.token_ranges[-1, 1] == len(tok)
    assert (units.token_ranges[1:, 0] == units.token_ranges[:-1, 1]).all()
    assert (np.diff(units.token_unit) >= 0).all()
    # a table split into units cuts between rows
    for u in range(1, len(units) - 1):
        s, _ = units.span(u)
        assert text[s - 1] in "\n " and text[s:].startswith(("Row", "Closing"))


def test_factory_loads_a_checkpoint_folder(tiny_checkpoint, tmp_path):
    reader = get_reader(SimpleNamespace(reader="neural", model_path=tiny_checkpoint))
    assert isinstance(reader, ReaderPipeline) and reader.model.cfg.hidden == TINY["hidden"]
    assert isinstance(
        get_reader(SimpleNamespace(reader="lexical", model_path=tiny_checkpoint)), LexicalReader
    )
    with pytest.raises(RuntimeError, match="not a reader checkpoint"):
        get_reader(SimpleNamespace(reader="neural", model_path=str(tmp_path)))
    assert isinstance(get_reader(SimpleNamespace(reader="auto", model_path=str(tmp_path))), LexicalReader)


def test_factory_passes_the_service_settings(tiny_checkpoint):
    reader = get_reader(
        SimpleNamespace(
            reader="neural", model_path=tiny_checkpoint, attention_backend="math", encoder_dtype="bfloat16"
        )  # fmt: skip
    )
    assert {layer.backend for layer in reader.model.global_layers} == {"math"}
    assert next(reader.model.local.parameters()).dtype == torch.bfloat16
    assert next(reader.model.evidence.parameters()).dtype == torch.float32
    fp32 = get_reader(SimpleNamespace(reader="neural", model_path=tiny_checkpoint, encoder_dtype="float32"))
    assert next(fp32.model.local.parameters()).dtype == torch.float32
    doc = make_contract(pages=2)
    [a] = reader.answer(doc, [Query("Which law governs?")])
    check_invariants(doc, a)


def test_eval_cli_builds_the_ablation_readers(tiny_checkpoint):
    from longctx.evaluation.cli import load_reader, main

    reader = load_reader("neural", 0.5, "random", tiny_checkpoint)
    assert isinstance(reader, ReaderPipeline) and reader.span.rho == 0.5 and reader.span.selection == "random"
    assert reader.name == "neural[random,rho=0.5]"
    assert load_reader("neural", None, "learned", tiny_checkpoint, pins=False).span.pins is False
    with pytest.raises(ValueError, match="trained reader"):
        load_reader("lexical", 0.5)
    assert main(["ruler", "--reader", "lexical", "--rho", "0.5"]) == 2  # a lexical reader has no rho
    assert main(["ruler", "--reader", "lexical", "--tasks", "single,bogus"]) == 2


def test_clause_head_answers_schema_fields_with_whole_segments(tiny_model, tmp_path):
    from longctx.model.clause_head import AnswerCalibration, ClauseHead, field_features
    from longctx.text.segment import segment

    torch.manual_seed(3)
    head = ClauseHead(["Governing Law"], 3 * TINY["hidden"] + 4)
    with torch.no_grad():
        head.shared.normal_()
        head.lexical.copy_(torch.tensor([[0.0, 3.0, 1.0]]))
    head.save(tmp_path, {"note": "test"})
    loaded = ClauseHead.load(tmp_path)
    assert loaded is not None and ClauseHead.load(tmp_path / "missing") is None
    reader = ReaderPipeline(tiny_model, clause_head=loaded, answer_threshold=0.0)
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
    state = reader.states.get(doc)
    features = reader.clause.clause_features(state)
    assert features.shape == (len(state.segments), 3 * TINY["hidden"] + 4)
    lex = reader.lexical_reader()
    r = lex.rank(lex.index(doc), Query("Which law governs?", key="Governing Law"))
    probs = loaded.probabilities("Governing Law", features, field_features(r.own, r.score, r.ceiling))
    assert field[0].score == pytest.approx(float(probs.max()), abs=1e-5)
    loaded.calibration = AnswerCalibration([0.5, 1.0, 0.0, -0.5, 0.3], {"Governing Law": -1.0}, {})
    calibrated = reader.answer(doc, [Query("Which law governs?", key="Governing Law")], 2)[0]
    logits = np.sort(np.log(probs) - np.log1p(-probs))[::-1][:2]
    expect_scores = sorted(loaded.calibration.probabilities("Governing Law", logits), reverse=True)
    assert [a.score for a in calibrated] == pytest.approx(expect_scores, abs=1e-5)
    expect = LexicalReader.default()
    expect.answer_threshold = 0.0
    assert unprobed == expect.answer(doc, [Query("Who?", key="Parties")], 2)[0]
    assert reader.states.encoded == 1  # the clause head and the span reader shared one encoder pass


def test_contract_fields_without_clause_head_skip_the_encoder(tiny_model):
    doc = make_contract(pages=3)
    reader = ReaderPipeline(tiny_model, answer_threshold=0.0)
    [law] = reader.answer(doc, [Query("Which law governs?", key="Governing Law")])
    assert reader.states.encoded == 0 and law[0].text is not None


def test_answer_line_reaches_every_answerer(tiny_model):
    reader = ReaderPipeline(tiny_model)
    reader.answer_threshold = 0.0
    assert {
        a.answer_threshold for a in (reader.phrase, reader.clause, reader.lexical_clauses, reader.span)
    } == {0.0}
