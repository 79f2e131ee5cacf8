"""Generated contract QA data: paraphrased field questions and short contracts, train/eval wording disjoint.

Fast and self-contained (no external data): the question pools cover the contract schema, the families share
no wording, gold spans hold the expected values, and absent clauses really are absent from the text.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from longctx.analysis.schemas import schema_fields
from longctx.datasets import contract_questions as cq
from longctx.datasets import short_contracts as sc


def _norm(text: str) -> str:
    """Case, punctuation and whitespace removed: two questions that differ only in those are the same."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def _flat(text: str) -> str:
    return " ".join(text.split()).lower()


@pytest.fixture(scope="module")
def contracts() -> dict[str, list[sc.ShortContract]]:
    return {family: sc.contract_set(150, family, seed=3) for family in sc.FAMILIES}


# ---- free questions ---------------------------------------------------------------------------------------
def test_every_schema_field_has_questions_in_both_families():
    schema = {f["key"]: f["question"] for f in schema_fields("contract")}
    assert cq.all_fields() == list(schema)
    assert len(schema) == 41
    assert set(cq.CORE_FIELDS) <= set(schema)
    for key, schema_question in schema.items():
        need = 6 if key in cq.CORE_FIELDS else 4
        pools = {family: cq.field_questions(key, family) for family in cq.FAMILIES}
        for family, pool in pools.items():
            assert len(pool) >= need, (key, family)
            assert len({_norm(q) for q in pool}) == len(pool), (key, family)
            assert _norm(schema_question) not in {_norm(q) for q in pool}, (key, family)
        assert not {_norm(q) for q in pools["train"]} & {_norm(q) for q in pools["eval"]}, key


def test_no_question_is_shared_between_families_across_fields():
    train = {_norm(q) for k in cq.all_fields() for q in cq.field_questions(k, "train")}
    evaluation = {_norm(q) for k in cq.all_fields() for q in cq.field_questions(k, "eval")}
    assert not train & evaluation


def test_field_questions_rejects_unknown_keys_and_families():
    with pytest.raises(KeyError):
        cq.field_questions("Governing law", "train")  # the schema spells it "Governing Law"
    with pytest.raises(ValueError):
        cq.field_questions("Governing Law", "test")
    pool = cq.field_questions("Parties", "eval")
    pool.clear()
    assert cq.field_questions("Parties", "eval")  # callers get a copy


# ---- template tables --------------------------------------------------------------------------------------
def test_train_and_eval_template_tables_are_disjoint():
    assert set(sc.TEMPLATES["train"]) == set(sc.TEMPLATES["eval"])
    train = {_flat(t) for t in sc.template_texts("train")}
    evaluation = {_flat(t) for t in sc.template_texts("eval")}
    assert len(train) > 250 and len(evaluation) > 250
    assert not train & evaluation
    for table in sc.TEMPLATES["train"]:
        a = {_flat(str(t)) for t in sc.TEMPLATES["train"][table]}
        b = {_flat(str(t)) for t in sc.TEMPLATES["eval"][table]}
        assert not a & b, table
    # same difficulty: every clause topic has as many wordings in both families
    for table in sc.TEMPLATES["train"]:
        if table.startswith(("clause:", "governing_law", "term_", "preamble")):
            assert len(sc.TEMPLATES["train"][table]) == len(sc.TEMPLATES["eval"][table]), table


def _owner(table: str) -> str | None:
    kind, _, name = table.partition(":")
    if kind == "clause":
        return name
    if table in ("governing_law", "forum"):
        return "governing_law"
    if table in ("term_duration", "term_date", "term_combined", "renewal"):
        return "term"
    if kind == "heading" and name in (*sc.TOPICS, "governing_law", "term", "term_termination"):
        return "term" if name == "term_termination" else name
    return None


def test_templates_mention_only_their_own_topic():
    """Keyword sets are disjoint by construction: filler never names a clause topic, clauses only their own,
    and every clause wording contains one of its topic's keywords (so the absence check covers it)."""
    for family in sc.FAMILIES:
        for table, entries in sc.TEMPLATES[family].items():
            own = _owner(table)
            for entry in entries:
                text = " ".join(entry) if isinstance(entry, tuple) else entry
                for topic in sc.TOPIC_KEYWORDS:
                    if topic != own:
                        assert not sc.mentions(text, topic), (family, table, topic, text)
                if own is not None and table.startswith(("clause:", "governing_law", "term_", "renewal")):
                    assert sc.mentions(text, own), (family, table, text)


# ---- short contracts --------------------------------------------------------------------------------------
@pytest.mark.parametrize("pages", [1, 2, 7, 30])
@pytest.mark.parametrize("family", sc.FAMILIES)
def test_page_count_and_page_breaks(family, pages):
    c = sc.short_contract(11, family, pages=pages)
    assert len(c.pages) == pages
    assert c.text == "\f".join(c.pages)
    assert c.text.count("\f") == pages - 1
    for page in c.pages:
        assert 250 <= len(page.split()) <= 650
    assert c.family == family and c.seed == 11
    assert c.title and c.title.lower() in _flat(c.text)


def test_drawn_page_counts_cover_the_range_skewed_short(contracts):
    counts = [len(c.pages) for cs in contracts.values() for c in cs]
    assert min(counts) == 1 and max(counts) > 20 and all(1 <= n <= sc.MAX_PAGES for n in counts)
    assert sum(n <= 4 for n in counts) > sum(n > 12 for n in counts)


def test_invalid_arguments():
    with pytest.raises(ValueError):
        sc.short_contract(0, "eval", pages=0)
    with pytest.raises(ValueError):
        sc.short_contract(0, "eval", pages=31)
    with pytest.raises(ValueError):
        sc.short_contract(0, "dev")


def _gold_text(c: sc.ShortContract, q: sc.ContractQuestion) -> str:
    return _flat(" ".join(c.text[s:e] for s, e in q.gold))


def test_gold_spans_hold_the_expected_values(contracts):
    seen = set()
    for cs in contracts.values():
        for c in cs:
            for q in c.questions:
                if not q.gold:
                    continue
                gold = _gold_text(c, q)
                seen.add(q.field)
                if q.field == "governing_law":
                    assert q.expected.lower() in gold, (q.expected, gold)
                elif q.field == "parties":
                    names = q.expected.split("; ")
                    assert len(names) == 2
                    assert all(_flat(n) in gold for n in names), (names, gold)
                elif q.field == "term":
                    m = re.fullmatch(r"(\d+) (year|month)s?", q.expected)
                    if m:
                        assert re.search(rf"\b{m.group(1)}\b", gold) and m.group(2) in gold, (
                            q.expected,
                            gold,
                        )
                    else:
                        assert q.expected.lower() in gold, (q.expected, gold)
                else:
                    assert q.field in sc.TOPICS
                    assert sc.mentions(gold, q.field), (q.field, gold)
    assert {"parties", "governing_law", "term"} <= seen and len(seen) > 10


def test_a_governing_law_clause_names_its_place():
    c = next(c for c in sc.contract_set(20, "eval", seed=5) if c.present["governing_law"])
    q = next(q for q in c.questions if q.field == "governing_law")
    assert q.gold and q.expected
    assert q.expected in " ".join(c.text[s:e] for s, e in q.gold).replace("\n", " ")
    assert sc.mentions(c.text[q.gold[0][0] : q.gold[0][1]], "governing_law")


def test_absent_topics_have_no_gold_and_no_keywords(contracts):
    n_absent = {"governing_law": 0, "term": 0, "non_compete": 0}
    for cs in contracts.values():
        for c in cs:
            flat = _flat(c.text)
            for topic, present in c.present.items():
                if present:
                    assert topic == "parties" or c.gold.get(topic), topic
                    continue
                assert topic not in c.gold
                assert sc.mentions(c.text, topic) == [], (c.family, c.seed, topic)
                if topic in n_absent:
                    n_absent[topic] += 1
                if topic == "governing_law":
                    assert "governed by" not in flat and "laws of" not in flat
                if topic == "non_compete":
                    assert "non-compet" not in flat and "compete" not in flat
            for q in c.questions:
                assert (q.gold == []) == (not c.present[q.field])
                assert (q.expected is None) == (q.gold == [])
    assert all(n > 10 for n in n_absent.values()), n_absent


def test_questions_per_contract_and_their_families(contracts):
    for family, cs in contracts.items():
        other = "train" if family == "eval" else "eval"
        for c in cs:
            fields = [q.field for q in c.questions]
            assert sorted(set(fields)) == sorted(fields)
            assert {"parties", "governing_law", "term"} <= set(fields)
            absent_asked = [f for f in fields if f in sc.TOPICS and not c.present[f]]
            assert 2 <= len(absent_asked) <= 3
            for q in c.questions:
                keys = sc.CORE_TOPICS.get(q.field, (sc.TOPICS.get(q.field),))
                assert any(q.text in cq.field_questions(k, family) for k in keys), q.text
                assert not any(q.text in cq.field_questions(k, other) for k in keys), q.text


def test_present_topics_are_asked_too(contracts):
    answerable = absent = 0
    for cs in contracts.values():
        for c in cs:
            for q in c.questions:
                if q.field in sc.TOPICS:
                    answerable += bool(q.gold)
                    absent += not q.gold
    assert answerable > 0.25 * (answerable + absent)


def test_deterministic_for_a_seed():
    for family in sc.FAMILIES:
        a = sc.contract_set(12, family, seed=9)
        assert a == sc.contract_set(12, family, seed=9)
        for c in a:
            assert sc.short_contract(c.seed, family) == c
        assert sc.short_contract(5, family, pages=3) == sc.short_contract(5, family, pages=3)
    assert sc.contract_set(5, "train", seed=1) != sc.contract_set(5, "train", seed=2)
    assert sc.short_contract(4, "train", pages=2).text != sc.short_contract(4, "eval", pages=2).text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    family=st.sampled_from(sc.FAMILIES),
    pages=st.one_of(st.none(), st.integers(min_value=1, max_value=sc.MAX_PAGES)),
)
def test_spans_are_valid_for_any_seed(seed, family, pages):
    c = sc.short_contract(seed, family, pages=pages)
    assert 1 <= len(c.pages) <= sc.MAX_PAGES and (pages is None or len(c.pages) == pages)
    assert c.text == "\f".join(c.pages)
    for spans in [*c.gold.values(), *(q.gold for q in c.questions)]:
        assert spans == sorted(spans)
        for s, e in spans:
            assert 0 <= s < e <= len(c.text)
            piece = c.text[s:e]
            assert piece.strip() == piece and piece.strip()
            assert "\f" not in piece
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    for topic, present in c.present.items():
        if not present:
            assert not sc.mentions(c.text, topic)
