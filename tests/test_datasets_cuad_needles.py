"""Datasets: CUAD span recovery and split, RULER-style needle tasks."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from longctx.config import get_settings
from longctx.datasets.cuad import NormalisedText, normalise, recover_spans, split_ids
from longctx.datasets.needles import TASKS, cuad_haystack, make_needle_example
from longctx.model.tokenization import tokenize_text

_TEXT = (
    "the supplier shall deliver goods services within thirty days of receipt any notice under this "
    "agreement must be in writing and signed by both parties payment is due upon invoice licensee may not "
    "assign its rights without prior consent of licensor governing law state of delaware term renewal"
)
_WORDS = _TEXT.split()


def _synthetic_haystack(n_docs: int = 6, sentences: int = 400, seed: int = 0) -> tuple[str, ...]:
    rng = random.Random(seed)
    docs = []
    for _ in range(n_docs):
        sents = []
        for _ in range(sentences):
            words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 20))]
            sents.append(" ".join(words).capitalize() + ".")
            if rng.random() < 0.1:
                sents.append("\n\n")
        docs.append(" ".join(sents))
    return tuple(docs)


HAY = _synthetic_haystack()


def _data_root():
    root = get_settings().data_root
    if root is None or not (root / "cuad" / "master_clauses.csv").exists():
        pytest.skip("needs ../shared/data/cuad (set LONGCTX_SHARED_DATA_DIR); not present on this machine")
    return root


# ---- needles (no data needed) ----------------------------------------------------------------------------
def _check_example(ex, target: int, depth: float) -> None:
    assert ex.answers, ex.task
    for (s, e), value in zip(ex.answers, ex.answer_texts, strict=True):
        assert ex.text[s:e] == value
        assert any(ns <= s and e <= ne for ns, ne in ex.needles), "answer outside its needle"
    values = ex.answer_texts
    if ex.task == "variable_tracking":
        assert all(re.fullmatch(r"[A-Z]{5}", v) for v in values)
    else:
        assert all(re.fullmatch(r"\d{7}", v) for v in values)
        for (s, e), v in zip(ex.answers, values, strict=True):
            needle = next(ex.text[a:b] for a, b in ex.needles if a <= s and e <= b)
            assert needle.endswith(f" is {v}.")
    assert abs(ex.answers[0][0] / len(ex.text) - depth) <= 0.05
    assert abs(ex.length_tokens - target) <= 0.10 * target
    assert ex.length_tokens == len(tokenize_text(ex.text))


@pytest.mark.parametrize("task", TASKS)
def test_needle_tasks_synthetic_haystack(task):
    ex = make_needle_example(task, 2048, 0.4, seed=3, haystack=HAY)
    _check_example(ex, 2048, 0.4)
    if task == "multi_value":
        assert len(ex.answers) == 4
        key = re.search(r"for ([a-z]+-[a-z]+)\?", ex.question).group(1)
        assert all(f"for {key} is" in ex.text[a:b] for a, b in ex.needles)
    if task == "multi_query":
        assert len(ex.answers) == 3
        for (s, _), key in zip(ex.answers, re.findall(r"[a-z]+-[a-z]+", ex.question), strict=True):
            assert ex.text[:s].endswith(f"for {key} is ")
    if task == "multi_key":
        assert len(ex.answers) == 1 and len(ex.needles) == 4


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    task=st.sampled_from(TASKS),
    depth=st.floats(0.0, 1.0, allow_nan=False),
    seed=st.integers(0, 10_000),
    target=st.sampled_from([2048, 3000, 6000]),
)
def test_needle_placement_property(task, depth, seed, target):
    ex = make_needle_example(task, target, depth, seed, haystack=HAY)
    _check_example(ex, target, depth)


def test_needles_deterministic():
    a = make_needle_example("multi_key", 2048, 0.25, seed=11, haystack=HAY)
    b = make_needle_example("multi_key", 2048, 0.25, seed=11, haystack=HAY)
    c = make_needle_example("multi_key", 2048, 0.25, seed=12, haystack=HAY)
    assert (a.text, a.question, a.answers) == (b.text, b.question, b.answers)
    assert (a.text, a.question) != (c.text, c.question)


def _resolve_chains(ex) -> dict[str, str]:
    assign = {}
    for s, e in ex.needles:
        m = re.fullmatch(r"VAR ([A-Z]+) = (VAR [A-Z]+|\d+)\.", ex.text[s:e])
        assert m, ex.text[s:e]
        assign[m.group(1)] = m.group(2)

    def value(name: str, depth: int = 0) -> str:
        rhs = assign[name]
        assert depth < 50
        return value(rhs[4:], depth + 1) if rhs.startswith("VAR ") else rhs

    return {name: value(name) for name in assign}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_variable_tracking_chain(seed):
    ex = make_needle_example("variable_tracking", 2048, 0.5, seed=seed, haystack=HAY, n_hops=5, n_chains=3)
    target = re.search(r"value (\d+)\?", ex.question).group(1)
    values = _resolve_chains(ex)
    expected = {n for n, v in values.items() if v == target}
    assert set(ex.answer_texts) == expected and len(expected) == 5
    assert len(values) == 15
    # every statement refers to a variable defined earlier in the text
    for s, e in ex.needles:
        m = re.fullmatch(r"VAR [A-Z]+ = VAR ([A-Z]+)\.", ex.text[s:e])
        if m:
            assert 0 <= ex.text.find(f"VAR {m.group(1)} = ") < s


def test_normalised_text_maps_back_to_raw():
    raw = "Section 2.1\n\n  The \u201cLicensee\u201d  shall\tpay \u2013 within 30 days.\n"
    nt = NormalisedText(raw)
    s, e, method, pieces = nt.locate('the "Licensee" shall pay - within')
    assert method == "casefold" and pieces == 1
    assert normalise(raw[s:e]).lower() == 'the "licensee" shall pay - within'
    s, e, method, _ = nt.locate("The \u201cLicensee\u201d shall pay")
    assert method == "exact" and raw[s:e] == "The \u201cLicensee\u201d  shall\tpay"
    s, e, method, pieces = nt.locate("Section 2.1<omitted>within 30 days.")
    assert pieces == 2 and raw[s:e].startswith("Section") and raw[s:e].endswith("days.")
    assert nt.locate("not in the text") is None


# ---- real data ---------------------------------------------------------------------------------------------
@pytest.mark.data
def test_cuad_spans_exact_and_recovery_rate():
    root = _data_root()
    ids = sorted(c for side in split_ids(root).values() for c in side)[::12]
    contracts, stats = recover_spans(root, ids=ids)
    assert len(contracts) >= 25
    found, total = stats.counts()
    assert total > 300 and found / total > 0.90, stats.summary()
    checked = 0
    for cs in contracts:
        for spans in cs.spans.values():
            for c in spans:
                if c.pieces != 1:
                    continue
                got, want = normalise(cs.text[c.start : c.end]), normalise(c.clause.replace("<omitted>", " "))
                if c.method == "exact":
                    assert got == want
                elif c.method == "casefold":
                    assert got.lower() == want.lower()
                else:
                    assert got.lower().replace(" ", "") == want.lower().replace(" ", "")
                checked += 1
        assert set(cs.spans) == set(cs.labelled) and len(cs.labelled) == 41
    assert checked > 300


@pytest.mark.data
def test_cuad_split_separation():
    root = _data_root()
    sides = split_ids(root)
    assert not set(sides["train"]) & set(sides["validation"])
    assert len(sides["validation"]) == 50 and len(sides["train"]) == 359


@pytest.mark.data
@pytest.mark.parametrize("task", ["single", "variable_tracking"])
def test_needles_on_cuad_haystack(task):
    root = _data_root()
    train = set(cuad_haystack("train", root))
    val = set(cuad_haystack("validation", root))
    assert not train & val
    for split, target, depth in (("train", 2048, 0.1), ("validation", 32768, 0.85)):
        ex = make_needle_example(task, target, depth, seed=7, split=split, data_root=root)
        _check_example(ex, target, depth)
        other = val if split == "train" else train
        # the haystack comes from its own side of the split only
        probe = ex.text[ex.needles[-1][1] + 200 : ex.needles[-1][1] + 400] or ex.text[200:400]
        assert not any(probe in d for d in other)
