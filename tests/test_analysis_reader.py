"""The lexical reader on generated contracts: finds key terms, says "no answer", keeps its invariants."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from longctx.analysis import Answer, Query, ReaderDocument, get_reader, load_schema, schema_fields
from longctx.analysis.lexical import LexicalReader
from longctx.analysis.schemas import SCHEMAS

FILLER = [
    "Each party shall keep the Confidential Information of the other party in strict confidence.",
    "All notices under this Agreement shall be in writing and delivered by hand or by courier.",
    "The Customer shall pay each invoice within thirty (30) days of the invoice date.",
    "The Supplier shall perform the Services with reasonable skill and care.",
    "Neither party shall be liable for any delay caused by events beyond its reasonable control.",
    "The Supplier shall keep complete and accurate records of the Services performed.",
    "This Agreement constitutes the entire agreement between the parties on its subject matter.",
    "No amendment of this Agreement shall be effective unless it is in writing and signed by both parties.",
    "The Customer shall provide the Supplier with access to its premises as reasonably required.",
    "Each party warrants that it has full power and authority to enter into this Agreement.",
    "The Supplier shall comply with all applicable laws and regulations in performing the Services.",
    "Any failure to exercise a right under this Agreement shall not be a waiver of that right.",
]
PARTIES = (
    "This Master Services Agreement is entered into by and between Northwind Traders Inc., a Delaware "
    'corporation ("Customer"), and Blue Harbor Logistics LLC, a Texas limited liability company ("Supplier").'
)
TERM = (
    "The initial term of this Agreement shall commence on the Effective Date and continue for a period of "
    "three (3) years, unless terminated earlier in accordance with this Agreement."
)
LAW = (
    "This Agreement shall be governed by and construed in accordance with the laws of the State of New York, "
    "without regard to its conflict of laws principles."
)


def make_contract(seed: int = 7, pages: int = 5) -> ReaderDocument:
    """A multi-page contract: preamble on page 1, term on page 2, governing law on the last page."""
    rng = random.Random(seed)
    texts = []
    section = 1
    for page in range(1, pages + 1):
        lines = []
        if page == 1:
            lines += ["MASTER SERVICES AGREEMENT", "", PARTIES, ""]
        for _ in range(4):
            lines.append(f"{section}. {rng.choice(['SERVICES', 'PAYMENT', 'RECORDS', 'GENERAL'])}")
            body = " ".join(rng.sample(FILLER, 5))
            lines += [body[:90], body[90:], ""]  # a wrapped paragraph, as PDF text comes
            section += 1
        if page == 2:
            lines += [f"{section}. TERM", TERM, ""]
            section += 1
        if page == pages:
            lines += [f"{section}. GOVERNING LAW", LAW, ""]
        texts.append("\n".join(lines))
    return ReaderDocument.from_pages("doc-1", [(i + 1, t) for i, t in enumerate(texts)])


@pytest.fixture(scope="module")
def reader() -> LexicalReader:
    return LexicalReader.default()


def check_invariants(doc: ReaderDocument, answers: list[Answer]) -> None:
    assert answers
    if answers[0].text is None:
        assert len(answers) == 1 and 0.0 <= answers[0].score <= 1.0
        assert answers[0].char_start is None and answers[0].passage is None
        return
    spans = []
    for a in answers:
        assert a.text is not None and a.char_start is not None and a.char_end is not None
        assert doc.text[a.char_start : a.char_end] == a.text
        assert a.page == doc.page_for_offset(a.char_start)
        assert doc.text[a.passage_start : a.passage_start + len(a.passage)] == a.passage
        assert a.passage_start <= a.char_start and a.char_end <= a.passage_start + len(a.passage)
        assert 0.0 <= a.score <= 1.0
        spans.append((a.passage_start, a.passage_start + len(a.passage)))
    assert [a.score for a in answers] == sorted((a.score for a in answers), reverse=True)
    for i, (s1, e1) in enumerate(spans):  # distinct passages
        assert all(not (s1 < e2 and s2 < e1) for s2, e2 in spans[i + 1 :])


def test_key_terms_found_with_page_citations(reader):
    doc = make_contract()
    queries = [
        Query("Which state's or country's law governs this contract?", key="Governing Law"),
        Query("How long is the initial term of the agreement?"),
        Query("Who are the parties that signed this contract?", key="Parties"),
    ]
    law, term, parties = reader.answer(doc, queries, top_k=3)
    for answers in (law, term, parties):
        check_invariants(doc, answers)
    assert law[0].text == LAW and law[0].page == 5 and law[0].score > 0.5
    assert term[0].text == TERM and term[0].page == 2
    assert parties[0].text == PARTIES and parties[0].page == 1
    assert "GOVERNING LAW" in law[0].passage  # the heading comes along as context


def test_unrelated_question_gets_no_answer(reader):
    doc = make_contract()
    [answers] = reader.answer(doc, [Query("What is the boiling point of liquid nitrogen at sea level?")])
    assert len(answers) == 1 and answers[0].text is None and answers[0].score < 0.5


def test_whole_schema_is_deterministic_and_reports_progress(reader):
    doc = make_contract(seed=3)
    seen = []
    first = reader.answer(doc, load_schema("contract"), top_k=3, progress=seen.append)
    second = LexicalReader.default().answer(doc, load_schema("contract"), top_k=3)
    assert first == second
    assert seen[0] == 0.0 and seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
    for answers in first:
        check_invariants(doc, answers)


def test_empty_document_and_empty_query(reader):
    doc = ReaderDocument.from_pages("empty", [(1, "")])
    [a] = reader.answer(doc, [Query("governing law")])
    assert a[0].text is None
    [b] = reader.answer(make_contract(), [Query("")])
    assert b[0].text is None


WORDS = [
    "law",
    "term",
    "party",
    "Delaware",
    "notice",
    "the",
    "of",
    "shall",
    "Inc.",
    "No.",
    "1.1",
    "(a)",
    "pay",
]


@st.composite
def documents(draw):
    pages = []
    for _ in range(draw(st.integers(1, 4))):
        tokens = draw(
            st.lists(st.sampled_from(WORDS + [".", "\n", "\n\n", "   ", ";", "GOVERNING LAW"]), max_size=60)
        )
        pages.append(" ".join(tokens))
    return ReaderDocument.from_pages("h", [(i + 1, t) for i, t in enumerate(pages)])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents(), words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=4), k=st.integers(1, 4))
def test_invariants_hold_on_random_documents(doc, words, k):
    reader = LexicalReader.default()
    for answers in reader.answer(
        doc, [Query(" ".join(words)), Query("governing law", key="Governing Law")], top_k=k
    ):
        check_invariants(doc, answers)
        assert len(answers) <= k


def test_reader_document_from_page_rows():
    rows = [
        SimpleNamespace(number=2, char_start=4, char_end=7, text="def"),
        SimpleNamespace(number=1, char_start=0, char_end=3, text="abc"),
    ]
    doc = ReaderDocument.from_pages("d", rows)
    assert doc.text == "abc\ndef\n" and doc.pages == [(1, 0, 3), (2, 4, 7)]
    assert [doc.page_for_offset(i) for i in range(8)] == [1, 1, 1, 1, 2, 2, 2, 2]
    with pytest.raises(ValueError):
        doc.page_for_offset(8)
    with pytest.raises(ValueError):
        ReaderDocument.from_pages("d", [(1, 5, 8, "abc")])


def test_schemas_load():
    assert SCHEMAS == ("contract", "report")
    contract = schema_fields("contract")
    assert len(contract) == 41 and len(load_schema("contract")) == 41
    assert {"Governing Law", "Parties", "Anti-Assignment", "Cap on Liability"} <= {f["key"] for f in contract}
    assert all(set(f) == {"key", "question", "description"} and all(f.values()) for f in contract)
    report = schema_fields("report")
    assert {"Total Revenue", "Net Income", "Diluted EPS", "Risk Factors"} <= {f["key"] for f in report}
    with pytest.raises(ValueError, match="contract, report"):
        load_schema("nda")


def test_get_reader_modes(tmp_path):
    assert get_reader(SimpleNamespace(reader="lexical", model_path=None)).name == "lexical"
    assert get_reader(SimpleNamespace(reader="auto", model_path=tmp_path / "missing")).name == "lexical"
    with pytest.raises(RuntimeError, match="neural reader checkpoint not found at"):
        get_reader(SimpleNamespace(reader="neural", model_path=tmp_path / "missing"))
