"""The job lifecycle (`longctx.jobs.lifecycle`): exclusive claims, leases that lapse when a worker dies, the
reaper, fencing of a worker that lost its job, cancel and retry, and error messages that leak nothing."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from tests.test_api import GOV_LAW
from tests.test_workers import _findings, _job, _ready_document


def _short_lease(settings, lease: float = 0.3):  # noqa: ANN001, ANN202
    return settings.model_copy(update={"job_lease_s": lease, "queued_resend_s": 3600.0})


def _job_row(settings, job_id: str):  # noqa: ANN001, ANN202
    from longctx.storage.models import Job
    from longctx.storage.session import session_scope

    with session_scope(settings) as s:
        job = s.get(Job, job_id)
        s.expunge(job)
        return job


def _slots(settings, job_id: str) -> list[tuple]:  # noqa: ANN001
    return [(d, q, r) for d, q, r, _a in _findings(settings, job_id)]


def test_claim_is_exclusive_and_a_redelivered_message_is_skipped(data_env, make_tenant):  # noqa: ANN001
    from longctx.jobs import lifecycle, run_analysis_job

    tk = make_tenant()
    doc = _ready_document(data_env, tk.tenant_id)
    job_id = _job(data_env, tk.tenant_id, [doc], questions=[GOV_LAW])
    held = lifecycle.claim(data_env, job_id, "worker-a")
    assert held is not None and held.attempt == 1
    assert lifecycle.claim(data_env, job_id, "worker-b") is None
    assert run_analysis_job(job_id, data_env).status == "held"  # the redelivered task leaves it alone
    assert _findings(data_env, job_id) == []
    assert _job_row(data_env, job_id).worker == "worker-a"


def test_a_dead_workers_job_is_reaped_and_rerun_without_duplicates(data_env, make_tenant, inline_queue):  # noqa: ANN001
    from longctx.broker.app import TASK_ANALYZE
    from longctx.jobs import lifecycle, run_analysis_job
    from longctx.recovery import reap

    inline_queue.run = False
    settings = _short_lease(data_env)
    tk = make_tenant()
    doc = _ready_document(settings, tk.tenant_id)
    reference = _job(settings, tk.tenant_id, [doc], questions=[GOV_LAW, "What are the fees?"])
    assert run_analysis_job(reference, settings).status == "succeeded"
    job_id = _job(settings, tk.tenant_id, [doc], questions=[GOV_LAW, "What are the fees?"])

    dead = lifecycle.claim(settings, job_id, "killed-worker")  # claimed, then the worker is kill -9'd
    assert reap(settings)["requeued"] == 0  # the lease is still live
    time.sleep(0.4)
    counts = reap(settings)
    assert counts["requeued"] == 1 and (TASK_ANALYZE, [job_id]) in inline_queue.sent
    job = _job_row(settings, job_id)
    assert job.status.value == "queued" and job.lease_token is None and "worker stopped" in job.stage

    assert run_analysis_job(job_id, settings).status == "succeeded"
    job = _job_row(settings, job_id)
    assert job.status.value == "succeeded" and job.attempts == 2
    slots = _slots(settings, job_id)
    assert len(slots) == len(set(slots)) == len(_slots(settings, reference))
    # the dead worker, had it only been paused, can neither write findings nor finish the job
    assert lifecycle.finish(settings, dead, lifecycle.JobStatus.failed, error="stale") is False
    assert lifecycle.renew(settings, dead) is False
    assert run_analysis_job(job_id, settings).status == "skipped"  # a late redelivery
    assert _slots(settings, job_id) == slots


def test_a_job_whose_worker_keeps_dying_fails_with_a_reason(data_env, make_tenant, inline_queue):  # noqa: ANN001
    from longctx.jobs import lifecycle
    from longctx.recovery import reap

    inline_queue.run = False
    settings = _short_lease(data_env, 0.1)
    tk = make_tenant()
    doc = _ready_document(settings, tk.tenant_id)
    job_id = _job(settings, tk.tenant_id, [doc], questions=[GOV_LAW])
    for attempt in range(1, settings.job_max_attempts + 1):
        assert lifecycle.claim(settings, job_id, f"w{attempt}").attempt == attempt
        time.sleep(0.15)
        counts = reap(settings)
    assert counts["failed"] == 1
    job = _job_row(settings, job_id)
    assert job.status.value == "failed" and job.error_code == "worker_lost"
    assert "stopped 3 times" in job.error and job.finished_at is not None and job.lease_token is None


class _GatedReader:
    """The real lexical reader, held at its first progress report until the test opens the gate."""

    name = "gated-lexical"

    def __init__(self) -> None:
        from longctx.analysis.lexical import LexicalReader

        self.inner = LexicalReader.default()
        self.started = threading.Event()
        self.gate = threading.Event()

    def answer(self, doc, queries, top_k=3, progress=None):  # noqa: ANN001, ANN201
        self.started.set()
        assert self.gate.wait(30)
        if progress is not None:
            progress(0.5)
        return self.inner.answer(doc, queries, top_k=top_k, progress=progress)


def test_cancel_stops_a_running_job_and_it_writes_nothing(client, make_tenant, data_env, inline_queue):  # noqa: ANN001
    from longctx.jobs import run_analysis_job

    inline_queue.run = False
    settings = _short_lease(data_env, 0.6)
    tk = make_tenant("acme")
    doc = _ready_document(settings, tk.tenant_id)
    job_id = _job(settings, tk.tenant_id, [doc], questions=[GOV_LAW])
    reader = _GatedReader()
    result: dict = {}
    worker = threading.Thread(
        target=lambda: result.setdefault("out", run_analysis_job(job_id, settings, reader=reader))
    )
    worker.start()
    assert reader.started.wait(30)
    assert client.get(f"/v1/jobs/{job_id}", headers=tk.headers).json()["status"] == "running"
    r = client.post(f"/v1/jobs/{job_id}/cancel", headers=tk.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["error_code"] == "cancelled"
    time.sleep(0.5)  # the worker's next lease renewal finds the job gone
    reader.gate.set()
    worker.join(30)
    assert result["out"].status == "lost"
    job = client.get(f"/v1/jobs/{job_id}", headers=tk.headers).json()
    assert job["status"] == "cancelled" and job["documents"][0]["status"] == "pending"
    assert _findings(settings, job_id) == []
    assert client.post(f"/v1/jobs/{job_id}/cancel", headers=tk.headers).status_code == 409


def test_cancel_and_retry_over_the_api(client, make_tenant, data_env, inline_queue):  # noqa: ANN001
    from longctx.broker.app import TASK_ANALYZE
    from longctx.jobs import lifecycle, run_analysis_job

    inline_queue.run = False
    tk, other = make_tenant("acme"), make_tenant("globex")
    doc = _ready_document(data_env, tk.tenant_id)
    job_id = client.post(
        "/v1/questions", json={"document_ids": [doc], "questions": [GOV_LAW]}, headers=tk.headers
    ).json()["job_id"]
    assert client.post(f"/v1/jobs/{job_id}/cancel", headers=other.headers).status_code == 404
    assert client.post("/v1/jobs/nope/cancel", headers=tk.headers).status_code == 404
    assert client.post(f"/v1/jobs/{job_id}/cancel", headers=tk.headers).json()["status"] == "cancelled"
    assert run_analysis_job(job_id, data_env).status == "skipped"  # its message arrives: nothing runs
    inline_queue.sent.clear()
    r = client.post(f"/v1/jobs/{job_id}/retry", headers=tk.headers)
    assert r.status_code == 202 and r.json()["status"] == "queued" and r.json()["attempts"] == 0
    assert inline_queue.sent == [(TASK_ANALYZE, [job_id])]
    assert client.post(f"/v1/jobs/{job_id}/retry", headers=tk.headers).status_code == 409  # queued
    assert run_analysis_job(job_id, data_env).status == "succeeded"
    assert client.post(f"/v1/jobs/{job_id}/retry", headers=tk.headers).status_code == 409  # succeeded

    # a running job with a live lease is not retried; once its lease lapsed it is
    second = client.post(
        "/v1/questions", json={"document_ids": [doc], "questions": [GOV_LAW]}, headers=tk.headers
    ).json()["job_id"]
    assert lifecycle.claim(_short_lease(data_env, 0.2), second, "stuck") is not None
    assert client.post(f"/v1/jobs/{second}/retry", headers=tk.headers).status_code == 409
    time.sleep(0.3)
    assert client.post(f"/v1/jobs/{second}/retry", headers=tk.headers).status_code == 202
    assert run_analysis_job(second, data_env).status == "succeeded"


class _BrokenReader:
    name = "broken"

    def answer(self, doc, queries, top_k=3, progress=None):  # noqa: ANN001, ANN201
        raise RuntimeError('INSERT INTO findings (answer) VALUES (...) at "/work/secret/longctx/db.py"')


def test_a_reader_error_reaches_the_client_without_internals(data_env, make_tenant, caplog):  # noqa: ANN001
    from longctx.jobs import lifecycle, run_analysis_job
    from longctx.storage.session import session_scope

    tk = make_tenant()
    doc = _ready_document(data_env, tk.tenant_id)
    job_id = _job(data_env, tk.tenant_id, [doc], questions=[GOV_LAW])
    with caplog.at_level("ERROR"):
        assert run_analysis_job(job_id, data_env, reader=_BrokenReader()).status == "failed"
    job = _job_row(data_env, job_id)
    with session_scope(data_env) as s:
        (outcome,) = lifecycle.outcomes(s, job_id)
        outcome_error = outcome.error
    for text in (job.error, outcome_error):
        assert "error reference" in text
        assert "INSERT" not in text and "/work" not in text and "Traceback" not in text
    ref = outcome_error.split("error reference ")[1].rstrip(")")
    assert any(ref in r.getMessage() and r.exc_info for r in caplog.records)  # the details are in the log
    assert job.error_code == "no_document_analyzed"


def test_a_lapsed_parse_is_requeued_and_a_document_that_kills_its_parser_fails(data_env, make_tenant):  # noqa: ANN001
    from datetime import timedelta

    from longctx.core.timestamps import utcnow
    from longctx.documents import blob_store, ingest_document, reap_parses, register_blob
    from longctx.storage.models import Document, DocumentStatus
    from longctx.storage.session import session_scope
    from tests.pdfgen import make_pdf
    from tests.test_api import CONTRACT_PAGES

    tk = make_tenant()
    blob = blob_store(data_env).put_bytes(make_pdf(CONTRACT_PAGES))
    with session_scope(data_env) as s:
        doc_id = register_blob(s, tk.tenant_id, "c.pdf", blob).document.id

    def die_mid_parse() -> None:  # what a kill -9 of the cpu worker leaves behind
        with session_scope(data_env) as s:
            d = s.get(Document, doc_id)
            d.status = DocumentStatus.parsing
            d.attempts += 1
            d.lease_expires_at = utcnow() - timedelta(seconds=1)

    die_mid_parse()
    assert reap_parses(data_env) == [doc_id]
    assert reap_parses(data_env) == []  # sent once
    assert ingest_document(doc_id, data_env).status is DocumentStatus.ready

    with session_scope(data_env) as s:
        d = s.get(Document, doc_id)
        d.status, d.attempts = DocumentStatus.queued, 0
    for _ in range(data_env.job_max_attempts):
        die_mid_parse()
        assert reap_parses(data_env) == [doc_id]
    doc = ingest_document(doc_id, data_env)
    assert doc.status is DocumentStatus.failed and "stopped 3 times" in doc.error


def test_a_live_parse_is_not_taken_twice(data_env, make_tenant):  # noqa: ANN001
    from datetime import timedelta

    from longctx.core.timestamps import utcnow
    from longctx.documents import blob_store, ingest_document, register_blob
    from longctx.storage.models import Document, DocumentStatus
    from longctx.storage.session import session_scope

    tk = make_tenant()
    blob = blob_store(data_env).put_bytes(b"A short agreement governed by the laws of Ohio.\n")
    with session_scope(data_env) as s:
        doc_id = register_blob(s, tk.tenant_id, "a.txt", blob).document.id
        d = s.get(Document, doc_id)
        d.status, d.attempts, d.lease_expires_at = DocumentStatus.parsing, 1, utcnow() + timedelta(seconds=60)
    assert ingest_document(doc_id, data_env).status is DocumentStatus.parsing  # another worker has it


def test_redis_visibility_timeout_is_bounded(data_env, monkeypatch):  # noqa: ANN001
    from longctx.broker.app import make_app

    settings = data_env.model_copy(update={"broker_url": "redis://127.0.0.1:6379/15"})
    app = make_app(settings)
    assert app.conf.broker_transport_options["visibility_timeout"] == settings.broker_visibility_timeout_s
    assert settings.broker_visibility_timeout_s <= 3600


def test_outcome_rows_exist_from_creation(data_env, make_tenant):  # noqa: ANN001
    from longctx.storage.models import JobDocument
    from longctx.storage.session import session_scope

    tk = make_tenant()
    a = _ready_document(data_env, tk.tenant_id)
    job_id = _job(data_env, tk.tenant_id, [a, a], questions=[GOV_LAW])
    with session_scope(data_env) as s:
        rows = s.scalar(select(func.count()).select_from(JobDocument).where(JobDocument.job_id == job_id))
    assert rows == 1  # de-duplicated ids, one outcome row each


@pytest.mark.parametrize("n_threads", [6])
def test_concurrent_sqlite_writers_lose_nothing(data_env, make_tenant, n_threads):  # noqa: ANN001
    """Threads creating jobs, claiming them, writing progress and findings at once on the SQLite file: every
    write lands (busy timeout + short transactions), no 'database is locked' escapes."""
    from longctx.jobs import run_analysis_job
    from longctx.storage.models import Job
    from longctx.storage.session import session_scope

    tk = make_tenant()
    doc = _ready_document(data_env, tk.tenant_id)
    errors: list[BaseException] = []
    done: list[str] = []

    def work() -> None:
        try:
            for _ in range(3):
                job_id = _job(data_env, tk.tenant_id, [doc], questions=[GOV_LAW, "fees?"])
                assert run_analysis_job(job_id, data_env).status == "succeeded"
                done.append(job_id)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len(done) == 3 * n_threads
    with session_scope(data_env) as s:
        statuses = set(s.scalars(select(Job.status).where(Job.id.in_(done))))
    assert {st.value for st in statuses} == {"succeeded"}
    for job_id in done:
        slots = _slots(data_env, job_id)
        assert slots and len(slots) == len(set(slots))


def test_every_worker_process_runs_the_reaper(data_env, make_tenant, inline_queue):  # noqa: ANN001
    """Production workers (no `serve` supervisor) bring back a dead worker's job on their own."""
    from celery import signals

    import workers.celery_app as celery_app
    from longctx.jobs import lifecycle
    from longctx.recovery import Reaper

    assert any(r() is celery_app._start_reaper for _, r in signals.worker_ready.receivers)
    inline_queue.run = False
    settings = _short_lease(data_env, 0.2).model_copy(update={"reaper_interval_s": 0.1})
    tk = make_tenant()
    doc = _ready_document(settings, tk.tenant_id)
    job_id = _job(settings, tk.tenant_id, [doc], questions=[GOV_LAW])
    lifecycle.claim(settings, job_id, "dies")
    reaper = Reaper(settings).start()
    try:
        assert _wait_for(lambda: _job_row(settings, job_id).status.value == "queued", 5)
    finally:
        reaper.stop()


def _wait_for(predicate, timeout: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_cli_cancel_and_retry(data_env, make_tenant, inline_queue):  # noqa: ANN001
    import json

    from typer.testing import CliRunner

    from longctx.broker.app import TASK_ANALYZE
    from longctx.cli import app

    inline_queue.run = False
    runner = CliRunner()
    tk = make_tenant("acme")
    doc = _ready_document(data_env, tk.tenant_id)
    job_id = _job(data_env, tk.tenant_id, [doc], questions=[GOV_LAW])
    r = runner.invoke(app, ["jobs", "cancel", job_id[:8], "--tenant", "acme"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["status"] == "cancelled"
    again = runner.invoke(app, ["jobs", "cancel", job_id, "--tenant", "acme"])
    assert again.exit_code == 2 and "only queued or running jobs are cancelled" in again.output
    r = runner.invoke(app, ["jobs", "retry", job_id, "--tenant", "acme"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["status"] == "queued"
    assert (TASK_ANALYZE, [job_id]) in inline_queue.sent
