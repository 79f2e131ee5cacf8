"""Fact needles: varied templates, held-out wording families, near-identical keys, absent questions, and their
placement in a haystack. Synthetic haystacks only (no ../shared/data), except the `data` tests."""

from __future__ import annotations

import random
import re
import statistics

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from longctx.config import get_settings
from longctx.datasets.facts import (
    FAMILIES,
    KEY_TYPES,
    KINDS,
    QUESTION_TEMPLATES,
    SENTENCE_TEMPLATES,
    TEMPLATES,
    VOCABULARY,
    fact_set,
    make_fact_document,
)
from longctx.model.tokenization import tokenize_text

_WORDS = re.findall(
    r"\w+",
    "the supplier shall deliver goods services within thirty days of receipt any notice under this agreement "
    "must be in writing and signed by both parties payment is due upon invoice licensee may not assign its "
    "rights without prior consent of licensor governing law state of delaware term renewal",
)


def _haystack(n_docs: int = 6, sentences: int = 300, seed: int = 0) -> tuple[str, ...]:
    rng = random.Random(seed)
    docs = []
    for _ in range(n_docs):
        sents = []
        for _ in range(sentences):
            sents.append(" ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 20))).capitalize() + ".")
            if rng.random() < 0.1:
                sents.append("\n\n")
        docs.append(" ".join(sents))
    return tuple(docs)


HAY = _haystack()
_IMPERATIVES = ("Give", "Tell", "State", "Report", "Provide", "Name", "Look", "Specify", "Identify", "Share")
_KEY_SHAPES = {
    "project": r"(Project|Operation|Program) [A-Z][a-z]+( II| III| 2| B)?",
    "account": r"[a-z]+ \d{4}-[A-H][12]?",
    "unit": r"[a-z]+ \d{2,3}[A-H]",
    "site": r"the ([A-Z][a-z]+ )?[A-Z][a-z]+ [A-Z][a-z]+ [a-z]+",
    "agreement": r"the ([a-z]+ )?[A-Z][a-z]+ [a-z]+ [a-z]+",
}


def _norm(s: str) -> str:
    """A template's wording with case, spacing and end punctuation ignored."""
    return " ".join(s.lower().split()).rstrip(" ?.!")


def _word_distance(a: str, b: str) -> int:
    x, y = a.split(), b.split()
    prev = list(range(len(y) + 1))
    for i, wa in enumerate(x, 1):
        cur = [i]
        for j, wb in enumerate(y, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (wa != wb)))
        prev = cur
    return prev[-1]


def _sentence_skeleton(f) -> str:
    (ks, ke), (vs, ve) = f.key_span, f.value_span
    pieces = sorted([(ks, ke, "{key}"), (vs, ve, "{value}")])
    out, cursor = [], 0
    for s, e, slot in pieces:
        out += [f.sentence[cursor:s], slot]
        cursor = e
    return "".join(out) + f.sentence[cursor:]


def _check_set(facts, questions, family, n_facts, near, absent) -> None:
    assert len(facts) == n_facts + near and len(questions) == n_facts + absent
    for f in facts:
        assert f.kind in KINDS and f.key_type in KEY_TYPES
        assert f.sentence[f.value_span[0] : f.value_span[1]] == f.value
        assert f.sentence[f.key_span[0] : f.key_span[1]] == f.key
        assert f.sentence.count(f.value) == 1 and f.sentence.count(f.key) == 1
        assert f.sentence[-1] in ".!?"
        template = TEMPLATES[family][f.kind][f.template]
        assert _sentence_skeleton(f) == template.sentence
        assert f.key_type in template.keys
    keys, values = [f.key for f in facts], [f.value for f in facts]
    assert len(set(keys)) == len(keys) and len(set(values)) == len(values)
    for v in values:
        assert not any(v.lower() in k.lower() or k.lower() in v.lower() for k in keys), v
        assert not any(v != w and v.lower() in w.lower() for w in values), v
    for i, q in enumerate(questions[:n_facts]):
        f = facts[q.fact]
        assert q.fact == i and q.key == f.key and q.key in q.text
        assert q.text.replace(q.key, "{key}", 1) in TEMPLATES[family][f.kind][f.template].questions
    for q in questions[n_facts:]:
        assert q.fact is None and q.key in q.text
        assert q.key not in keys and not any(q.key.lower() in f.sentence.lower() for f in facts)


# ---- templates --------------------------------------------------------------------------------------------
def test_template_tables_have_variety():
    assert len(KINDS) >= 8
    for family in FAMILIES:
        assert set(TEMPLATES[family]) == set(KINDS)
        questions = [q for kind in KINDS for q in QUESTION_TEMPLATES[family][kind]]
        sentences = [s for kind in KINDS for s in SENTENCE_TEMPLATES[family][kind]]
        assert len(set(map(_norm, questions))) == len(questions), "a question template repeats"
        assert len(set(map(_norm, sentences))) == len(sentences), "a sentence template repeats"
        for kind in KINDS:
            assert len(TEMPLATES[family][kind]) >= 6, (family, kind)
            for t in TEMPLATES[family][kind]:
                assert t.sentence.count("{key}") == 1 and t.sentence.count("{value}") == 1
                assert not t.sentence.startswith("{key}") and t.sentence[-1] in ".!?"
                assert len(t.questions) >= 3 and t.keys
                assert all(q.count("{key}") == 1 and "{value}" not in q for q in t.questions)
                if kind in ("count", "place", "duration"):
                    assert t.forms
        # the question styles the external tests use, in both families
        assert sum(not q.endswith("?") for q in questions) >= 0.3 * len(questions)
        assert sum(q.startswith(_IMPERATIVES) for q in questions) >= 0.2 * len(questions)
        # key and value in varying positions
        assert sum(s.startswith("{value}") for s in sentences) >= len(KINDS)
        assert sum(s.index("{value}") < s.index("{key}") for s in sentences) >= 0.2 * len(sentences)


def test_families_share_no_template_and_no_vocabulary():
    for a, b in ((SENTENCE_TEMPLATES, "sentence"), (QUESTION_TEMPLATES, "question")):
        train = {_norm(t) for kind in KINDS for t in a["train"][kind]}
        held_out = {_norm(t) for kind in KINDS for t in a["eval"][kind]}
        assert not train & held_out, f"{b} templates shared: {sorted(train & held_out)[:5]}"
    # no entry in common; and no word in common among the key and name lists (cities may share a country)
    for field in VOCABULARY["train"]:
        assert not set(VOCABULARY["train"][field]) & set(VOCABULARY["eval"][field]), field

    def words(family: str) -> set[str]:
        lists = [v for k, v in VOCABULARY[family].items() if k != "cities"]
        return {w.lower() for entries in lists for e in entries for w in re.findall(r"[\w']+", e)}

    assert not words("train") & words("eval")


def test_families_have_equal_difficulty():
    """Same counts per kind and a similar lexical overlap between questions and their sentences."""
    stop = set(
        re.findall(r"\w+", "the a an of for to at on in is are was be by with what which who how when where")
    )
    stop |= {"key", "value"}

    def overlap(family: str) -> float:
        scores = []
        for kind in KINDS:
            for t in TEMPLATES[family][kind]:
                sw = set(re.findall(r"[a-z]+", t.sentence.lower())) - stop
                for q in t.questions:
                    qw = set(re.findall(r"[a-z]+", q.lower())) - stop
                    scores.append(len(qw & sw) / max(len(qw), 1))
        return statistics.mean(scores)

    for kind in KINDS:
        train, held_out = TEMPLATES["train"][kind], TEMPLATES["eval"][kind]
        assert len(train) == len(held_out)
        assert [len(t.questions) for t in train] == [len(t.questions) for t in held_out]
    assert abs(overlap("train") - overlap("eval")) < 0.05


def test_generated_eval_wording_never_seen_in_train():
    train_q = {_norm(q) for kind in KINDS for q in QUESTION_TEMPLATES["train"][kind]}
    train_s = {_norm(s) for kind in KINDS for s in SENTENCE_TEMPLATES["train"][kind]}
    train_vocab = {w for words in VOCABULARY["train"].values() for w in words}
    for seed in range(200):
        facts, questions = fact_set(random.Random(seed), "eval", 5, near_identical=seed % 4, absent=2)
        for q in questions:
            assert _norm(q.text.replace(q.key, "{key}")) not in train_q, q.text
        for f in facts:
            assert _norm(_sentence_skeleton(f)) not in train_s, f.sentence
            assert not any(re.search(rf"\b{re.escape(w)}\b", f.key) for w in train_vocab), f.key


# ---- sets -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_fact_set_consistent(family):
    seen_kinds, seen_types = set(), set()
    for seed in range(60):
        facts, questions = fact_set(random.Random(seed), family, 5, absent=2)
        _check_set(facts, questions, family, 5, 0, 2)
        seen_kinds |= {f.kind for f in facts}
        seen_types |= {f.key_type for f in facts}
    assert seen_kinds == set(KINDS) and seen_types == set(KEY_TYPES)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("k", [3, 4, 6])
def test_near_identical_keys(family, k):
    for seed in range(25):
        facts, questions = fact_set(random.Random(seed), family, 5, near_identical=k, absent=1)
        _check_set(facts, questions, family, 5, k, 1)
        first, distractors = facts[0], facts[5:]
        assert len(distractors) == k
        for d in distractors:
            assert d.key != first.key and _word_distance(d.key, first.key) == 1, (first.key, d.key)
            assert (d.kind, d.template, d.key_type) == (first.kind, first.template, first.key_type)
            assert d.value != first.value
        # the first question names its key exactly: only the first fact carries that key
        assert questions[0].fact == 0 and [i for i, f in enumerate(facts) if f.key == questions[0].key] == [0]
        # the other question-bearing keys are not look-alikes of the first
        assert all(_word_distance(f.key, first.key) >= 1 and f.key not in first.key for f in facts[1:5])


@pytest.mark.parametrize("family", FAMILIES)
def test_absent_questions_are_plausible_siblings(family):
    for seed in range(40):
        facts, questions = fact_set(random.Random(seed), family, 4, near_identical=seed % 3, absent=3)
        _check_set(facts, questions, family, 4, seed % 3, 3)
        for q in questions[4:]:
            skeleton = q.text.replace(q.key, "{key}")
            siblings = [f for f in facts[:4] if skeleton in TEMPLATES[family][f.kind][f.template].questions]
            assert siblings, q.text
            assert any(re.fullmatch(_KEY_SHAPES[f.key_type], q.key) for f in siblings), (q.key, siblings)


def test_fact_set_deterministic_and_seed_sensitive():
    a = fact_set(random.Random(7), "train", 5, near_identical=3, absent=2)
    b = fact_set(random.Random(7), "train", 5, near_identical=3, absent=2)
    c = fact_set(random.Random(8), "train", 5, near_identical=3, absent=2)
    assert a == b and a != c
    # the same rng state draws unrelated sets in the two families (no shared values either)
    held_out = fact_set(random.Random(7), "eval", 5, near_identical=3, absent=2)
    assert not {f.value for f in a[0]} & {f.value for f in held_out[0]}


def test_fact_set_options_and_errors():
    facts, _ = fact_set(random.Random(1), "eval", 6, kinds=["code"], absent=0)
    assert {f.kind for f in facts} == {"code"}
    facts, _ = fact_set(random.Random(1), "eval", 5, same_kind=1.0)
    assert len({f.kind for f in facts}) == 1
    with pytest.raises(ValueError):
        fact_set(random.Random(1), "test", 5)
    with pytest.raises(ValueError):
        fact_set(random.Random(1), "eval", 5, kinds=["colour"])


# ---- documents --------------------------------------------------------------------------------------------
def _check_document(doc, target: int, depths, measure: bool = True) -> None:
    n = len(depths)
    assert len(doc.facts) == len(doc.fact_spans) == len(doc.depths)
    for f, (s, e), d in zip(doc.facts, doc.fact_spans, doc.depths, strict=True):
        assert doc.text[s:e] == f.sentence
        assert d == pytest.approx(s / len(doc.text))
    for q, spans in zip(doc.questions, doc.answer_spans, strict=True):
        if q.fact is None:
            assert spans == [] and q.key not in doc.text
        else:
            ((s, e),) = spans
            assert doc.text[s:e] == doc.facts[q.fact].value
            fs, fe = doc.fact_spans[q.fact]
            assert fs <= s < e <= fe
    # requested depths are met up to the room the fact sentences themselves take
    slack = 0.02 + sum(len(f.sentence) + 1 for f in doc.facts) / len(doc.text)
    for want, got in zip(depths, doc.depths[:n], strict=True):
        assert abs(got - want) <= slack, (want, got)
    assert abs(doc.length_tokens - target) <= 0.10 * target
    if measure:
        assert doc.length_tokens == len(tokenize_text(doc.text))


@pytest.mark.parametrize("family", FAMILIES)
def test_fact_document_spans_and_depths(family):
    depths = [0.1, 0.3, 0.5, 0.7, 0.9]
    doc = make_fact_document(4096, depths, seed=3, family=family, haystack=HAY, near_identical=3, absent=2)
    _check_document(doc, 4096, depths)
    assert doc.family == family and len(doc.facts) == 8 and len(doc.questions) == 7
    # spread depths: each fact within 2% of where it was asked to go
    assert all(abs(g - w) <= 0.02 for w, g in zip(depths, doc.depths, strict=False))


def test_fact_document_deterministic():
    kw = {"haystack": HAY, "near_identical": 3, "absent": 1}
    a = make_fact_document(2048, [0.2, 0.6], seed=5, **kw)
    b = make_fact_document(2048, [0.2, 0.6], seed=5, **kw)
    c = make_fact_document(2048, [0.2, 0.6], seed=6, **kw)
    assert (a.text, a.facts, a.questions, a.answer_spans) == (b.text, b.facts, b.questions, b.answer_spans)
    assert (a.text, a.facts) != (c.text, c.facts)


def test_fact_document_rejects_bad_arguments():
    with pytest.raises(ValueError):
        make_fact_document(2048, [], seed=0, haystack=HAY)
    with pytest.raises(ValueError):
        make_fact_document(2048, [1.5], seed=0, haystack=HAY)
    with pytest.raises(ValueError):
        make_fact_document(2048, [0.5], seed=0, family="dev", haystack=HAY)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 100_000),
    family=st.sampled_from(FAMILIES),
    depths=st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=6),
    near=st.integers(0, 5),
    absent=st.integers(0, 3),
    target=st.sampled_from([2048, 4096, 6000]),
)
def test_fact_document_property(seed, family, depths, near, absent, target):
    doc = make_fact_document(
        target, depths, seed, family=family, haystack=HAY, near_identical=near, absent=absent
    )
    _check_document(doc, target, depths)
    _check_set(doc.facts, doc.questions, family, len(depths), near, absent)


def test_fact_document_estimate_without_tokenizer():
    doc = make_fact_document(8192, [0.5], seed=1, haystack=HAY, measure=False)
    _check_document(doc, 8192, [0.5], measure=False)


# ---- on CUAD (../shared/data) -----------------------------------------------------------------------------
def _data_root():
    root = get_settings().data_root
    if root is None or not (root / "cuad" / "master_clauses.csv").exists():
        pytest.skip("needs ../shared/data/cuad (set LONGCTX_SHARED_DATA_DIR); not present on this machine")
    return root


@pytest.mark.data
def test_fact_document_on_cuad_validation():
    depths = [0.05, 0.25, 0.5, 0.75, 0.95]
    doc = make_fact_document(32_768, depths, seed=2, data_root=_data_root(), near_identical=3)
    _check_document(doc, 32_768, depths)
    assert doc.split == "validation"


@pytest.mark.data
def test_fact_document_one_million_tokens():
    depths = [0.0, 0.25, 0.5, 0.75, 1.0]
    doc = make_fact_document(
        1_000_000, depths, seed=4, split="train", data_root=_data_root(), near_identical=3
    )
    _check_document(doc, 1_000_000, depths)


def test_near_all_gives_every_asked_fact_its_rivals():
    facts, questions = fact_set(
        random.Random(11), "eval", n_facts=3, near_identical=3, absent=0, near_all=True
    )
    assert len(facts) == 3 + 3 * 3
    asked = [q for q in questions if q.fact is not None]
    assert len(asked) == 3
    for q in asked:
        key = facts[q.fact].key
        assert q.key == key and sum(f.key == key for f in facts) == 1
