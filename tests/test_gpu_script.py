"""scripts/gpu_checks.sh: the folder it writes, its plan on a GPU, its CPU half, and the summary's targets."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gpu_checks.sh"
STEPS = ["env", "pytest", "reader", "niah", "attention"]


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(
        ["bash", str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def _steps(folder: Path) -> dict[str, dict]:
    with (folder / "steps.tsv").open(newline="") as fh:
        return {row["step"]: row for row in csv.DictReader(fh, delimiter="\t")}


def test_dry_run_writes_the_folder_layout_and_summary(tmp_path):
    out = tmp_path / "run"
    res = _run("--dry-run", "--out", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    if not torch.cuda.is_available():
        assert "no CUDA device" in res.stdout and "CPU half" in res.stdout
    for rel in ("env/versions.json", "env/nvidia-smi.txt", "env/git.txt", "run.env", "commands.txt"):
        assert (out / rel).is_file(), rel
    assert json.loads((out / "env/versions.json").read_text())["torch"] == torch.__version__
    steps = _steps(out)
    assert list(steps) == STEPS
    assert all(steps[s]["status"] == "dry-run" for s in STEPS[1:])
    for s in STEPS[1:]:
        assert (out / "logs" / f"{s}.log").read_text().startswith("dry run: ")
    summary = (out / "summary.md").read_text()
    assert "Dry run" in summary and "| reader | dry-run |" in summary


def test_gpu_plan_runs_every_check_at_the_issue_sizes_within_8_minutes(tmp_path):
    out = tmp_path / "plan"
    res = _run("--gpu", "--dry-run", "--out", str(out), "--steps", "pytest,reader,niah,attention")
    assert res.returncode == 0, res.stdout + res.stderr
    plan = (out / "commands.txt").read_text()
    assert "tests/test_attention_kernels.py tests/test_attention_ring.py -k cuda" in plan
    assert "bench reader --lengths 128K,1M" in plan
    assert "eval niah --reader neural --lengths 1M --n 1" in plan
    assert "bench attention" in plan and "--head-dims 64,128" in plan
    # the per-step timeouts plus the script's own overhead stay under 8 minutes
    assert sum(int(r["timeout_s"]) for r in _steps(out).values()) + 30 <= 8 * 60


def test_gpu_mode_without_cuda_is_refused_unless_dry_run(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    res = _run("--gpu", "--out", str(tmp_path / "x"), "--steps", "attention")
    assert res.returncode == 2 and "--dry-run" in res.stderr


def test_cpu_half_runs_a_step_for_real(tmp_path):
    out = tmp_path / "cpu"
    res = _run("--cpu", "--out", str(out), "--steps", "attention")
    assert res.returncode == 0, res.stdout + res.stderr + (out / "logs/attention.log").read_text()
    assert _steps(out)["attention"]["status"] == "ok"
    result = json.loads((out / "json/bench-attention.json").read_text())
    assert result["kernels"] and all("tflops" in r for r in result["kernels"])
    summary = (out / "summary.md").read_text()
    assert "CPU half" in summary and "## Attention" in summary and "every step passed" in summary


def test_a_step_the_budget_cannot_fit_is_not_run_and_fails_the_run(tmp_path):
    out = tmp_path / "late"
    res = _run("--cpu", "--budget", "10", "--out", str(out), "--steps", "attention")
    assert res.returncode == 1
    assert _steps(out)["attention"]["status"] == "not run: budget spent"
    assert "SOME STEPS FAILED" in (out / "summary.md").read_text()


def test_summary_compares_the_1m_reader_with_the_targets(tmp_path):
    """The GPU verdicts, from a GPU run's files (made up here: no GPU needed)."""
    (tmp_path / "json").mkdir()
    (tmp_path / "logs").mkdir()
    (tmp_path / "run.env").write_text("mode=gpu\ndry_run=0\ncuda=1\nbudget_s=450\nstarted=now\n")
    (tmp_path / "steps.tsv").write_text(
        "step\tstatus\trc\tseconds\ttimeout_s\tlog\tcommand\nreader\tok\t0\t60\t150\tlogs/reader.log\tx\n"
    )
    row = {"length": 1 << 20, "tokens": 1_050_000, "stages": {"encode": 0.9}, "stage_sum_s": 1.1}
    rows = [
        {**row, "run": "cold", "pipeline_s": 1.2, "same_answer": True},
        {**row, "run": "cached", "pipeline_s": 0.5, "same_answer": True},
    ]
    result = {"device": "H100", "device_type": "cuda", "encoder_dtype": "bfloat16", "global_dtype": "float32"}
    result.update(attention_kernel="sdpa_efficient", haystack="cuad", rows=rows)
    (tmp_path / "json/bench-reader.json").write_text(json.dumps(result))
    subprocess.run([sys.executable, str(ROOT / "scripts/gpu_summary.py"), str(tmp_path)], check=True)
    summary = (tmp_path / "summary.md").read_text()
    assert "cold: 1.200 s (met, target <= 1.5 s)" in summary
    assert "cached: 0.500 s (NOT met, target <= 0.3 s)" in summary
    assert "No results (see logs/niah.log)" in summary


@pytest.mark.slow
def test_cpu_half_end_to_end(tmp_path):
    """Every step of the CPU half (NIAH is skipped with its reason without the shared data)."""
    out = tmp_path / "all"
    res = _run("--cpu", "--out", str(out), timeout=400)
    assert res.returncode == 0, res.stdout + res.stderr
    steps = _steps(out)
    assert all(steps[s]["status"] == "ok" for s in ("env", "pytest", "reader", "attention"))
    assert steps["niah"]["status"] == "ok" or steps["niah"]["status"].startswith("skipped: no shared data")
    reader = json.loads((out / "json/bench-reader.json").read_text())
    assert [r["run"] for r in reader["rows"]] == ["cold", "cached"]
    assert all(r["same_answer"] for r in reader["rows"])
    assert (out / "bench-reader.md").read_text().count("longctx-bench-reader:cpu-small:") == 2
