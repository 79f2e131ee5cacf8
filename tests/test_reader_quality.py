"""The packaged network really reads -- and these checks fail when it does not.

Every check runs the trained pipeline's span reader *alone* (no BM25 passages pinned, no lexical input), on
documents and questions generated in the held-out ``eval`` wording family (sentence and question templates
the network never saw in training), so neither a lexical shortcut nor memorised wording can pass them. The
same battery is run once more with the trained weights re-initialised at random (the frozen encoder kept):
that reader must fail it, which is what shows the checks can fail.
"""

from __future__ import annotations

import copy
import random

import pytest
import torch

from longctx.analysis import Query, ReaderDocument
from longctx.analysis.factory import PACKAGED_CHECKPOINT
from longctx.analysis.pipeline import ReaderPipeline
from longctx.datasets.facts import make_fact_document
from longctx.datasets.short_contracts import contract_set, short_contract
from longctx.evaluation.report import spans_found

pytestmark = pytest.mark.skipif(
    not (PACKAGED_CHECKPOINT / "model.safetensors").exists(), reason="no packaged checkpoint in this build"
)

DEPTHS = (0.05, 0.3, 0.55, 0.8, 0.95)


@pytest.fixture(scope="module")
def network() -> ReaderPipeline:
    return ReaderPipeline.load(PACKAGED_CHECKPOINT, encoder_dtype="float32").variant(pins=False)


@pytest.fixture(scope="module")
def random_network(network) -> ReaderPipeline:
    from longctx.model.reader_model import _init

    model = copy.deepcopy(network.model)
    torch.manual_seed(1234)
    for name, child in model.named_children():
        if name != "local":
            child.apply(_init)
    with torch.no_grad():
        model.evidence_skip.fill_(0.5)
    return ReaderPipeline(model, pins=False)


@pytest.fixture(scope="module")
def haystack() -> list[str]:
    """Contract prose that is not CUAD (no shared data needed): generated contracts' pages."""
    return [short_contract(s, "train", pages=8).text for s in range(40, 46)]


def fact_battery(reader: ReaderPipeline, haystack: list[str], length: int, docs: int = 3, near: int = 0):
    found, absent_ok, n, n_absent = 0, 0, 0, 0
    for i in range(docs):
        fd = make_fact_document(length, DEPTHS, 900 + i, "eval", haystack=haystack, near_identical=near)
        doc = ReaderDocument.from_text(f"q-{length}-{i}", fd.text)
        answers = reader.answer(doc, [Query(q.text) for q in fd.questions], top_k=1)
        for q, spans, a in zip(fd.questions, fd.answer_spans, answers, strict=True):
            if q.fact is None:
                n_absent += 1
                absent_ok += a[0].text is None
            elif q.fact < len(DEPTHS):
                n += 1
                found += all(spans_found(a, spans, 1))
    return found / n, absent_ok / max(n_absent, 1)


def contract_battery(reader: ReaderPipeline, n: int = 8):
    right, total, absent_ok, n_absent = 0, 0, 0, 0
    for c in contract_set(n, "eval", seed=77):
        doc = ReaderDocument.from_pages(f"c{c.seed}", [(i + 1, p) for i, p in enumerate(c.pages)])
        answers = reader.answer(doc, [Query(q.text) for q in c.questions], top_k=1)
        for q, a in zip(c.questions, answers, strict=True):
            top = a[0]
            if q.gold:
                total += 1
                right += top.text is not None and any(
                    top.char_start < e and s < top.char_end for s, e in q.gold
                )
            else:
                n_absent += 1
                absent_ok += top.text is None
    return right / total, absent_ok / max(n_absent, 1)


def test_finds_unseen_needles_at_every_depth(network, haystack):
    found, absent = fact_battery(network, haystack, 4096)
    assert found >= 0.9, found
    assert absent >= 0.6, absent


def test_finds_the_asked_key_among_near_identical_keys(network, haystack):
    found, _ = fact_battery(network, haystack, 4096, docs=2, near=3)
    assert found >= 0.8, found


def test_answers_short_contracts_and_leaves_absent_clauses_unanswered(network):
    right, absent = contract_battery(network)
    assert right >= 0.8, right
    assert absent >= 0.7, absent


def test_the_battery_fails_with_random_weights(random_network, haystack):
    """Re-initialise the trained parts: the same checks must fail, or they prove nothing."""
    found, _ = fact_battery(random_network, haystack, 4096, docs=2)
    right, _ = contract_battery(random_network, n=4)
    assert found < 0.5, found
    assert right < 0.5, right


def test_length_does_not_change_what_the_network_finds(network, haystack):
    """The same needle and question at 4K and 32K tokens: found in both (bounded global budget)."""
    rng = random.Random(5)
    seeds = [rng.randrange(10_000) for _ in range(2)]
    for seed in seeds:
        hits = []
        for length in (4096, 32768):
            fd = make_fact_document(length, (0.5,), seed, "eval", haystack=haystack, absent=0)
            doc = ReaderDocument.from_text("len", fd.text)
            [a] = network.answer(doc, [Query(fd.questions[0].text)], top_k=1)
            hits.append(all(spans_found(a, fd.answer_spans[0], 1)))
        assert hits == [True, True], (seed, hits)
