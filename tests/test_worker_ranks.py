"""The multi-device worker (`longctx worker --devices cpu:N`, `workers/ranks.py`) on gloo CPU ranks.

* the sequence-parallel global stage gives the findings of one rank on a 64K-token document with 2 and 4
  ranks (same units and spans, scores within 1e-4);
* a follower killed during a job fails that job with the reason, and the same worker serves the next job;
* a hung follower fails the stage at the collective timeout; a follower that died while idle is replaced
  before the next job; `longctx worker --queues gpu --devices cpu:2` serves jobs end to end through Celery.

Rank 0 runs in the test process, exactly as in the worker (whose process it is); followers are real spawned
processes. The 64K document is encoded once (the pipeline's state cache) and read with 1, 2 and 4 ranks: the
ranks change only the global stage.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest
import torch

from longctx.analysis import Query, ReaderDocument
from longctx.analysis.pipeline import ReaderPipeline
from longctx.core.spawn import start_clean
from longctx.model.reader_model import LongContextReader, ReaderConfig
from tests.test_api import GOV_LAW
from tests.test_reader_pipeline import TINY
from tests.test_workers import _findings, _job, _ready_document
from workers import ranks

SCORE_TOL = 1e-4


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _tiny_reader() -> ReaderPipeline:
    torch.manual_seed(0)
    return ReaderPipeline(LongContextReader(ReaderConfig(**TINY)).eval(), answer_threshold=0.0)


TINY_TEXT = " ".join(
    f"Clause {i}: the code of box {i} is {i * 7} and it ships from dock {i % 9}." for i in range(120)
)
TINY_QUERIES = [Query("What is the code of box 17?"), Query("Which box ships from dock 4 with code 42?")]


def _summary(traces) -> list[dict]:
    return [
        {
            "kept": t.kept,
            "logits": t.unit_logits,
            "no_answer": t.no_answer_logit,
            "answers": [(a.text, a.char_start, a.char_end, a.page, a.score) for a in t.answers],
        }
        for t in traces
    ]


def _assert_same_findings(base: list[dict], got: list[dict], label: str) -> float:
    """Same kept units and cited spans; logits and scores within SCORE_TOL. Returns the worst difference."""
    worst = 0.0
    for i, (a, b) in enumerate(zip(base, got, strict=True)):
        assert a["kept"] == b["kept"], f"{label}: question {i} kept other units"
        assert [x[:4] for x in a["answers"]] == [x[:4] for x in b["answers"]], f"{label}: question {i} spans"
        diffs = [abs(a["no_answer"] - b["no_answer"])]
        diffs += [abs(a["logits"][u] - b["logits"][u]) for u in a["logits"]]
        diffs += [abs(x[4] - y[4]) for x, y in zip(a["answers"], b["answers"], strict=True)]
        worst = max(worst, *diffs)
    assert worst <= SCORE_TOL, f"{label}: logits/scores differ by {worst:.2e} > {SCORE_TOL:g}"
    return worst


def test_parse_devices():
    assert ranks.parse_devices("cpu:2") == ranks.DeviceSpec("cpu", 2)
    assert ranks.parse_devices("cpu") == ranks.DeviceSpec("cpu", 1)
    spec = ranks.parse_devices("0,1")
    assert (spec.kind, spec.world, spec.backend, spec.visible_devices) == ("cuda", 2, "nccl", "0,1")
    assert (
        ranks.parse_devices("cpu:4").backend == "gloo" and ranks.parse_devices("cpu:4").visible_devices == ""
    )
    assert ranks.parse_devices("3").world == 1
    for bad in ("cpu:0", "cpu:x", "0,0", "0,,1", ""):
        with pytest.raises(ValueError):
            ranks.parse_devices(bad)


def test_worker_cli_rejects_bad_device_lists(data_env, monkeypatch):  # noqa: ANN001
    from typer.testing import CliRunner

    from longctx.cli import app

    before = os.environ.get("CUDA_VISIBLE_DEVICES")  # `worker` sets it: put it back afterwards
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", before or "")
    if before is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    runner = CliRunner()
    for args in (["--devices", "cpu:0"], ["--devices", "0,0"], ["--devices", "cpu:2", "--pool", "threads"]):
        res = runner.invoke(app, ["worker", "--queues", "gpu", *args])
        assert res.exit_code == 2, (args, res.output)


# ---- lockstep: every rank runs read() with model.group = a process group ---------------------------------
def _lockstep_rank(rank: int, world: int, store_path: str, out_dir: str) -> None:
    import torch.distributed as dist

    try:
        dist.init_process_group("gloo", store=dist.FileStore(store_path, world), rank=rank, world_size=world)
        torch.set_num_threads(1)
        reader = _tiny_reader()
        reader.model.group = dist.group.WORLD
        traces = reader.span.trace(ReaderDocument.from_text("d", TINY_TEXT), TINY_QUERIES)
        torch.save(_summary(traces), Path(out_dir) / f"lockstep-{rank}.pt")
        dist.destroy_process_group()
    except Exception:
        (Path(out_dir) / f"error-{rank}.txt").write_text(traceback.format_exc())
        raise


def test_lockstep_process_group_reads_like_one_rank(tmp_path):
    """`model.group` a process group: each rank keeps its slice of the sequence, all get the same output."""
    import multiprocessing as mp

    base = _summary(_tiny_reader().span.trace(ReaderDocument.from_text("d", TINY_TEXT), TINY_QUERIES))
    world = 2
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=_lockstep_rank, args=(r, world, str(tmp_path / "store"), str(tmp_path)))
        for r in range(world)
    ]
    for p in procs:
        start_clean(p)
    for p in procs:
        p.join(120)
    errors = "\n".join(e.read_text() for e in tmp_path.glob("error-*.txt"))
    assert all(p.exitcode == 0 for p in procs), errors
    for r in range(world):
        _assert_same_findings(base, torch.load(tmp_path / f"lockstep-{r}.pt"), f"lockstep rank {r}")


# ---- the worker's rank group ------------------------------------------------------------------------------
@pytest.mark.slow
def test_64k_document_same_findings_on_1_2_and_4_ranks(record_property):
    from longctx.analysis.factory import PACKAGED_CHECKPOINT
    from longctx.datasets.facts import make_fact_document
    from longctx.datasets.short_contracts import short_contract

    if not (PACKAGED_CHECKPOINT / "model.safetensors").exists():
        pytest.skip("no packaged checkpoint in this build")
    reader = ReaderPipeline.load(PACKAGED_CHECKPOINT)
    reader.answer_threshold = 0.0  # every question gets its top units: every span and score is compared
    haystack = [short_contract(s, "train", pages=8).text for s in range(40, 43)]
    fd = make_fact_document(65536, (0.05, 0.3, 0.55, 0.8, 0.95), 901, "eval", haystack=haystack)
    doc = ReaderDocument.from_text("facts-64k", fd.text)
    queries = [Query(q.text) for q in fd.questions]
    t0 = time.monotonic()
    state = reader.states.get(doc)  # encoded once; the ranks change only the global stage
    assert 64_000 <= state.n_tokens <= 70_000
    timings = {"encode_s": round(time.monotonic() - t0, 2)}
    t0 = time.monotonic()
    base = _summary(reader.span.trace(doc, queries, top_k=3))
    timings["read_1_rank_s"] = round(time.monotonic() - t0, 2)
    assert sum(len(b["kept"]) for b in base) > 0
    worst = {}
    for world in (2, 4):
        t0 = time.monotonic()
        group = ranks.attach(reader, ranks.DeviceSpec("cpu", world))
        timings[f"start_{world}_ranks_s"] = round(time.monotonic() - t0, 2)
        try:
            t0 = time.monotonic()
            got = _summary(reader.span.trace(doc, queries, top_k=3))
            timings[f"read_{world}_ranks_s"] = round(time.monotonic() - t0, 2)
            assert group.stages >= 1 and group.starts == 1
        finally:
            ranks.detach(group)
        assert reader.model.group is None
        worst[world] = _assert_same_findings(base, got, f"{world} ranks")
    summary = f"64K tokens ({state.n_tokens}), {len(queries)} questions: worst |diff| {worst}; {timings}"
    print(summary)
    record_property("ranks_64k", summary)


@pytest.fixture
def tiny_group():
    reader = _tiny_reader()
    group = ranks.attach(reader, ranks.DeviceSpec("cpu", 2), timeout_s=4)
    try:
        yield reader, group
    finally:
        ranks.detach(group)


def test_hung_rank_times_out_and_an_idle_death_is_repaired(tiny_group):
    reader, group = tiny_group
    doc = ReaderDocument.from_text("d", TINY_TEXT)
    base = _summary(reader.span.trace(doc, TINY_QUERIES))
    hung = group.pids[0]
    os.kill(hung, signal.SIGSTOP)  # alive but never answers: only the collective timeout can tell
    with pytest.raises(ranks.RankFailure, match=r"did not finish within 4 s .*a rank hung"):
        reader.answer(doc, TINY_QUERIES)
    assert not group.up and not _alive(hung)  # the hung follower was killed, the group torn down
    _assert_same_findings(base, _summary(reader.span.trace(doc, TINY_QUERIES)), "after restart")
    assert group.starts == 2

    idle = group.pids[0]
    os.kill(idle, signal.SIGKILL)  # dies while the worker is idle
    ranks.before_job()  # what the analysis task calls first: replaces it, so the next job is not failed
    assert group.up and group.starts == 3 and group.pids[0] != idle
    _assert_same_findings(base, _summary(reader.span.trace(doc, TINY_QUERIES)), "after idle death")


def test_killed_rank_fails_the_job_with_a_reason_and_the_next_job_succeeds(data_env, make_tenant):
    from longctx.jobs import run_analysis_job
    from longctx.storage.models import Job, JobDocument
    from longctx.storage.session import session_scope
    from workers.tasks import run_analyze

    tk = make_tenant()
    doc = _ready_document(data_env, tk.tenant_id)
    first = _job(data_env, tk.tenant_id, [doc], questions=[GOV_LAW])
    second = _job(data_env, tk.tenant_id, [doc], questions=[GOV_LAW])
    group = ranks.start_worker_ranks("cpu:2", data_env)  # what `longctx worker --devices cpu:2` runs
    try:
        assert group is not None and group.up and group.world == 2
        victim = group.pids[0]
        killed: list[int] = []

        def kill_during_the_job(stage: str, fraction: float) -> None:
            if stage == "analyzing" and not killed:
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

        outcome = run_analysis_job(first, data_env, progress=kill_during_the_job)
        assert killed and outcome.status == "failed"
        reason = "a rank of the multi-device worker stopped (rank 1 was killed by SIGKILL)"
        with session_scope(data_env) as s:
            job = s.get(Job, first)
            assert job.status.value == "failed" and job.error_code == "no_document_analyzed"
            assert reason in job.error and "error reference" in job.error
            (row,) = s.query(JobDocument).filter_by(job_id=first).all()
            assert row.status.value == "failed" and reason in row.error
        assert _findings(data_env, first) == []

        assert run_analyze(None, second) == "succeeded"  # the same worker, its ranks restarted
        assert group.up and group.starts == 2 and group.stages >= 1 and victim not in group.pids
        assert any(answer for *_slot, answer in _findings(data_env, second))
    finally:
        ranks.detach(group)


@pytest.mark.slow
def test_longctx_worker_with_cpu_ranks_serves_jobs_through_celery(data_env, make_tenant, tmp_path):
    """`longctx worker --queues gpu --devices cpu:2` as a process: it answers a job from the broker, replaces
    a follower killed while it is idle before the next job, and stops its followers on SIGTERM."""
    from longctx.jobs import lifecycle, wait_for_job

    tk = make_tenant()
    doc = _ready_document(data_env, tk.tenant_id)
    log_path = tmp_path / "worker.log"
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    cmd = [sys.executable, "-m", "longctx.cli", "worker", "--queues", "gpu", "--devices", "cpu:2"]
    cmd += ["--name", f"ranks-{os.getpid()}@%h"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    follower = None
    try:
        first = _job(data_env, tk.tenant_id, [doc], questions=[GOV_LAW])
        assert lifecycle.enqueue(data_env, [first]) == []
        job = wait_for_job(first, data_env, timeout=180)
        assert job.status.value == "succeeded", (job.error, log_path.read_text()[-3000:])
        found = re.search(r"followers \[(\d+)\]", log_path.read_text())
        assert found, log_path.read_text()[-3000:]
        follower = int(found.group(1))
        assert _alive(follower)
        os.kill(follower, signal.SIGKILL)
        second = _job(data_env, tk.tenant_id, [doc], questions=[GOV_LAW])
        assert lifecycle.enqueue(data_env, [second]) == []
        job = wait_for_job(second, data_env, timeout=180)
        assert job.status.value == "succeeded", (job.error, log_path.read_text()[-3000:])
        assert "while idle; restarting" in log_path.read_text()
        assert _findings(data_env, second)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = log_path.read_text()
    pids = [int(p) for m in re.findall(r"followers \[([\d, ]+)\]", text) for p in m.split(",")]
    assert len(pids) >= 2 and follower in pids
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids), f"followers left running:\n{text[-3000:]}"


def _touch(path: str) -> None:
    Path(path).write_text("ran")


def test_spawned_children_start_whatever_main_is(tmp_path, monkeypatch):
    """A `__main__` that is some other script (Streamlit runs its pages as `__main__`) must not be re-run by
    a spawned rank: `start_clean` hides it while the child starts."""
    import multiprocessing as mp
    import sys
    import types

    script = tmp_path / "page.py"
    script.write_text("raise SystemExit('this script must not run in the child')\n")
    fake = types.ModuleType("__main__")
    fake.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", fake)
    proc = mp.get_context("spawn").Process(target=_touch, args=(str(tmp_path / "ok"),))
    start_clean(proc)
    proc.join(60)
    assert proc.exitcode == 0 and (tmp_path / "ok").read_text() == "ran"
    assert sys.modules["__main__"] is fake  # put back
