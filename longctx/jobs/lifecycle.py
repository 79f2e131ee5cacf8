"""The job lifecycle: every change of an analysis job's state happens here, and nowhere else.

    queued --claim--> running --finish--> succeeded | failed
    queued | running --cancel--> cancelled
    running (lease lapsed: its worker died) --reap--> queued, or failed after `job_max_attempts` claims
    failed | cancelled | running with a lapsed lease --retry--> queued

A worker claims a job with one conditional UPDATE, which gives it a lease (`lease_expires_at`, renewed by a
`LeaseKeeper` thread) and a fencing token (`lease_token`). Every later write of that worker -- progress,
findings, outcomes, the final state -- is conditional on the token, so a worker that lost its lease (the job
was cancelled, or re-queued while the worker was paused) changes nothing. A redelivered message finds the job
held, finished or claimable, and acts accordingly: no duplicate work, no duplicate findings.

A job whose documents are still parsing stays queued with the stage "waiting for documents" and the
documents' outcome rows `waiting`; the ingest task wakes it (`jobs_waiting_for`) when a document is parsed,
and the reaper sends it again once `queued_resend_s` passes without a change (a lost message, or the wait
deadline).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from longctx.broker import dispatch
from longctx.config import Settings
from longctx.core.timestamps import as_utc, utcnow
from longctx.storage import repositories as repo
from longctx.storage.models import Finding, Job, JobDocument, JobKind, JobStatus, OutcomeStatus
from longctx.storage.session import session_scope

from .errors import Conflict, NotFound

log = logging.getLogger(__name__)

TERMINAL = (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled)
ANALYSIS_KINDS = (JobKind.questions, JobKind.extraction)
RETRYABLE = (JobStatus.failed, JobStatus.cancelled)


@dataclass(frozen=True)
class Claim:
    """A worker's hold on a running job: the fencing token every write of this worker must present."""

    job_id: str
    token: str
    attempt: int


def _lease_until(settings: Settings):  # noqa: ANN202
    return utcnow() + timedelta(seconds=settings.job_lease_s)


def _held_by(claim: Claim):  # noqa: ANN202
    return and_(Job.id == claim.job_id, Job.lease_token == claim.token, Job.status == JobStatus.running)


# ---- enqueueing -------------------------------------------------------------------------------------------
def enqueue(settings: Settings, job_ids: Sequence[str]) -> list[str]:
    """Send the jobs' messages (after their rows are committed); mark those that could not be sent failed.

    Returns the ids that could not be queued."""
    failed = []
    for job_id in job_ids:
        try:
            dispatch.enqueue_analyze(job_id, settings)
        except Exception:
            log.exception("could not enqueue job %s", job_id)
            failed.append(job_id)
    if failed:
        with session_scope(settings) as s:
            s.execute(
                update(Job)
                .where(Job.id.in_(failed), Job.status == JobStatus.queued)
                .values(
                    status=JobStatus.failed,
                    stage="failed",
                    error="the work queue was unavailable; retry the job",
                    error_code="queue_unavailable",
                    finished_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
    return failed


# ---- a worker's side --------------------------------------------------------------------------------------
def claim(settings: Settings, job_id: str, worker: str) -> Claim | None:
    """queued (or running with a lapsed lease) -> running, held by this worker; None when not claimable."""
    now = utcnow()
    token = str(uuid.uuid4())
    with session_scope(settings) as s:
        result = s.execute(
            update(Job)
            .where(
                Job.id == job_id,
                Job.kind.in_(ANALYSIS_KINDS),
                or_(
                    Job.status == JobStatus.queued,
                    and_(
                        Job.status == JobStatus.running,
                        or_(Job.lease_expires_at.is_(None), Job.lease_expires_at < now),
                        Job.attempts < settings.job_max_attempts,
                    ),
                ),
            )
            .values(
                status=JobStatus.running,
                stage="loading reader",
                progress=0.0,
                eta_seconds=None,
                lease_token=token,
                lease_expires_at=now + timedelta(seconds=settings.job_lease_s),
                worker=worker,
                attempts=Job.attempts + 1,
                started_at=now,
                error=None,
                error_code=None,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return None
        attempt = s.scalar(select(Job.attempts).where(Job.id == job_id)) or 1
    return Claim(job_id, token, int(attempt))


def renew(settings: Settings, claim: Claim) -> bool:
    """Extend the lease; False when this worker no longer holds the job (cancelled, re-queued, finished)."""
    with session_scope(settings) as s:
        return holds(s, settings, claim)


def holds(session: Session, settings: Settings, claim: Claim) -> bool:
    """Renew inside `session`'s transaction: the caller's writes in it count only if this returns True.

    On PostgreSQL the UPDATE locks the job row until the commit, so a cancel or a reap waits for it and then
    sees the renewed lease; on SQLite the write transaction is exclusive anyway."""
    result = session.execute(
        update(Job)
        .where(_held_by(claim))
        .values(lease_expires_at=_lease_until(settings))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def set_progress(
    settings: Settings, claim: Claim, stage: str, progress: float, eta_seconds: float | None
) -> bool:
    with session_scope(settings) as s:
        result = s.execute(
            update(Job)
            .where(_held_by(claim))
            .values(
                stage=stage[:64],
                progress=max(0.0, min(1.0, float(progress))),
                eta_seconds=eta_seconds,
                lease_expires_at=_lease_until(settings),
            )
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def mark_waiting(settings: Settings, job_id: str, pending_documents: Sequence[str]) -> None:
    """A queued job whose documents are still parsing: say so on the job and on those documents' rows."""
    with session_scope(settings) as s:
        s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.queued)
            .values(stage="waiting for documents", progress=0.0)
            .execution_options(synchronize_session=False)
        )
        s.execute(
            update(JobDocument)
            .where(JobDocument.job_id == job_id, JobDocument.document_id.in_(list(pending_documents)))
            .values(status=OutcomeStatus.waiting)
            .execution_options(synchronize_session=False)
        )


def jobs_waiting_for(settings: Settings, document_id: str) -> list[str]:
    """Queued jobs that read `document_id` (the ingest task enqueues them once the document is parsed)."""
    with session_scope(settings) as s:
        return list(
            s.scalars(
                select(Job.id)
                .join(JobDocument, JobDocument.job_id == Job.id)
                .where(JobDocument.document_id == document_id, Job.status == JobStatus.queued)
            )
        )


def record_outcome(
    session: Session,
    job_id: str,
    document_id: str,
    status: OutcomeStatus,
    *,
    error: str | None = None,
    findings: int = 0,
    analyze_seconds: float | None = None,
    filename: str | None = None,
) -> None:
    row = session.scalar(
        select(JobDocument).where(JobDocument.job_id == job_id, JobDocument.document_id == document_id)
    )
    if row is None:  # a job created before outcome rows existed
        row = JobDocument(job_id=job_id, document_id=document_id, filename=filename or "")
        session.add(row)
    row.status = status
    row.error = error
    row.findings = findings
    row.analyze_seconds = analyze_seconds
    if filename:
        row.filename = filename


def finish(
    settings: Settings,
    claim: Claim,
    status: JobStatus,
    *,
    error: str | None = None,
    error_code: str | None = None,
    timings: dict[str, Any] | None = None,
) -> bool:
    """running -> succeeded | failed, if this worker still holds the job. Returns whether it did.

    `timings` (stored on the job) gets `total_s`, the seconds since this claim started."""
    now = utcnow()
    with session_scope(settings) as s:
        job = s.get(Job, claim.job_id)
        if job is None or job.status is not JobStatus.running or job.lease_token != claim.token:
            return False
        timings = timings if timings is not None else {}
        if job.started_at is not None:
            timings["total_s"] = round((now - as_utc(job.started_at)).total_seconds(), 3)
        result = s.execute(
            update(Job)
            .where(_held_by(claim))
            .values(
                status=status,
                stage="done" if status is JobStatus.succeeded else "failed",
                progress=1.0,
                eta_seconds=None,
                error=error,
                error_code=error_code,
                timings=timings,
                finished_at=now,
                lease_token=None,
                lease_expires_at=None,
                callback_status="pending" if job.callback_url else None,
            )
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def release(settings: Settings, claim: Claim, stage: str = "queued") -> bool:
    """running -> queued, giving the job back (a worker shutting down, or a transient database error)."""
    with session_scope(settings) as s:
        result = s.execute(
            update(Job)
            .where(_held_by(claim))
            .values(status=JobStatus.queued, stage=stage, lease_token=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


# ---- a caller's side --------------------------------------------------------------------------------------
def get(session: Session, tenant_id: str, job_id: str) -> Job:
    job = repo.get_job(session, tenant_id, job_id)
    if job is None or job.kind not in ANALYSIS_KINDS:
        raise NotFound(f"job {job_id} not found")
    return job


def outcomes(session: Session, job_id: str) -> list[JobDocument]:
    return list(
        session.scalars(
            select(JobDocument).where(JobDocument.job_id == job_id).order_by(JobDocument.position)
        )
    )


def cancel(session: Session, tenant_id: str, job_id: str, actor: str) -> Job:
    """queued | running -> cancelled. A running job's worker notices at its next lease renewal and stops."""
    job = get(session, tenant_id, job_id)
    if job.status in TERMINAL:
        raise Conflict(f"job {job_id} is {job.status.value}; only queued or running jobs are cancelled")
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_([JobStatus.queued, JobStatus.running]))
        .values(
            status=JobStatus.cancelled,
            stage="cancelled",
            eta_seconds=None,
            error="cancelled on request",
            error_code="cancelled",
            finished_at=utcnow(),
            lease_token=None,
            lease_expires_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # finished between the read and the write
        session.refresh(job)
        raise Conflict(f"job {job_id} is {job.status.value}; only queued or running jobs are cancelled")
    repo.audit(
        session, tenant_id=tenant_id, actor=actor, action="cancel", object_type="job", object_id=job_id
    )
    session.refresh(job)
    return job


def lapsed(job: Job) -> bool:
    """A running job whose lease ran out: its worker stopped renewing it."""
    expires = as_utc(job.lease_expires_at)
    return job.status is JobStatus.running and (expires is None or expires < utcnow())


def retry(session: Session, tenant_id: str, job_id: str, actor: str) -> Job:
    """failed | cancelled | lapsed running -> queued, with its findings and outcomes cleared. Enqueue after
    the commit."""
    job = get(session, tenant_id, job_id)
    if job.status not in RETRYABLE and not lapsed(job):
        raise Conflict(
            f"job {job_id} is {job.status.value}; only failed, cancelled or lapsed jobs are retried"
        )
    held_by = Job.lease_token.is_(None) if job.lease_token is None else Job.lease_token == job.lease_token
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == job.status, held_by)
        .values(
            status=JobStatus.queued,
            stage="queued",
            progress=0.0,
            eta_seconds=None,
            error=None,
            error_code=None,
            started_at=None,
            finished_at=None,
            callback_status=None,
            timings={},
            attempts=0,
            lease_token=None,
            lease_expires_at=None,
            created_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.refresh(job)
        raise Conflict(f"job {job_id} changed meanwhile (now {job.status.value}); try again")
    session.execute(delete(Finding).where(Finding.job_id == job_id))
    session.execute(
        update(JobDocument)
        .where(JobDocument.job_id == job_id)
        .values(status=OutcomeStatus.pending, error=None, findings=0, analyze_seconds=None)
        .execution_options(synchronize_session=False)
    )
    repo.audit(session, tenant_id=tenant_id, actor=actor, action="retry", object_type="job", object_id=job_id)
    session.refresh(job)
    return job


# ---- the reaper -------------------------------------------------------------------------------------------
def reap(settings: Settings) -> dict[str, int]:
    """Re-queue running jobs whose lease lapsed (fail them after `job_max_attempts` claims), and send again
    the message of jobs queued without a change for `queued_resend_s`. Safe to run in many processes at once:
    each transition is one conditional UPDATE, and only its winner enqueues."""
    now = utcnow()
    counts = {"requeued": 0, "failed": 0, "resent": 0}
    lapsed_clause = and_(
        Job.status == JobStatus.running,
        Job.kind.in_(ANALYSIS_KINDS),
        or_(Job.lease_expires_at.is_(None), Job.lease_expires_at < now),
    )
    requeue: list[str] = []
    with session_scope(settings) as s:
        rows = s.execute(select(Job.id, Job.attempts, Job.worker).where(lapsed_clause)).all()
        for job_id, attempts, worker in rows:
            if (attempts or 0) >= settings.job_max_attempts:
                values: dict[str, Any] = {
                    "status": JobStatus.failed,
                    "stage": "failed",
                    "error": (
                        f"the worker running this job stopped {attempts} times without finishing it; "
                        "retry it, or check the worker's log and limits (memory, time)"
                    ),
                    "error_code": "worker_lost",
                    "finished_at": now,
                    "lease_token": None,
                    "lease_expires_at": None,
                }
            else:
                values = {
                    "status": JobStatus.queued,
                    "stage": "re-queued: its worker stopped",
                    "progress": 0.0,
                    "eta_seconds": None,
                    "lease_token": None,
                    "lease_expires_at": None,
                }
            result = s.execute(
                update(Job)
                .where(Job.id == job_id, lapsed_clause)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                continue
            if values["status"] is JobStatus.failed:
                counts["failed"] += 1
                log.warning("job %s failed: its worker (%s) stopped %s times", job_id, worker, attempts)
            else:
                counts["requeued"] += 1
                requeue.append(job_id)
                log.warning("job %s re-queued: the lease of its worker (%s) lapsed", job_id, worker)
        stale = now - timedelta(seconds=settings.queued_resend_s)
        rows = s.scalars(
            select(Job.id).where(
                Job.status == JobStatus.queued, Job.kind.in_(ANALYSIS_KINDS), Job.updated_at < stale
            )
        ).all()
        for job_id in rows:
            result = s.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == JobStatus.queued, Job.updated_at < stale)
                .values(updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                counts["resent"] += 1
                requeue.append(job_id)
    if requeue:
        enqueue(settings, requeue)
    return counts
