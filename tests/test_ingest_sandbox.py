"""The sandbox: a child that hangs, bloats or crashes fails only its own document, with a reason."""

from __future__ import annotations

import os
import time

import pytest

from longctx.ingest import IngestError, ParseLimits, parse_file
from longctx.ingest.sandbox import TEST_HOOKS_ENV
from tests.pdfgen import encrypt_pdf, make_pdf, truncated_pdf


@pytest.fixture()
def pdf_path(tmp_path):
    path = tmp_path / "doc.pdf"
    path.write_bytes(make_pdf(["alpha page", "beta page"]))
    return path


@pytest.fixture()
def hooks(monkeypatch):
    monkeypatch.setenv(TEST_HOOKS_ENV, "1")


def reason_of(path, **kw) -> str:
    with pytest.raises(IngestError) as info:
        parse_file(path, **kw)
    return info.value.reason


def test_parse_file_matches_inprocess(pdf_path):
    from longctx.ingest import parse_path_inprocess

    doc = parse_file(pdf_path, limits=ParseLimits())
    assert doc == parse_path_inprocess(pdf_path, limits=ParseLimits())
    assert [p.text for p in doc.pages] == ["alpha page", "beta page"]


def test_parse_file_reasons_cross_the_process_boundary(tmp_path):
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(encrypt_pdf(make_pdf(["x"]), user_password="secret"))
    assert reason_of(locked) == "password required: the PDF is encrypted"
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(truncated_pdf(make_pdf(["some text"] * 4), keep=0.3))
    assert reason_of(cut).startswith("not a valid PDF")
    image = tmp_path / "photo.pdf"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    assert reason_of(image) == "unsupported file type: image (PNG)"


def test_max_pages(tmp_path):
    path = tmp_path / "long.pdf"
    path.write_bytes(make_pdf(["p"] * 7))
    assert reason_of(path, limits=ParseLimits(max_pages=5)) == "too many pages: 7 > limit 5"


def test_timeout_kills_child(pdf_path, hooks):
    started = time.monotonic()
    reason = reason_of(pdf_path, limits=ParseLimits(parse_timeout_s=1.0), _test_action="sleep")
    assert reason == "parsing timed out after 1 s"
    assert time.monotonic() - started < 8


def test_memory_cap(pdf_path, hooks):
    reason = reason_of(pdf_path, limits=ParseLimits(parse_memory_mb=512), _test_action="alloc")
    assert reason == "parser ran out of memory (limit 512 MB)"


def test_crash_is_reported(pdf_path, hooks):
    assert reason_of(pdf_path, _test_action="segv") == "parser crashed (signal 11)"


def test_unexpected_exception_becomes_reason(pdf_path, hooks):
    assert reason_of(pdf_path, _test_action="raise") == "parser error: RuntimeError: test hook"


def test_hooks_are_inert_without_env(pdf_path, monkeypatch):
    monkeypatch.delenv(TEST_HOOKS_ENV, raising=False)
    doc = parse_file(pdf_path, limits=ParseLimits(parse_timeout_s=5.0), _test_action="sleep")
    assert len(doc.pages) == 2


def test_pool_recovers_after_failures(pdf_path, hooks):
    reason_of(pdf_path, limits=ParseLimits(parse_timeout_s=0.5), _test_action="sleep")
    reason_of(pdf_path, _test_action="segv")
    assert len(parse_file(pdf_path).pages) == 2


def test_parallel_callers(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    paths = []
    for i in range(8):
        path = tmp_path / f"d{i}.pdf"
        path.write_bytes(make_pdf([f"document {i} page {j}" for j in range(3)]))
        paths.append(path)
    with ThreadPoolExecutor(4) as pool:
        docs = list(pool.map(parse_file, paths))
    for i, doc in enumerate(docs):
        assert doc.pages[0].text == f"document {i} page 0"


def test_ingest_import_is_light():
    import subprocess
    import sys

    code = (
        "import sys, longctx.ingest; print(sorted(m for m in ('torch', 'pypdf', 'docx') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert out.stdout.strip() == "[]"
