"""Enqueue helpers: called only after the rows they name are committed (ids only in messages).

`recover()` re-enqueues work whose message may have been lost (a crash of the embedded broker's consumer,
an enqueue that failed after the commit). Every task is idempotent, so a duplicate message is harmless.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from longctx.config import Settings, get_settings
from workers.celery_app import TASK_ANALYZE, TASK_DELETE, TASK_INGEST, TASK_WEBHOOK, get_app

log = logging.getLogger(__name__)

RETRY_POLICY = {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2.0}


def _send(name: str, args: list, settings: Settings | None = None, countdown: float | None = None) -> None:
    app = get_app(settings or get_settings())
    app.send_task(name, args=args, countdown=countdown, retry=True, retry_policy=RETRY_POLICY)


def enqueue_ingest(document_id: str, settings: Settings | None = None) -> None:
    _send(TASK_INGEST, [document_id], settings)


def enqueue_analyze(job_id: str, settings: Settings | None = None, countdown: float | None = None) -> None:
    _send(TASK_ANALYZE, [job_id], settings, countdown)


def enqueue_delete(document_id: str, tenant_id: str, actor: str, settings: Settings | None = None) -> None:
    _send(TASK_DELETE, [document_id, tenant_id, actor], settings)


def enqueue_webhook(job_id: str, settings: Settings | None = None, countdown: float | None = None) -> None:
    _send(TASK_WEBHOOK, [job_id], settings, countdown)


def recover(settings: Settings | None = None) -> dict[str, int]:
    """Re-enqueue unfinished documents, deletions and jobs (at `serve` start; safe to call any time)."""
    from longctx.storage.models import Document, DocumentStatus, Job, JobKind, JobStatus
    from longctx.storage.session import session_scope

    settings = settings or get_settings()
    counts = {"ingest": 0, "delete": 0, "analyze": 0}
    with session_scope(settings) as s:
        docs = s.execute(
            select(Document.id, Document.tenant_id, Document.status).where(
                Document.status.in_([DocumentStatus.queued, DocumentStatus.parsing, DocumentStatus.deleting])
            )
        ).all()
        jobs = s.scalars(
            select(Job.id).where(
                Job.status.in_([JobStatus.queued, JobStatus.running]),
                Job.kind.in_([JobKind.questions, JobKind.extraction]),
            )
        ).all()
    for doc_id, tenant_id, status in docs:
        if status is DocumentStatus.deleting:
            enqueue_delete(doc_id, tenant_id, "system", settings)
            counts["delete"] += 1
        else:
            enqueue_ingest(doc_id, settings)
            counts["ingest"] += 1
    for job_id in jobs:
        enqueue_analyze(job_id, settings)
        counts["analyze"] += 1
    if any(counts.values()):
        log.info("re-enqueued unfinished work: %s", counts)
    return counts
