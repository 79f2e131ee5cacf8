"""Re-enqueue unfinished work whose message may have been lost.

A crash of the embedded broker's consumer, or an enqueue that failed after its row was committed, leaves a
document or job in a non-final state with no message for it. `serve` calls `recover()` at start; it is safe
at any time, since every task is idempotent and a duplicate message is harmless.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from longctx.broker import dispatch
from longctx.config import Settings, get_settings
from longctx.storage.models import Document, DocumentStatus, Job, JobKind, JobStatus
from longctx.storage.session import session_scope

log = logging.getLogger(__name__)


def recover(settings: Settings | None = None) -> dict[str, int]:
    """Re-enqueue unfinished documents, deletions and jobs (at `serve` start; safe to call any time)."""
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
            dispatch.enqueue_delete(doc_id, tenant_id, "system", settings)
            counts["delete"] += 1
        else:
            dispatch.enqueue_ingest(doc_id, settings)
            counts["ingest"] += 1
    for job_id in jobs:
        dispatch.enqueue_analyze(job_id, settings)
        counts["analyze"] += 1
    if any(counts.values()):
        log.info("re-enqueued unfinished work: %s", counts)
    return counts
