"""`longctx bench reader`: the stage breakdown is of the real path (same answers as pipeline.answer), cold
reads encode and index once, cached reads neither, and the markdown block is rewritten in place."""

from __future__ import annotations

import json

import pytest

from longctx.analysis.factory import PACKAGED_CHECKPOINT
from longctx.bench.load import write_block
from longctx.bench.reader import DOC_STAGES, QUESTION_STAGES, main, parse_lengths, parse_rhos

needs_checkpoint = pytest.mark.skipif(
    not (PACKAGED_CHECKPOINT / "model.safetensors").exists(), reason="no packaged checkpoint in this build"
)


def test_parsers():
    assert parse_lengths("2K, 32768,1M") == [2048, 32768, 1 << 20]
    assert parse_rhos("default,0.05") == [None, 0.05]


def test_markdown_blocks_keep_their_owner(tmp_path):
    """One helper writes the generated blocks of `bench load` and `bench reader`; each keeps its marker."""
    page = tmp_path / "page.md"
    write_block(page, "sqlite", "load table")
    write_block(page, "cpu", "reader table", marker="longctx-bench-reader", title="# Benchmarks")
    write_block(page, "sqlite", "load table 2")
    text = page.read_text()
    assert text.startswith("# Reliability")
    assert (
        "<!-- longctx-bench-load:sqlite:start -->\nload table 2\n<!-- longctx-bench-load:sqlite:end -->"
        in text
    )
    assert "<!-- longctx-bench-reader:cpu:start -->\nreader table\n" in text and "load table\n" not in text


@needs_checkpoint
def test_bench_reader_small_cpu_run(tmp_path, capsys):
    out, page = tmp_path / "r.json", tmp_path / "bench.md"
    page.write_text("# Benchmarks\n\nhand-written\n\n<!-- longctx-bench-reader:t:start -->\nstale-block-xyz\n"
                    "<!-- longctx-bench-reader:t:end -->\n\nfooter\n")  # fmt: skip
    argv = ["--lengths", "2K", "--device", "cpu", "--rho", "default,0.05", "--haystack", "generated"]
    rc = main([*argv, "--world-sizes", "1,2", "--out", str(out), "--markdown", str(page), "--label", "t"])
    assert rc == 0
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert [(r["run"], r["rho"]) for r in rows] == [("cold", 0.1), ("cached", 0.1), ("cached", 0.05)]
    cold, cached = rows[0], rows[1]
    assert set(cold["stages"]) == set(DOC_STAGES + QUESTION_STAGES)
    assert set(cached["stages"]) == set(QUESTION_STAGES)  # no tokenize / encode / index on a cached read
    assert all(r["same_answer"] for r in rows) and result["all_same_answer"]
    # what pipeline.answer did to the cache: the cold call encoded and indexed once, the cached ones neither
    assert cold["cache"].get("encoder_passes") == 1
    assert all(r["cache"].get("encoder_passes", 0) == 0 for r in rows[1:])
    assert all(r["cache"].get("index_builds", 0) == 0 for r in rows[1:])
    assert cold["tokens"] > 1500 and cold["stage_sum_s"] > 0 and cold["pipeline_s"] > 0
    assert cold["peak_rss_gib"] > 0 and cold["tokens_per_s"] > 0
    assert result["world_sizes"] == [1] and result["world_sizes_asked"] == [1, 2]
    text = page.read_text()
    assert "hand-written" in text and "footer" in text and "stale-block-xyz" not in text
    assert text.count("<!-- longctx-bench-reader:t:start -->") == 1
    assert "| 2K | " in text and "longctx bench reader --lengths 2K" in text
    assert "| cold |" in capsys.readouterr().out
