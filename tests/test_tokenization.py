"""Token char offsets are exact and the chunk layout covers every token once as owner."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from longctx.model import tokenization as tk


def test_packaged_tokenizer_is_verified():
    tok = tk.load_tokenizer()
    assert tok.get_vocab_size() == 30522
    assert tk.file_sha256(tk.TOKENIZER_DIR / "tokenizer.json") == tk.TOKENIZER_SHA256


def test_tampered_tokenizer_is_refused(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_bytes((tk.TOKENIZER_DIR / "tokenizer.json").read_bytes() + b" ")
    with pytest.raises(tk.TokenizerIntegrityError):
        tk.load_tokenizer(bad)


def test_offsets_point_at_the_words():
    text = "This Agreement is governed by the laws of the State of Delaware.\n\nSection 2. Term"
    doc = tk.tokenize_text(text)
    words = [text[a:b] for a, b in doc.offsets]
    assert words[:5] == ["This", "Agreement", "is", "governed", "by"]
    assert "Delaware" in words
    i = words.index("Delaware")
    assert doc.char_span(i, i + 1) == (text.index("Delaware"), text.index("Delaware.") + 9)
    assert doc.token_at_char(text.index("Delaware") + 3) == i


def test_long_text_segments_do_not_change_tokens(monkeypatch):
    text = ("The Licensee shall pay royalties quarterly. " * 50 + "\n") * 20
    whole = tk.tokenize_text(text)
    monkeypatch.setattr(tk, "SEGMENT_CHARS", 997)
    pieces = tk.tokenize_text(text)
    assert np.array_equal(whole.ids, pieces.ids) and np.array_equal(whole.offsets, pieces.offsets)


def test_empty_text():
    doc = tk.tokenize_text("")
    assert len(doc) == 0
    assert tk.chunk_layout(doc).n_chunks == 0


def test_cache_roundtrip(tmp_path):
    doc = tk.tokenize_text("Net sales increased 8% to $94.9 billion.")
    path = tmp_path / "t.npz"
    doc.save(path)
    back = tk.TokenizedDocument.load(path)
    assert np.array_equal(doc.ids, back.ids) and np.array_equal(doc.offsets, back.offsets)


_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=0,
    max_size=400,
)


@settings(max_examples=60, deadline=None)
@given(_text, st.integers(min_value=7, max_value=64))
def test_offsets_monotone_and_in_range(text, segment):
    tk.SEGMENT_CHARS, saved = segment, tk.SEGMENT_CHARS
    try:
        doc = tk.tokenize_text(text)
    finally:
        tk.SEGMENT_CHARS = saved
    assert doc.offsets.shape == (len(doc), 2)
    if len(doc):
        assert (doc.offsets[:, 0] >= 0).all() and (doc.offsets[:, 1] <= len(text)).all()
        assert (doc.offsets[:, 0] < doc.offsets[:, 1]).all()
        assert (np.diff(doc.offsets[:, 0]) >= 0).all()
        for a, b in doc.offsets:
            assert text[a:b].strip() == text[a:b], "a token never starts or ends in whitespace"


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 300), st.integers(1, 40), st.data())
def test_chunk_layout_covers_every_token(n, chunk, data):
    overlap = data.draw(st.integers(0, chunk - 1))
    ids = np.arange(1000, 1000 + n, dtype=np.int32)
    doc = tk.TokenizedDocument(ids, np.stack([np.arange(n), np.arange(n) + 1], axis=1).astype(np.int64))
    lay = tk.chunk_layout(doc, chunk_size=chunk, overlap=overlap)
    assert lay.input_ids.shape[1] == chunk + 2
    seen = lay.token_index[lay.token_index >= 0]
    assert set(seen.tolist()) == set(range(n))
    # Every token's owner position holds that token.
    assert np.array_equal(lay.token_index[lay.owner_chunk, lay.owner_pos], np.arange(n))
    assert np.array_equal(lay.input_ids[lay.owner_chunk, lay.owner_pos], ids)
    # Rows are [CLS] tokens [SEP] [PAD]..., mask marks exactly the non-pad part.
    sp = tk.special_ids(tk.load_tokenizer())
    for row, mask in zip(lay.input_ids, lay.attention_mask, strict=True):
        length = int(mask.sum())
        assert row[0] == sp["[CLS]"] and row[length - 1] == sp["[SEP]"]
        assert (row[length:] == sp["[PAD]"]).all()
    if n and overlap == 0:
        assert lay.n_chunks == -(-n // chunk)
