"""Offsets are the contract with citations: property tests that every offset maps to the right page."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from longctx.ingest import MEDIA_TEXT, PageText, ParsedDocument, assemble_pages
from longctx.ingest.textnorm import normalize_page

page_texts = st.lists(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
    | st.sampled_from(["", "\n", "a\nb", "\n\n", "é€😀"]),
    min_size=1,
    max_size=12,
)


def test_assemble_layout():
    doc = assemble_pages(["ab", "", "c\n"], MEDIA_TEXT, {"title": "x"})
    assert doc.text == "ab\n\nc\n\n"
    assert doc.pages == [PageText(1, 0, 2, "ab"), PageText(2, 3, 3, ""), PageText(3, 4, 6, "c\n")]
    assert [doc.page_for_offset(i) for i in range(len(doc.text))] == [1, 1, 1, 2, 3, 3, 3]
    assert doc.page_span(0, 5) == (1, 3)
    assert doc.page_span(1, 3) == (1, 1)  # end is exclusive: offset 3 not included
    assert doc.page_span(4, 4) == (3, 3)
    assert doc.metadata == {"title": "x"}


@pytest.mark.parametrize("offset", [-1, 7, 100])
def test_page_for_offset_out_of_range(offset):
    doc = assemble_pages(["ab", "", "c\n"], MEDIA_TEXT)
    with pytest.raises(ValueError):
        doc.page_for_offset(offset)


def test_page_span_rejects_reversed():
    doc = assemble_pages(["abc"], MEDIA_TEXT)
    with pytest.raises(ValueError):
        doc.page_span(2, 1)


@settings(max_examples=200, deadline=None)
@given(page_texts)
def test_offsets_exact_for_every_character(texts):
    doc = assemble_pages(texts, MEDIA_TEXT)
    assert doc.text == "".join(t + "\n" for t in texts)
    expected = []
    for number, t in enumerate(texts, start=1):
        expected += [number] * (len(t) + 1)  # page text plus its separator
    assert [doc.page_for_offset(i) for i in range(len(doc.text))] == expected
    for p, t in zip(doc.pages, texts, strict=True):
        assert doc.text[p.char_start : p.char_end] == t == p.text
        assert doc.text[p.char_end] == "\n"
    with pytest.raises(ValueError):
        doc.page_for_offset(len(doc.text))


@settings(max_examples=100, deadline=None)
@given(page_texts, st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3))
def test_json_round_trip(texts, metadata):
    doc = assemble_pages(texts, "text/markdown", metadata)
    data = json.loads(json.dumps(doc.to_json()))
    back = ParsedDocument.from_json(data)
    assert back == doc
    assert back.pages == doc.pages


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_normalize_page_strips_controls(text):
    out = normalize_page(text)
    assert "\r" not in out
    assert all(c in "\n\t" or not (ord(c) < 32 or ord(c) == 127) for c in out)
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in out)
    out.encode("utf-8")  # always valid UTF-8
    assert normalize_page(out) == out  # idempotent


def test_normalize_page_examples():
    assert normalize_page("a\r\nb\rc\x00d\x0ce\tf\x7f") == "a\nb\ncde\tf"
