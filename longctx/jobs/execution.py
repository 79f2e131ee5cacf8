"""Running one analysis job on a worker (the gpu queue's task, or the CLI in-process).

The run claims the job (`lifecycle.claim`), keeps its lease alive in a background thread, reads each document
with the reader and writes its findings and its outcome row in one transaction fenced by the lease, so a
redelivered task rewrites the same rows and a worker that lost the job writes nothing. A document that fails
gets a failed outcome with a message for the client (details, with the same reference, in the log); the
other documents go on. The job fails only when no document could be analyzed.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import OperationalError

from longctx.broker import dispatch
from longctx.config import Settings, get_settings
from longctx.core.errors import error_reference
from longctx.core.lease import LeaseKeeper, LeaseLost, worker_identity
from longctx.core.metrics import observe_job
from longctx.core.timestamps import as_utc, utcnow
from longctx.storage import repositories as repo
from longctx.storage.models import Document, DocumentStatus, Job, JobStatus, OutcomeStatus
from longctx.storage.session import session_scope

from . import lifecycle
from .errors import WorkerFault
from .readers import load_reader
from .requests import job_queries

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]

#: How long a job waits for its documents to finish parsing before it treats them as failed.
WAIT_FOR_DOCUMENTS_S = 3600.0
#: Least time between two progress writes to the job row.
PROGRESS_WRITE_INTERVAL_S = 0.5


@dataclass
class JobOutcome:
    job_id: str
    status: str  # succeeded | failed | waiting | skipped | held | lost
    findings: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    seconds: float | None = None


class _ProgressWriter:
    """Writes stage/progress/ETA to the job row at most every `interval` seconds (and always on force);
    raises `LeaseLost` once the job is no longer this worker's."""

    def __init__(
        self,
        settings: Settings,
        claim: lifecycle.Claim,
        keeper: LeaseKeeper,
        external: Progress | None,
        interval: float,
    ):
        self.settings = settings
        self.claim = claim
        self.keeper = keeper
        self.external = external
        self.interval = interval
        self.started = time.monotonic()
        self.last_write = 0.0

    def __call__(self, stage: str, fraction: float, force: bool = False) -> None:
        self.keeper.check()
        fraction = max(0.0, min(1.0, float(fraction)))
        if self.external is not None:
            self.external(stage, fraction)
        now = time.monotonic()
        if not force and now - self.last_write < self.interval:
            return
        self.last_write = now
        elapsed = now - self.started
        eta = elapsed * (1 - fraction) / fraction if fraction > 0.02 else None
        try:
            held = lifecycle.set_progress(self.settings, self.claim, stage, fraction, eta)
        except OperationalError:  # a busy database must not fail the analysis; the next write catches up
            log.warning("could not write progress of job %s", self.claim.job_id, exc_info=True)
            return
        if not held:
            raise LeaseLost(f"job {self.claim.job_id} is no longer held by this worker")


def _fraction_from(args: tuple, kwargs: dict) -> float | None:
    """Accept `progress(fraction)`, `progress(stage, fraction)` or `progress(done, total)` from the reader."""
    values = [a for a in args if isinstance(a, int | float) and not isinstance(a, bool)]
    if "fraction" in kwargs:
        return float(kwargs["fraction"])
    if len(values) >= 2 and values[1]:
        return float(values[0]) / float(values[1])
    if values:
        return float(values[0])
    return None


@dataclass
class _DocInfo:
    id: str
    filename: str
    status: DocumentStatus | None
    error: str | None
    tokens: int
    parse_seconds: float | None


def _findings_rows(tenant_id: str, queries: Sequence, results: Sequence, reader_name: str, rdoc: Any) -> list:
    rows: list[dict[str, Any]] = []
    for qi, (query, answers) in enumerate(zip(queries, results, strict=False)):
        for rank, ans in enumerate(answers):
            page = ans.page
            if page is None and ans.text is not None and ans.char_start is not None:
                try:
                    page = rdoc.page_for_offset(ans.char_start)
                except Exception:  # noqa: BLE001 - a citation without a page is still a finding
                    page = None
            rows.append(
                {
                    "tenant_id": tenant_id,
                    "query_index": qi,
                    "query_key": getattr(query, "key", None),
                    "query": query.text,
                    "rank": rank,
                    "answer": ans.text,
                    "score": float(ans.score),
                    "page": page if ans.text is not None else None,
                    "char_start": ans.char_start if ans.text is not None else None,
                    "char_end": ans.char_end if ans.text is not None else None,
                    "passage": ans.passage,
                    "passage_start": ans.passage_start,
                    "reader": reader_name,
                    "detail": getattr(ans, "detail", None) if ans.text is not None else None,
                }
            )
    return rows


def _document_error(info: _DocInfo, wait_for_documents_s: float) -> str | None:
    if info.status is None or info.status is DocumentStatus.deleting:
        return "document was deleted"
    if info.status is DocumentStatus.failed:
        return f"document failed to parse: {info.error or 'unknown reason'}"
    if info.status is not DocumentStatus.ready:
        return f"document not ready after {int(wait_for_documents_s)} s (status {info.status.value})"
    return None


def run_analysis_job(
    job_id: str,
    settings: Settings | None = None,
    progress: Progress | None = None,
    *,
    reader: Any = None,
    wait_for_documents_s: float = WAIT_FOR_DOCUMENTS_S,
    enqueue_webhook: bool = True,
    worker: str | None = None,
) -> JobOutcome:
    """Run one analysis job to completion, if it is this worker's to run.

    Returns `skipped` (finished, cancelled or missing), `held` (another worker holds a live lease on it),
    `waiting` (a document is still parsing: the job stays queued until the ingest task or the reaper sends
    it again; past `wait_for_documents_s` such documents count as failed) or `lost` (cancelled or re-queued
    while it ran: nothing more is written); otherwise the final status.
    """
    settings = settings or get_settings()
    with session_scope(settings) as s:
        job = s.get(Job, job_id)
        if job is None:
            log.warning("job %s does not exist (deleted?)", job_id)
            return JobOutcome(job_id, "skipped")
        if job.status in lifecycle.TERMINAL:
            return JobOutcome(job_id, "skipped")
        if job.status is JobStatus.running and not lifecycle.lapsed(job):
            return JobOutcome(job_id, "held")
        params = dict(job.params or {})
        tenant_id = job.tenant_id
        callback_url = job.callback_url
        age = (utcnow() - as_utc(job.created_at)).total_seconds()
        docs: list[_DocInfo] = []
        for doc_id in params.get("document_ids", []):
            d = s.get(Document, doc_id)
            if d is None or d.tenant_id != tenant_id:
                docs.append(_DocInfo(doc_id, "", None, None, 0, None))
            else:
                docs.append(_DocInfo(d.id, d.filename, d.status, d.error, d.tokens or 0, d.parse_seconds))
    pending = [d.id for d in docs if d.status in (DocumentStatus.queued, DocumentStatus.parsing)]
    if pending and age < wait_for_documents_s:
        lifecycle.mark_waiting(settings, job_id, pending)
        return JobOutcome(job_id, "waiting")
    claim = lifecycle.claim(settings, job_id, worker or worker_identity())
    if claim is None:
        return JobOutcome(job_id, "skipped")
    keeper = LeaseKeeper(
        lambda: lifecycle.renew(settings, claim), settings.job_lease_s / 3, f"job-{job_id[:8]}"
    )
    with keeper:
        writer = _ProgressWriter(settings, claim, keeper, progress, PROGRESS_WRITE_INTERVAL_S)
        try:
            outcome = _run_claimed(
                settings, claim, writer, docs, params, tenant_id, age, reader, wait_for_documents_s
            )
        except LeaseLost:
            log.info("job %s: no longer held by this worker (cancelled or re-queued); stopped", job_id)
            return JobOutcome(job_id, "lost")
        except OperationalError:
            # a database outage: give the job back so the task's retry (or another worker) claims it at once
            with contextlib.suppress(Exception):
                lifecycle.release(settings, claim, stage="re-queued: database unavailable")
            raise
    _observe_job(outcome.status, outcome.seconds)
    if outcome.status in ("succeeded", "failed") and callback_url and enqueue_webhook:
        try:
            dispatch.enqueue_webhook(job_id, settings)
        except Exception:  # the job is done either way; `callback_status` stays "pending"
            log.exception("could not enqueue the webhook of job %s", job_id)
    return outcome


def _run_claimed(
    settings: Settings,
    claim: lifecycle.Claim,
    writer: _ProgressWriter,
    docs: list[_DocInfo],
    params: dict[str, Any],
    tenant_id: str,
    queue_wait: float,
    reader: Any,
    wait_for_documents_s: float,
) -> JobOutcome:
    job_id = claim.job_id
    writer("loading reader", 0.0, force=True)
    t0 = time.monotonic()
    outcome = JobOutcome(job_id, "succeeded")
    timings: dict[str, Any] = {
        "queue_wait_s": round(queue_wait, 3),
        "parse_s": round(sum(d.parse_seconds or 0.0 for d in docs), 3),
    }
    try:
        reader = reader if reader is not None else load_reader(settings)
        queries = job_queries(params)
    except (OperationalError, LeaseLost):
        raise
    except Exception:
        ref = error_reference()
        log.exception("job %s could not start [ref %s]", job_id, ref)
        return _finish(
            settings,
            claim,
            outcome,
            JobStatus.failed,
            f"could not load the reader (error reference {ref}; the service log has the details)",
            "reader_unavailable",
            timings,
        )
    timings["load_reader_s"] = round(time.monotonic() - t0, 3)
    top_k = int(params.get("top_k", 3))
    reader_name = getattr(reader, "name", type(reader).__name__)
    total_tokens = sum(max(d.tokens, 1) for d in docs) or 1
    done_tokens = 0
    t_analyze = time.monotonic()
    ok = 0
    for info in docs:
        weight = max(info.tokens, 1) / total_tokens
        error = _document_error(info, wait_for_documents_s)
        started = time.monotonic()
        rows: list[dict[str, Any]] = []
        if error is None:
            try:
                rows = _read_document(
                    settings, info, queries, top_k, reader, reader_name, tenant_id, writer,
                    done_tokens / total_tokens, weight,
                )  # fmt: skip
            except (OperationalError, LeaseLost):
                raise  # transient, or no longer ours: nothing of this document is written
            except WorkerFault as exc:  # the worker failed under this document (and repairs itself)
                ref = error_reference()
                log.exception("job %s: worker fault on document %s [ref %s]", job_id, info.id, ref)
                error = f"{exc.reason} (error reference {ref})"
            except Exception:  # this document fails; the others go on
                ref = error_reference()
                log.exception("job %s: the reader failed on document %s [ref %s]", job_id, info.id, ref)
                error = f"the reader failed on this document (error reference {ref})"
        seconds = round(time.monotonic() - started, 3) if error is None else None
        with session_scope(settings) as s:
            if not lifecycle.holds(s, settings, claim):
                s.rollback()
                raise LeaseLost(job_id)
            if error is None and s.get(Document, info.id) is None:
                rows = []  # deleted while it was being read: nothing to store
            count = repo.replace_findings(s, job_id, info.id, rows if error is None else [])
            lifecycle.record_outcome(
                s,
                job_id,
                info.id,
                OutcomeStatus.ok if error is None else OutcomeStatus.failed,
                error=error,
                findings=count,
                analyze_seconds=seconds,
                filename=info.filename,
            )
        if error is None:
            outcome.findings += count
            ok += 1
        else:
            outcome.errors.append({"document_id": info.id, "error": error})
        done_tokens += max(info.tokens, 1)
        writer("analyzing", done_tokens / total_tokens)
    timings["analyze_s"] = round(time.monotonic() - t_analyze, 3)
    if ok == 0 and docs:
        n = len(outcome.errors)
        first = outcome.errors[0]["error"] if outcome.errors else ""
        return _finish(
            settings,
            claim,
            outcome,
            JobStatus.failed,
            f"no document could be analyzed ({n} failed; first: {first})"[:2000],
            "no_document_analyzed",
            timings,
        )
    return _finish(settings, claim, outcome, JobStatus.succeeded, None, None, timings)


def _read_document(
    settings: Settings,
    info: _DocInfo,
    queries: Sequence,
    top_k: int,
    reader: Any,
    reader_name: str,
    tenant_id: str,
    writer: _ProgressWriter,
    base: float,
    weight: float,
) -> list[dict[str, Any]]:
    from longctx.analysis.reader import ReaderDocument
    from longctx.ingest.tables import Table

    with session_scope(settings) as s:
        pages = repo.get_pages(s, info.id)
        rdoc = ReaderDocument.from_pages(info.id, pages)
        rdoc.tables = [Table.from_json(t.body) for t in repo.get_tables(s, info.id)]

    def on_progress(*args: Any, **kwargs: Any) -> None:
        frac = _fraction_from(args, kwargs)
        if frac is not None:
            writer("analyzing", base + weight * max(0.0, min(1.0, frac)))

    writer("analyzing", base)
    results = reader.answer(rdoc, list(queries), top_k=top_k, progress=on_progress)
    writer("storing", base + weight)
    return _findings_rows(tenant_id, queries, results, reader_name, rdoc)


def _finish(
    settings: Settings,
    claim: lifecycle.Claim,
    outcome: JobOutcome,
    status: JobStatus,
    error: str | None,
    error_code: str | None,
    timings: dict[str, Any],
) -> JobOutcome:
    if not lifecycle.finish(settings, claim, status, error=error, error_code=error_code, timings=timings):
        raise LeaseLost(claim.job_id)
    outcome.status = status.value
    outcome.seconds = timings.get("total_s")
    return outcome


def _observe_job(status: str, seconds: float | None) -> None:
    if status not in ("succeeded", "failed"):
        return
    try:
        observe_job(status, seconds)
    except Exception:  # noqa: BLE001 - metrics never break a job
        log.debug("metrics unavailable", exc_info=True)


def wait_for_job(job_id: str, settings: Settings | None = None, timeout: float = 600.0) -> Job:
    """Poll the job row until it is finished (CLI and tests)."""
    settings = settings or get_settings()
    deadline = time.monotonic() + timeout
    while True:
        with session_scope(settings) as s:
            job = s.get(Job, job_id)
            if job is None:
                raise LookupError(job_id)
            if job.status in lifecycle.TERMINAL or time.monotonic() > deadline:
                return job
        time.sleep(0.2)
