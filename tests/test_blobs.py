from __future__ import annotations

import hashlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from longctx.storage.blobs import BlobStore, BlobTooLarge


def test_content_addressed_and_deduplicated(tmp_path):
    store = BlobStore(tmp_path)
    data = b"%PDF-1.4 contract bytes " * 100
    a = store.put_bytes(data)
    b = store.put_stream(io.BytesIO(data))
    assert a.sha256 == b.sha256 == hashlib.sha256(data).hexdigest()
    assert a.path == b.path and a.path.read_bytes() == data
    assert a.path.relative_to(tmp_path).parts[:2] == (a.sha256[:2], a.sha256[2:4])
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [a.path], "one blob, no temp files left"
    assert a.head == data[:8192]


def test_cap_stores_nothing(tmp_path):
    store = BlobStore(tmp_path)
    with pytest.raises(BlobTooLarge):
        store.put_chunks([b"x" * 600, b"y" * 600], max_bytes=1000)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("bad", ["../etc/passwd", "a" * 63, "G" * 64, "/" + "a" * 63])
def test_never_uses_foreign_names(tmp_path, bad):
    with pytest.raises(ValueError):
        BlobStore(tmp_path).path_for(bad)


def test_delete(tmp_path):
    store = BlobStore(tmp_path)
    blob = store.put_bytes(b"abc")
    assert store.exists(blob.sha256)
    assert store.delete(blob.sha256) is True
    assert store.delete(blob.sha256) is False


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=3000), max_size=8))
def test_chunked_hash_matches(tmp_path_factory, chunks):
    store = BlobStore(tmp_path_factory.mktemp("b"))
    blob = store.put_chunks(chunks)
    data = b"".join(chunks)
    assert blob.sha256 == hashlib.sha256(data).hexdigest() and blob.size == len(data)
    assert blob.path.read_bytes() == data
