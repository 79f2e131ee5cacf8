"""Task definitions. Each task takes ids only and is idempotent, so a redelivered message (acks_late) is safe:
ingest re-parses into the same page rows, analysis rewrites the same findings slots, a finished job is left
alone, a job another worker holds is skipped, a delete of a missing document is a no-op.

An analysis whose documents are still parsing does not re-queue itself: the job stays queued ("waiting for
documents") and the ingest (or delete) task of each document enqueues the jobs that read it once it is done.

Heavy modules (the reader, torch) are imported inside the task bodies, so that CUDA is initialised only in
the worker process that runs the task (the gpu worker uses the solo pool: no fork after CUDA init).
"""

from __future__ import annotations

import logging
import sys
import time

from celery import Celery, Task
from sqlalchemy.exc import OperationalError

from longctx.config import get_settings
from longctx.core.metrics import observe_task

log = logging.getLogger(__name__)

#: Errors worth retrying with backoff: a busy/unreachable database, a broker hiccup, network errors.
TRANSIENT = (OperationalError, ConnectionError, TimeoutError)
RETRY_KW = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 8,
}


def _observe(task: str, outcome: str, started: float) -> None:
    try:
        observe_task(task, outcome, time.monotonic() - started)
    except Exception:  # noqa: BLE001 - metrics never break a task
        log.debug("metrics unavailable", exc_info=True)


def wake_jobs(document_id: str) -> int:
    """Enqueue the queued jobs that read this document (it is parsed, failed or deleted now)."""
    from longctx.jobs import lifecycle

    settings = get_settings()
    job_ids = lifecycle.jobs_waiting_for(settings, document_id)
    if job_ids:
        lifecycle.enqueue(settings, job_ids)
    return len(job_ids)


def run_ingest(document_id: str) -> str:
    from longctx.documents import ingest_document

    started = time.monotonic()
    outcome = "error"
    settings = get_settings()
    try:
        doc = ingest_document(document_id, settings, slice_s=settings.ocr_slice_s)
        outcome = doc.status.value if doc is not None else "deleted"
        if outcome == "queued":  # a long OCR took its turn: back to the end of the queue, pages kept
            from longctx.broker.dispatch import enqueue_ingest

            enqueue_ingest(document_id, settings)
            outcome = "continued"
        elif outcome != "parsing":  # parsing: another worker holds it and wakes the jobs when it is done
            wake_jobs(document_id)
        return outcome
    except LookupError:
        outcome = "missing"
        log.info("ingest: document %s no longer exists", document_id)
        wake_jobs(document_id)
        return outcome
    finally:
        _observe("ingest", outcome, started)


def run_analyze(task: Task | None, job_id: str) -> str:
    from longctx.jobs import run_analysis_job

    ranks = sys.modules.get("workers.ranks")  # imported (with torch) only by a multi-device worker
    if ranks is not None:
        ranks.before_job()  # its ranks are up: followers that died or hung while idle are replaced
    started = time.monotonic()
    outcome = run_analysis_job(job_id, get_settings())
    _observe("analyze", outcome.status, started)
    return outcome.status


def run_delete(document_id: str, tenant_id: str, actor: str) -> bool:
    from longctx.documents import delete_document

    started = time.monotonic()
    deleted = delete_document(document_id, tenant_id, get_settings(), actor=actor)
    wake_jobs(document_id)
    _observe("delete", "ok" if deleted else "missing", started)
    return deleted


def run_webhook(task: Task | None, job_id: str) -> str:
    from longctx.webhooks import MAX_ATTEMPTS, backoff_s, deliver

    attempt = task.request.retries if task is not None else 0
    started = time.monotonic()
    result = deliver(job_id, get_settings(), attempt=attempt)
    _observe("webhook", "ok" if result.ok else ("retry" if result.retry else "failed"), started)
    if result.retry and task is not None:
        raise task.retry(countdown=backoff_s(attempt), max_retries=MAX_ATTEMPTS + 1)
    return result.status


def register(app: Celery) -> None:
    from longctx.broker.app import TASK_ANALYZE, TASK_DELETE, TASK_INGEST, TASK_WEBHOOK

    @app.task(name=TASK_INGEST, bind=True, shared=False, **RETRY_KW)
    def ingest(self: Task, document_id: str) -> str:
        return run_ingest(document_id)

    @app.task(name=TASK_ANALYZE, bind=True, shared=False, **RETRY_KW)
    def analyze(self: Task, job_id: str) -> str:
        return run_analyze(self, job_id)

    @app.task(name=TASK_DELETE, bind=True, shared=False, **RETRY_KW)
    def delete(self: Task, document_id: str, tenant_id: str, actor: str = "system") -> bool:
        return run_delete(document_id, tenant_id, actor)

    @app.task(name=TASK_WEBHOOK, bind=True, shared=False, **RETRY_KW)
    def webhook(self: Task, job_id: str) -> str:
        return run_webhook(self, job_id)
