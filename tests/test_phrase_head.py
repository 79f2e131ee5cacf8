"""The phrase head: candidates (names, quoted terms, dates, headings), features, fitting, the reader path."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from longctx.analysis import Query, get_reader
from longctx.analysis.lexical import LexicalReader
from longctx.analysis.reader import ReaderDocument
from longctx.model.phrase_head import KINDS, N_FEATURES, PhraseHead, candidates, features, normalised
from longctx.text.segment import segment
from longctx.training.phrase_head import fit, overlap_labels, short_fields, top_k_recall

from .test_analysis_reader import make_contract

PREAMBLE = (
    "AGENCY AGREEMENT\n\nThis Agency Agreement (the \u201cAgreement\u201d) is made as of the 25th day of "
    'May, 1999 by and between Capital Resources, Inc., a Delaware corporation ("Capital"), and Mutual '
    "Insurance Corporation of America ('MICOA'). The Agreement is effective March 1, 1999."
)


def found(cands, kind: str) -> set[str]:
    return {t for t, k in zip(cands.texts, cands.kinds, strict=True) if KINDS[k] == kind}


def test_candidates_hold_names_quoted_terms_dates_and_headings():
    c = candidates(PREAMBLE, segment(PREAMBLE))
    assert {
        "Capital Resources, Inc.",
        "Capital Resources",
        "Mutual Insurance Corporation of America",
    } <= found(c, "name")
    assert {"Capital", "MICOA", "Agreement"} <= found(c, "quoted_inner")
    assert {'"Capital"', "'MICOA'"} <= found(c, "quoted_outer")
    assert '("Capital")' in found(c, "bracketed")
    assert {"25th day of May, 1999", "March 1, 1999"} <= found(c, "date")
    assert "AGENCY AGREEMENT" in found(c, "heading")
    assert any(t.startswith("This Agency Agreement") for t in found(c, "segment"))
    for s, e, t in zip(c.starts, c.ends, c.texts, strict=True):
        assert PREAMBLE[s:e] == t


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("Ab Cd, Inc. (\"x\") 'y' 12 May 2020 _\n.;")), max_size=300))
def test_candidates_are_exact_distinct_slices_of_any_text(text):
    segs = segment(text)
    c = candidates(text, segs)
    spans = list(zip(c.starts.tolist(), c.ends.tolist(), strict=True))
    assert len(set(spans)) == len(spans)
    for (s, e), t, k, g in zip(spans, c.texts, c.kinds, c.segment, strict=True):
        assert 0 <= s < e <= len(text) and text[s:e] == t and t == t.strip()
        assert 0 <= k < len(KINDS) and (not segs or 0 <= g < len(segs))
    x = features(text, segs, c, np.zeros(len(segs)), np.zeros(len(segs)), 0.0, {})
    assert x.shape == (len(c), N_FEATURES) and np.isfinite(x).all()


def test_overlap_labels_follow_cuad_matching():
    texts = [
        "Capital Resources, Inc.",
        "Capital",
        "the Company",
        "March 1, 1999",
        "between Acme Corp and Company",
    ]
    labels, matches = overlap_labels(texts, ["Capital Resources Inc", "Company"], "Agreement Date")
    # "Capital" shares 1 of 3 words with the first gold (1/3 < 0.5); "the Company" is 1/2 of the second
    assert labels.tolist() == [1, 0, 1, 0, 0] and matches == {0: [0], 2: [1]}
    # Parties: a gold name inside the candidate matches too (CUAD's substring exception)
    labels, matches = overlap_labels(texts, ["Capital Resources Inc", "Company"], "Parties")
    assert labels.tolist() == [1, 0, 1, 0, 1] and matches[4] == [1]
    assert overlap_labels(texts, [], "Parties")[0].tolist() == [0, 0, 0, 0, 0]


def test_short_fields_are_chosen_by_the_median_gold_length():
    doc = SimpleNamespace(text="Acme Corp " + "word " * 40, gold={"A": [(0, 9)], "B": [(0, 200)]})
    fields = [SimpleNamespace(key="A"), SimpleNamespace(key="B"), SimpleNamespace(key="C")]
    assert [f.key for f in short_fields([doc], fields, 12)] == ["A"]


def rows_for(text: str, gold: list[str], key: str, lexical: LexicalReader) -> dict:
    doc = ReaderDocument.from_text("d", text)
    idx = lexical.index(doc)
    c = candidates(text, idx.segments)
    q = Query("On what date was this contract made or signed?", key=key)
    r = lexical.rank(idx, q)
    x = features(text, idx.segments, c, r.own, r.score, r.ceiling, lexical.query_weights(q))
    return {"texts": c.texts, key: (x, *overlap_labels(c.texts, gold, key), len(gold))}


def test_fit_learns_which_candidates_answer_and_round_trips(tmp_path):
    """Dates right after "made as of" are the answers; other dates and names are not. The fitted head must
    rank the answer first on contracts it did not see, and survive a save/load."""
    lexical = LexicalReader.default()
    rows = []
    for i in range(24):
        day, other = 1 + i % 27, 2 + (i * 7) % 26
        answer = f"June {day}, 20{10 + i % 9}"
        text = (
            f"SUPPLY AGREEMENT\n\nThis Supply Agreement is made as of {answer} between Acme {i} Inc. and "
            f"Beta {i} LLC. Invoices issued before July {other}, 2031 are payable in thirty days. "
            f"Acme {i} Inc. shall deliver the goods by August {other}, 2032."
        )
        rows.append(rows_for(text, [answer], "Agreement Date", lexical))
    head = fit(
        {"Agreement Date": np.concatenate([r["Agreement Date"][0] for r in rows[:16]])},
        {"Agreement Date": np.concatenate([r["Agreement Date"][1] for r in rows[:16]])},
    )
    assert top_k_recall(head, rows[16:], "Agreement Date", 1) == 1.0
    head.save(tmp_path)
    again = PhraseHead.load(tmp_path)
    assert again is not None and again.has("Agreement Date") and not again.has("Parties")
    x = rows[20]["Agreement Date"][0]
    assert np.allclose(
        again.probabilities("Agreement Date", x), head.probabilities("Agreement Date", x), atol=1e-4
    )
    assert PhraseHead.load(tmp_path / "missing") is None
    (tmp_path / "phrase_head.json").write_text('{"features": 3, "kinds": [], "fields": {}}')
    with pytest.raises(RuntimeError, match="retrain"):
        PhraseHead.load(tmp_path)


def test_normalised_ignores_case_quotes_and_punctuation():
    assert (
        normalised('"Capital Resources, Inc."')
        == normalised("capital resources inc")
        == "capital resources inc"
    )


def test_packaged_reader_answers_short_fields_with_phrases():
    reader = get_reader(SimpleNamespace(reader="neural", model_path=None))
    head = reader.phrase.head
    assert head is not None, "the packaged checkpoint has no phrase head"
    # the trainer kept the fields where phrases beat whole clauses on held-out training contracts
    assert {"Document Name", "Agreement Date", "Effective Date"} <= set(head.keys)
    assert not head.has("Parties")  # a clause naming the parties scored higher (docs/eval.md)
    base = make_contract(pages=3)
    pages = [base.text[s:e] for _, s, e in base.pages]
    pages[0] = pages[0].replace("is entered into by", "is made as of March 1, 2024 by", 1)
    pages[1] += " Invoices issued after June 30, 2026 are payable within 45 days."
    doc = ReaderDocument.from_pages("dated", [(i + 1, t) for i, t in enumerate(pages)])
    queries = [
        Query("What is the name or title of this contract?", key="Document Name"),
        Query("On what date was this contract made or signed?", key="Agreement Date"),
    ]
    title, date = reader.answer(doc, queries, top_k=5)
    assert "MASTER SERVICES AGREEMENT" in {a.text for a in title[:3]}, title
    assert date[0].text == "March 1, 2024" and date[0].page == 1, date
    assert "June 30, 2026" not in {a.text for a in date[:1]}
    for answers in (title, date):
        assert all(a.text == doc.text[a.char_start : a.char_end] for a in answers)
        assert len({normalised(a.text) for a in answers}) == len(answers)  # a repeated phrase is one answer
    assert reader.states.encoded == 0  # short fields need no encoder pass
