"""`longctx bench attention` runs end to end at toy sizes on CPU and only rewrites its own docs section."""

from __future__ import annotations

from longctx.bench import attention as bench


def test_bench_runs_small_and_writes_section(tmp_path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text(
        "# Benchmarks\n\n## Ingestion\n\nkeep me\n\n## Attention\n\nold\n\n## Other\n\nkeep too\n"
    )
    out = tmp_path / "attn.json"
    result = bench.run(
        512, [16], [2], ["math", "sdpa_cpu"], out, "longctx bench attention --max-n 512", "cpu",
        min_n=256, heads=1, repeats=1, p2p=True, docs=docs,
    )  # fmt: skip
    assert out.exists()
    assert {r["backend"] for r in result["kernels"]} == {"torch_sdpa", "math", "sdpa_cpu"}
    assert all(r["tflops"] > 0 for r in result["kernels"])
    assert [r["world"] for r in result["ring_simulated"]] == [2, 2]
    assert all(r["efficiency"] > 0 for r in result["ring_simulated"])
    assert [r.get("transport") for r in result["ring_p2p"]] == ["gloo", "gloo"], result["ring_p2p"]
    text = docs.read_text()
    assert "keep me" in text and "keep too" in text and "old" not in text
    assert text.count("## Attention") == 1 and "longctx bench attention --max-n 512" in text
