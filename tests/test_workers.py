"""Celery app configuration and task semantics: idempotent redelivery, waiting for documents, recovery."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.pdfgen import make_pdf
from tests.test_api import CONTRACT_PAGES, GOV_LAW


def _ready_document(settings, tenant_id: str, pages=CONTRACT_PAGES) -> str:  # noqa: ANN001
    from longctx.documents import blob_store, ingest_document, register_blob
    from longctx.storage.session import session_scope

    blob = blob_store(settings).put_bytes(make_pdf(list(pages)))
    with session_scope(settings) as s:
        doc_id = register_blob(s, tenant_id, "c.pdf", blob).document.id
    assert ingest_document(doc_id, settings).status.value == "ready"
    return doc_id


def _job(settings, tenant_id: str, doc_ids: list[str], **kw) -> str:  # noqa: ANN001, ANN003
    from longctx.jobs import create_analysis_job
    from longctx.storage.session import session_scope

    with session_scope(settings) as s:
        return create_analysis_job(s, tenant_id, document_ids=doc_ids, **kw).id


def _findings(settings, job_id: str) -> list[tuple]:  # noqa: ANN001
    from longctx.storage.models import Finding
    from longctx.storage.session import session_scope

    with session_scope(settings) as s:
        return [
            (f.document_id, f.query_index, f.rank, f.answer)
            for f in s.scalars(select(Finding).where(Finding.job_id == job_id).order_by(Finding.id))
        ]


def test_celery_app_configuration(data_env):  # noqa: ANN001
    from longctx.broker.app import TASK_ANALYZE, TASK_INGEST
    from workers.celery_app import get_app

    app = get_app(data_env)
    conf = app.conf
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_acks_late is True and conf.worker_prefetch_multiplier == 1
    assert conf.task_reject_on_worker_lost is True and conf.task_ignore_result is True
    assert (
        conf.task_routes[TASK_INGEST]["queue"] == "cpu" and conf.task_routes[TASK_ANALYZE]["queue"] == "gpu"
    )
    assert app.conf.broker_url.startswith("lcsqla+sqlite:///")
    assert {TASK_INGEST, TASK_ANALYZE} <= set(app.tasks)


def test_messages_carry_ids_only(data_env, make_tenant):  # noqa: ANN001
    """A real publish on the embedded broker: the stored message body is JSON with just the id."""
    import json

    from sqlalchemy import create_engine, text

    from longctx.broker.dispatch import enqueue_ingest

    enqueue_ingest("doc-123", data_env)
    engine = create_engine(f"sqlite:///{data_env.resolved_data_dir / 'broker.db'}")
    with engine.connect() as conn:
        payload = conn.execute(text("SELECT payload FROM kombu_message")).scalar_one()
    engine.dispose()
    msg = json.loads(payload)
    assert msg["content-type"] == "application/json"
    assert msg["headers"]["task"] == "longctx.ingest"
    assert msg["properties"]["delivery_info"]["routing_key"] == "cpu"
    import base64

    body = (
        json.loads(base64.b64decode(msg["body"]))
        if msg["properties"].get("body_encoding") == "base64"
        else json.loads(msg["body"])
    )
    assert body[0] == ["doc-123"]


def test_redelivered_task_does_not_duplicate_findings(data_env, make_tenant):  # noqa: ANN001
    from longctx.storage.models import Job, JobStatus
    from longctx.storage.session import session_scope
    from workers.tasks import run_analyze

    tk = make_tenant()
    doc = _ready_document(data_env, tk.tenant_id)
    job_id = _job(data_env, tk.tenant_id, [doc], questions=[GOV_LAW, "Who are the parties?"], top_k=3)
    assert run_analyze(None, job_id) == "succeeded"
    first = _findings(data_env, job_id)
    assert first and len({(d, q, r) for d, q, r, _ in first}) == len(first)

    # A redelivery after success is a no-op.
    assert run_analyze(None, job_id) == "skipped"
    assert _findings(data_env, job_id) == first

    # A redelivery after a crash mid-job (status still running, findings already written) rewrites them.
    with session_scope(data_env) as s:
        job = s.get(Job, job_id)
        job.status, job.finished_at, job.progress = JobStatus.running, None, 0.5
    assert run_analyze(None, job_id) == "succeeded"
    again = _findings(data_env, job_id)
    assert [x[:4] for x in again] == [x[:4] for x in first]
    with session_scope(data_env) as s:
        assert s.get(Job, job_id).attempts == 2


def test_analysis_waits_for_documents_then_the_ingest_wakes_it(data_env, make_tenant, inline_queue):  # noqa: ANN001
    """A job whose document is still queued is not re-queued in a loop: it stays queued, its outcome row says
    `waiting`, and the document's ingest task enqueues it once the document is parsed."""
    from longctx.broker.app import TASK_ANALYZE
    from longctx.documents import blob_store, register_blob
    from longctx.jobs import lifecycle
    from longctx.storage.models import Job
    from longctx.storage.session import session_scope
    from workers.tasks import run_analyze, run_ingest

    inline_queue.run = False
    tk = make_tenant()
    blob = blob_store(data_env).put_bytes(make_pdf(CONTRACT_PAGES))
    with session_scope(data_env) as s:
        doc = register_blob(s, tk.tenant_id, "c.pdf", blob).document.id
    job_id = _job(data_env, tk.tenant_id, [doc], questions=[GOV_LAW])
    assert run_analyze(None, job_id) == "waiting"
    assert inline_queue.sent == []  # no self re-queue
    with session_scope(data_env) as s:
        job = s.get(Job, job_id)
        assert job.status.value == "queued" and job.stage == "waiting for documents"
        assert [o.status.value for o in lifecycle.outcomes(s, job_id)] == ["waiting"]
    assert run_ingest(doc) == "ready"
    assert inline_queue.sent == [(TASK_ANALYZE, [job_id])]  # the ingest woke it
    assert run_analyze(None, job_id) == "succeeded"
    assert _findings(data_env, job_id)
    with session_scope(data_env) as s:
        (outcome,) = lifecycle.outcomes(s, job_id)
        assert outcome.status.value == "ok" and outcome.findings == len(_findings(data_env, job_id))


def test_wait_gives_up_after_limit(data_env, make_tenant):  # noqa: ANN001
    from longctx.documents import blob_store, register_blob
    from longctx.jobs import run_analysis_job
    from longctx.storage.models import Job
    from longctx.storage.session import session_scope

    tk = make_tenant()
    blob = blob_store(data_env).put_bytes(b"plain text that nobody parses\n")
    with session_scope(data_env) as s:
        doc = register_blob(s, tk.tenant_id, "n.txt", blob).document.id
    job_id = _job(data_env, tk.tenant_id, [doc], questions=["anything?"])
    out = run_analysis_job(job_id, data_env, wait_for_documents_s=0)
    assert out.status == "failed"
    with session_scope(data_env) as s:
        assert "not ready" in s.get(Job, job_id).error


def test_progress_is_reported(data_env, make_tenant):  # noqa: ANN001
    from longctx.jobs import run_analysis_job

    tk = make_tenant()
    doc = _ready_document(data_env, tk.tenant_id)
    job_id = _job(data_env, tk.tenant_id, [doc], schema="contract")
    seen: list[tuple[str, float]] = []
    out = run_analysis_job(job_id, data_env, progress=lambda st, f: seen.append((st, f)))
    assert out.status == "succeeded" and out.findings > 0
    assert seen[0][0] == "loading reader" and seen[-1][1] == pytest.approx(1.0)
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions)


def test_recover_reenqueues_unfinished_work(data_env, make_tenant, inline_queue):  # noqa: ANN001
    from longctx.documents import blob_store, register_blob
    from longctx.recovery import recover
    from longctx.storage.models import Finding
    from longctx.storage.session import session_scope

    inline_queue.run = False
    tk = make_tenant()
    blob = blob_store(data_env).put_bytes(make_pdf(CONTRACT_PAGES))
    with session_scope(data_env) as s:
        doc = register_blob(s, tk.tenant_id, "c.pdf", blob).document.id
    job_id = _job(data_env, tk.tenant_id, [doc], questions=[GOV_LAW])
    counts = recover(data_env)
    assert counts == {"ingest": 1, "delete": 0, "analyze": 1}
    for name, args in inline_queue.sent:
        inline_queue.execute(name, args)
    with session_scope(data_env) as s:
        assert s.scalar(select(func.count()).select_from(Finding).where(Finding.job_id == job_id)) > 0


def test_prune_delivered_broker_messages(data_env):  # noqa: ANN001
    from sqlalchemy import create_engine, text

    from longctx.broker.dispatch import enqueue_ingest
    from longctx.broker.transport import prune_delivered

    enqueue_ingest("a", data_env)
    enqueue_ingest("b", data_env)
    engine = create_engine(f"sqlite:///{data_env.resolved_data_dir / 'broker.db'}")
    with engine.begin() as conn:  # deliver one message, as a consumer does
        conn.execute(
            text(
                "UPDATE kombu_message SET visible = 0, \"timestamp\" = '2000-01-01 00:00:00' "
                "WHERE id = (SELECT min(id) FROM kombu_message)"
            )
        )
    assert prune_delivered(data_env.celery_broker_url) == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM kombu_message WHERE visible = 1")).scalar_one() == 1
    engine.dispose()
    assert prune_delivered("redis://127.0.0.1:6379/0") == 0
