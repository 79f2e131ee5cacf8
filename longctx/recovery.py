"""Bring back work that a dead worker or a lost message left behind: at `serve` start and every few seconds.

* `recover()` (at `serve` start, before any worker runs): re-enqueue every unfinished document, deletion and
  job -- the embedded broker may have lost messages with its consumer.
* `reap()` (every `reaper_interval_s`, in `serve`'s supervisor and in every worker process): running jobs and
  parsing documents whose lease lapsed (their worker died: kill -9, OOM, a lost machine) are re-queued, or
  failed after `job_max_attempts` tries; queued work untouched for `queued_resend_s` is sent again.
Both are safe at any time and in many processes at once: each transition is one conditional UPDATE whose
winner enqueues, every task is idempotent, and a duplicate message finds its job held or finished.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import select

from longctx.broker import dispatch
from longctx.config import Settings, get_settings
from longctx.documents import reap_parses
from longctx.jobs import lifecycle
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


def reap(settings: Settings | None = None) -> dict[str, int]:
    """One pass of the reaper: lapsed jobs and parses re-queued (or failed), forgotten queued work resent."""
    settings = settings or get_settings()
    counts = lifecycle.reap(settings)
    documents = reap_parses(settings)
    for doc_id in documents:
        dispatch.enqueue_ingest(doc_id, settings)
    counts["ingest"] = len(documents)
    if any(counts.values()):
        log.info("reaper: %s", counts)
    return counts


class Reaper:
    """Runs `reap()` every `settings.reaper_interval_s` in a daemon thread (workers; `serve` calls `reap`)."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reaper", daemon=True)

    def start(self) -> Reaper:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.settings.reaper_interval_s):
            try:
                reap(self.settings)
            except Exception:  # noqa: BLE001 - a database hiccup: the next tick tries again
                log.warning("reaper pass failed", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
