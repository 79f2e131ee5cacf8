"""The document state cache (#15): query-independent work (encoder states, reading units, the lexical index)
is done once per document text and checkpoint, kept in memory, spilled to `<data_dir>/cache/states` and read
back by every process; a new checkpoint never reads old states; deleting the last document with a text
removes its states; the size cap evicts the least recently used files; a damaged file is a logged miss.

The packaged checkpoint reads small contracts (a few thousand tokens) so that the numbers are real.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from longctx.analysis import Query, ReaderDocument
from longctx.analysis.factory import PACKAGED_CHECKPOINT
from longctx.analysis.lexical import (
    LexicalReader,
    build_index,
    index_arrays,
    index_from_arrays,
    lexical_space,
)
from longctx.analysis.state_cache import StateCache, checkpoint_identity, text_key

from .test_analysis_reader import make_contract
from .util import isolated_env

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = [
    Query("Which law governs the agreement?"),  # span reader: encoder states, units, evidence, pins
    Query("Governing law", key="Governing Law"),  # clause head: encoder states + lexical segments
    Query("Document name", key="Document Name"),  # phrase head: lexical index
]
# What a question on a cached document must not do, in any process.
WORK = ("encoder_passes", "index_builds", "unit_builds")


@pytest.fixture
def settings(monkeypatch, tmp_path):  # noqa: ANN001, ANN201
    from longctx.config import get_settings

    isolated_env(monkeypatch, tmp_path)
    return get_settings()


def service_reader(settings):  # noqa: ANN001, ANN201
    """The reader as a worker process loads it (settings -> factory -> pipeline with the state cache)."""
    from longctx.analysis.factory import get_reader

    reader = get_reader(settings)
    assert reader.states.store is not None and reader.states.store.root == settings.state_cache_dir
    return reader


def summary(answers) -> list[list[tuple]]:  # noqa: ANN001
    return [[(a.text, a.char_start, a.score) for a in q] for q in answers]


def assert_same_answers(a, b, tol: float = 1e-2) -> float:  # noqa: ANN001
    """Same answers (texts and offsets, best first), scores within ``tol``; returns the largest difference."""
    worst = 0.0
    for qa, qb in zip(summary(a), summary(b), strict=True):
        assert qa[0][:2] == qb[0][:2]  # the top answer and where it is
        assert [x[:2] for x in qa] == [x[:2] for x in qb]
        worst = max([worst] + [abs(x[2] - y[2]) for x, y in zip(qa, qb, strict=True)])
    assert worst <= tol
    return worst


def state_files(settings) -> list[Path]:  # noqa: ANN001
    return sorted(settings.state_cache_dir.glob("*/*.safetensors"))


def test_second_question_runs_no_encoder_pass_and_builds_no_index(settings):
    reader = service_reader(settings)
    doc = make_contract(3, pages=3)
    first = reader.answer(doc, QUESTIONS)
    after_first = reader.stats()
    assert after_first["encoder_passes"] == 1 and after_first["index_builds"] == 1
    assert after_first["states_spilled"] == 1
    key = text_key(doc.text)
    assert {p.name for p in state_files(settings)} == {f"{key}.safetensors"}
    assert {p.parent.name for p in state_files(settings)} == {reader.states.space, lexical_space()}
    assert json.loads((settings.state_cache_dir / reader.states.space / "checkpoint.json").read_text())[
        "checkpoint"
    ] == str(PACKAGED_CHECKPOINT.resolve())

    again = reader.answer(doc, [Query("How long is the initial term?"), *QUESTIONS])
    stats = reader.stats()
    assert {k: stats[k] for k in WORK} == {k: after_first[k] for k in WORK}
    assert stats["states_loaded"] == 0 and stats["state_memory_hits"] > after_first["state_memory_hits"]
    assert summary(again[1:]) == summary(first)


def test_another_process_reads_the_spilled_state(settings, tmp_path):
    """A fresh worker process (same LONGCTX_DATA_DIR) answers a cached document without encoder or index."""
    doc = make_contract(5, pages=3)
    first = service_reader(settings).answer(doc, QUESTIONS)
    text_file = tmp_path / "doc.txt"
    text_file.write_text(doc.text, encoding="utf-8")
    script = f"""
import json
from pathlib import Path
from longctx.analysis import Query, ReaderDocument
from longctx.config import get_settings
from longctx.jobs.readers import load_reader

reader = load_reader(get_settings())
doc = ReaderDocument("d", Path({str(text_file)!r}).read_text(encoding="utf-8"), {doc.pages!r})
qs = [Query(t, key=k) for t, k in {[(q.text, q.key) for q in QUESTIONS]!r}]
answers = reader.answer(doc, qs)
print(json.dumps({{"stats": reader.stats(),
                  "answers": [[[a.text, a.char_start, a.score] for a in q] for q in answers]}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    stats = result["stats"]
    assert {k: stats[k] for k in WORK} == dict.fromkeys(WORK, 0), stats
    assert stats["states_loaded"] == 1 and stats["index_loaded"] == 1
    theirs = [[tuple(a) for a in q] for q in result["answers"]]
    for mine, other in zip(summary(first), theirs, strict=True):
        assert [a[:2] for a in mine] == [a[:2] for a in other]
        assert max(abs(a[2] - b[2]) for a, b in zip(mine, other, strict=True)) <= 1e-2


def test_spilled_state_answers_equal_a_fresh_encode(tmp_path):
    """fp32 encoder (fp16 on disk is lossy there): answers from the spill equal those of a fresh encode."""
    from longctx.analysis.pipeline import ReaderPipeline

    store = StateCache(tmp_path / "states", 64 << 20)
    doc = make_contract(11, pages=3)
    questions = [*QUESTIONS, Query("When does the agreement start?"), Query("Who pays the invoices?")]
    writer = ReaderPipeline.load(PACKAGED_CHECKPOINT, encoder_dtype="float32", state_cache=store)
    writer.answer(doc, questions)
    fresh = ReaderPipeline.load(PACKAGED_CHECKPOINT, encoder_dtype="float32")  # no cache: encodes
    spilled = ReaderPipeline.load(PACKAGED_CHECKPOINT, encoder_dtype="float32", state_cache=store)
    a_fresh, a_spilled = fresh.answer(doc, questions), spilled.answer(doc, questions)
    assert fresh.stats()["encoder_passes"] == 1 and spilled.stats()["encoder_passes"] == 0
    s_fresh, s_spilled = fresh.states.get(doc), spilled.states.get(doc)
    assert s_spilled.states.dtype == s_fresh.states.dtype == next(spilled.model.local.parameters()).dtype
    assert s_spilled.states.device == spilled.model.device
    np.testing.assert_array_equal(s_spilled.offsets, s_fresh.offsets)
    np.testing.assert_array_equal(s_spilled.units.token_unit, fresh.states.units(doc, s_fresh).token_unit)
    state_diff = float((s_spilled.states - s_fresh.states).abs().max())
    assert 0 < state_diff < 1e-2  # fp16 rounding of fp32 states, nothing more
    worst = assert_same_answers(a_fresh, a_spilled)
    print(f"max state difference {state_diff:.2e}, max answer score difference {worst:.2e}")


def test_another_checkpoint_does_not_reuse_states(tmp_path):
    from longctx.analysis.pipeline import ReaderPipeline

    other = tmp_path / "ckpt"
    other.mkdir()
    for f in PACKAGED_CHECKPOINT.iterdir():
        (other / f.name).symlink_to(f)
    (other / "config.json").unlink()  # same weights, other config bytes: another checkpoint identity
    config = json.loads((PACKAGED_CHECKPOINT / "config.json").read_text())
    (other / "config.json").write_text(json.dumps(config, indent=4))
    assert checkpoint_identity(other) != checkpoint_identity(PACKAGED_CHECKPOINT)

    store = StateCache(tmp_path / "states", 64 << 20)
    doc = make_contract(2, pages=2)
    first = ReaderPipeline.load(PACKAGED_CHECKPOINT, state_cache=store)
    first.answer(doc, QUESTIONS[:1])
    second = ReaderPipeline.load(other, state_cache=store)
    second.answer(doc, QUESTIONS[:1])
    assert second.states.space != first.states.space
    assert second.stats()["encoder_passes"] == 1 and second.stats()["states_loaded"] == 0
    assert second.stats()["index_builds"] == 0  # the lexical index does not depend on the checkpoint
    fp32 = ReaderPipeline.load(PACKAGED_CHECKPOINT, encoder_dtype="float32", state_cache=store)
    if fp32.states.space != first.states.space:  # bf16 encoder here: fp32 states are others
        fp32.answer(doc, QUESTIONS[:1])
        assert fp32.stats()["encoder_passes"] == 1


def test_delete_forgets_states_unless_the_text_is_shared(data_env, tmp_path):
    from longctx.documents import add_file, delete_document, ingest_document
    from longctx.storage import repositories as repo
    from longctx.storage.session import session_scope

    with session_scope(data_env) as s:
        t1, t2 = repo.get_or_create_tenant(s, "one").id, repo.get_or_create_tenant(s, "two").id
    text = make_contract(4, pages=2).text.replace("\n", "\r\n")
    crlf, lf = tmp_path / "crlf.txt", tmp_path / "lf.txt"
    crlf.write_bytes(text.encode())
    lf.write_bytes(text.replace("\r\n", "\n").encode())  # other bytes, the same text once parsed
    a = add_file(crlf, t1, data_env).document.id
    b = add_file(crlf, t2, data_env).document.id  # the same bytes: the blob is shared
    c = add_file(lf, t1, data_env).document.id
    docs = {}
    for doc_id in (a, b, c):
        assert ingest_document(doc_id, data_env).status.value == "ready"
        with session_scope(data_env) as s:
            docs[doc_id] = ReaderDocument.from_pages(doc_id, repo.get_pages(s, doc_id))
    assert len({text_key(d.text) for d in docs.values()}) == 1
    key = text_key(docs[a].text)

    store = StateCache.from_settings(data_env)
    LexicalReader(store=store).index(docs[a])  # the lexical index, and a stand-in for a checkpoint's states
    store.write("checkpoint-x", key, {"states": np.zeros((2, 3), np.float16)}, {"n_tokens": "2"})
    unrelated = make_contract(9, pages=1)
    LexicalReader(store=store).index(unrelated)
    assert len(state_files(data_env)) == 3

    assert delete_document(a, t1, data_env)  # tenant two has the same bytes
    assert len(state_files(data_env)) == 3
    assert delete_document(b, t2, data_env)  # the .txt with LF line ends has the same text
    assert len(state_files(data_env)) == 3
    assert delete_document(c, t1, data_env)  # the last one: its states go, others stay
    assert [p.name for p in state_files(data_env)] == [f"{text_key(unrelated.text)}.safetensors"]


def test_size_cap_evicts_least_recently_used_files(tmp_path, settings, monkeypatch):
    store = StateCache(tmp_path / "states", 1 << 20)
    blob = {"x": np.zeros(100, np.float32)}
    keys = [text_key(str(i)) for i in range(4)]
    assert store.write("s", keys[0], blob)
    store.max_bytes = int(2.5 * store.usage())  # room for two files
    assert store.write("s", keys[1], blob)
    os.utime(store.path("s", keys[0]), (1000, 1000))
    os.utime(store.path("s", keys[1]), (2000, 2000))
    assert store.read("s", keys[0], lambda arrays, meta: arrays["x"]) is not None  # used: now the newest
    assert store.write("s", keys[2], blob)
    assert [store.path("s", k).exists() for k in keys[:3]] == [True, False, True]
    assert store.usage() <= store.max_bytes and store.stats()["disk_evicted"] == 1
    too_big = {"x": np.zeros(store.max_bytes, np.uint8)}
    assert not store.write("s", keys[3], too_big)  # larger than the cap: not spilled
    assert not list(store.root.glob("*/.*.tmp"))  # nothing left behind

    assert StateCache.from_settings(settings).max_bytes == 2048 << 20  # the default cap
    monkeypatch.setenv("LONGCTX_STATE_CACHE_MB", "0")
    from longctx.analysis.factory import get_reader
    from longctx.config import get_settings

    assert StateCache.from_settings(get_settings()) is None
    assert get_reader(get_settings()).states.store is None  # off: states in memory only


def test_corrupt_cache_files_are_ignored_and_computed_again(settings, caplog):
    doc = make_contract(6, pages=2)
    writer = service_reader(settings)
    first = writer.answer(doc, QUESTIONS)
    states_file, lexical_file = (
        settings.state_cache_dir / space / f"{text_key(doc.text)}.safetensors"
        for space in (writer.states.space, lexical_space())
    )
    data = states_file.read_bytes()
    states_file.write_bytes(data[: len(data) // 2])  # truncated (a copy cut short, a full disk)
    lexical_file.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......")
    reader = service_reader(settings)
    with caplog.at_level(logging.WARNING, logger="longctx.analysis.state_cache"):
        again = reader.answer(doc, QUESTIONS)
    stats = reader.stats()
    assert stats["encoder_passes"] == 1 and stats["index_builds"] == 1 and stats["disk_discarded"] == 2
    assert sum("ignoring unreadable cached state" in r.getMessage() for r in caplog.records) == 2
    assert summary(again) == summary(first)
    third = service_reader(settings)  # rewritten whole: read back again
    third.answer(doc, QUESTIONS)
    assert {k: third.stats()[k] for k in WORK} == dict.fromkeys(WORK, 0)


def test_lexical_index_round_trips_exactly():
    doc = make_contract(8, pages=3)
    idx = build_index(doc.text)
    back = index_from_arrays(index_arrays(idx), len(doc.text))
    assert back.segments == idx.segments and back.headings == idx.headings
    np.testing.assert_array_equal(back.heading_of, idx.heading_of)
    assert set(back.bm25.postings) == set(idx.bm25.postings) and back.bm25.avgdl == idx.bm25.avgdl
    reader = LexicalReader.default()
    for q in QUESTIONS:
        r1, r2 = reader.rank(idx, q), reader.rank(back, q)
        np.testing.assert_array_equal(r1.score, r2.score)
    with pytest.raises(ValueError):
        index_from_arrays(index_arrays(idx), 10)  # segments past the end of the text


def test_worker_reader_follows_the_data_dir(monkeypatch, tmp_path):
    """A worker's reader is loaded once per process; its state cache is the one of the current settings
    (tests switch data dirs), and evaluations read without one (they measure reading)."""
    from longctx.config import get_settings
    from longctx.evaluation.cli import load_reader as eval_reader
    from longctx.jobs.readers import load_reader

    isolated_env(monkeypatch, tmp_path / "a")
    reader = load_reader(get_settings())
    assert reader.state_cache.root == get_settings().state_cache_dir
    isolated_env(monkeypatch, tmp_path / "b")
    assert load_reader(get_settings()) is reader
    assert reader.state_cache.root == get_settings().state_cache_dir == tmp_path / "b" / "data/cache/states"
    reader.answer(make_contract(1, pages=1), QUESTIONS)
    assert {p.parent.name for p in state_files(get_settings())} == {reader.states.space, lexical_space()}
    assert reader.lexical_reader().state_cache is reader.state_cache
    monkeypatch.setenv("LONGCTX_STATE_CACHE_MB", "0")
    assert load_reader(get_settings()).state_cache is None
    assert reader.lexical_reader().state_cache is None
    assert eval_reader(None).states.store is None
