"""Analysis jobs: creation (REST, CLI, batches) and execution (gpu worker, CLI in-process).

A job row names its documents and queries (free questions or an extraction schema). Execution loads each
document's pages, runs the reader, and writes the ranked answers as findings rows with
`repositories.replace_findings`, so a redelivered task rewrites the same rows instead of adding new ones.
Progress, stage and ETA go to the job row (throttled); timings (queue wait, parse, analyze) to `jobs.timings`.
A document that failed to parse (or was deleted) gets an entry with its error and no findings; the other
documents go on. The job fails only when no document could be analyzed.
"""

from __future__ import annotations

import csv
import io
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from longctx.broker import dispatch
from longctx.config import Settings, get_settings
from longctx.core.metrics import observe_job
from longctx.core.timestamps import as_utc, iso, utcnow
from longctx.storage import repositories as repo
from longctx.storage.models import Document, DocumentStatus, Finding, Job, JobKind, JobStatus
from longctx.storage.session import session_scope

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]

#: How long a job waits for its documents to finish parsing before it treats them as failed.
WAIT_FOR_DOCUMENTS_S = 3600.0
#: Least time between two progress writes to the job row.
PROGRESS_WRITE_INTERVAL_S = 0.5
MAX_QUESTIONS = 100
MAX_QUESTION_CHARS = 2000
MAX_DOCUMENTS_PER_JOB = 500
MAX_TOP_K = 20

FINDING_FIELDS = (
    "document_id",
    "filename",
    "query_index",
    "query_key",
    "query",
    "rank",
    "answer",
    "score",
    "page",
    "char_start",
    "char_end",
    "passage",
    "passage_start",
)

TERMINAL = (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled)


class JobRequestError(ValueError):
    """A job request that cannot be accepted; `status_code` is the HTTP status the API answers with."""

    def __init__(self, detail: str, status_code: int = 422):
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code


@dataclass
class JobOutcome:
    job_id: str
    status: str  # succeeded | failed | waiting | skipped
    findings: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)


# ---- schemas and queries ----------------------------------------------------------------------------------
def schema_names() -> tuple[str, ...]:
    from longctx.analysis.schemas import SCHEMAS

    return tuple(SCHEMAS)


def job_queries(params: dict[str, Any]) -> list:
    """The reader queries of a job (a list of `longctx.analysis.reader.Query`)."""
    from longctx.analysis.reader import Query

    if params.get("schema"):
        from longctx.analysis.schemas import load_schema

        return list(load_schema(params["schema"]))
    return [Query(text=q) for q in params.get("questions", [])]


# ---- creation ---------------------------------------------------------------------------------------------
def _clean_questions(questions: Sequence[str] | None) -> list[str]:
    cleaned = [q.strip() for q in (questions or []) if q and q.strip()]
    if len(cleaned) > MAX_QUESTIONS:
        raise JobRequestError(f"too many questions: {len(cleaned)} > {MAX_QUESTIONS}")
    for q in cleaned:
        if len(q) > MAX_QUESTION_CHARS:
            raise JobRequestError(f"question longer than {MAX_QUESTION_CHARS} characters")
    return cleaned


def validate_documents(session: Session, tenant_id: str, document_ids: Sequence[str]) -> list[str]:
    """Unique ids in order; 404 (JobRequestError) for a document the tenant does not have."""
    ids = list(dict.fromkeys(d for d in document_ids if d))
    if not ids:
        raise JobRequestError("document_ids must name at least one document")
    if len(ids) > MAX_DOCUMENTS_PER_JOB:
        raise JobRequestError(f"too many documents: {len(ids)} > {MAX_DOCUMENTS_PER_JOB}")
    for doc_id in ids:
        doc = repo.get_document(session, tenant_id, doc_id)
        if doc is None or doc.status is DocumentStatus.deleting:
            raise JobRequestError(f"document {doc_id} not found", 404)
    return ids


def create_analysis_job(
    session: Session,
    tenant_id: str,
    *,
    document_ids: Sequence[str],
    questions: Sequence[str] | None = None,
    schema: str | None = None,
    top_k: int | None = None,
    callback_url: str | None = None,
    batch_id: str | None = None,
    actor: str = "cli",
) -> Job:
    """Validate and insert a questions/extraction job (status queued). The caller commits, then enqueues."""
    ids = validate_documents(session, tenant_id, document_ids)
    if schema is not None:
        if schema not in schema_names():
            raise JobRequestError(f"unknown schema {schema!r}; one of {', '.join(schema_names())}")
        kind = JobKind.extraction
        params: dict[str, Any] = {"document_ids": ids, "schema": schema, "top_k": int(top_k or 1)}
    else:
        cleaned = _clean_questions(questions)
        if not cleaned:
            raise JobRequestError("questions must contain at least one non-empty question")
        kind = JobKind.questions
        params = {"document_ids": ids, "questions": cleaned, "top_k": int(top_k or 3)}
    if not 1 <= params["top_k"] <= MAX_TOP_K:
        raise JobRequestError(f"top_k must be between 1 and {MAX_TOP_K}")
    job = repo.create_job(session, tenant_id, kind, params, batch_id=batch_id, callback_url=callback_url)
    job.stage = "queued"
    job.timings = {}
    repo.audit(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="create",
        object_type="job",
        object_id=job.id,
        detail={"kind": kind.value, "documents": len(ids), "batch_id": batch_id},
    )
    return job


def reset_for_retry(job: Job) -> None:
    job.status = JobStatus.queued
    job.stage = "queued"
    job.progress = 0.0
    job.eta_seconds = None
    job.error = None
    job.started_at = None
    job.finished_at = None
    job.callback_status = None
    job.timings = {}
    job.created_at = utcnow()


# ---- output shapes (REST, CLI --json, CSV) ----------------------------------------------------------------
def job_to_dict(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind.value,
        "status": job.status.value,
        "stage": job.stage,
        "progress": job.progress,
        "eta_seconds": job.eta_seconds,
        "error": job.error,
        "timings": job.timings or {},
        "params": job.params or {},
        "batch_id": job.batch_id,
        "callback_status": job.callback_status,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
    }


def finding_to_dict(f: Finding, filename: str | None) -> dict[str, Any]:
    return {
        "document_id": f.document_id,
        "filename": filename,
        "query_index": f.query_index,
        "query_key": f.query_key,
        "query": f.query,
        "rank": f.rank,
        "answer": f.answer,
        "score": f.score,
        "page": f.page,
        "char_start": f.char_start,
        "char_end": f.char_end,
        "passage": f.passage,
        "passage_start": f.passage_start,
    }


def findings_for_job(session: Session, tenant_id: str, job_id: str) -> list[dict[str, Any]]:
    rows = repo.get_findings(session, tenant_id, job_id)
    doc_ids = {f.document_id for f in rows}
    names = dict(
        session.execute(select(Document.id, Document.filename).where(Document.id.in_(doc_ids))).all()
    )
    return [finding_to_dict(f, names.get(f.document_id)) for f in rows]


def findings_csv(items: Iterable[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(FINDING_FIELDS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for item in items:
        writer.writerow({k: "" if item.get(k) is None else item.get(k) for k in FINDING_FIELDS})
    return buf.getvalue()


# ---- the reader -------------------------------------------------------------------------------------------
_readers: dict[tuple, Any] = {}
_reader_lock = threading.Lock()


def load_reader(settings: Settings) -> Any:
    """The configured reader, loaded once per process (a checkpoint is loaded on first use)."""
    key = (
        settings.reader,
        str(settings.model_path),
        settings.attention_backend,
        settings.encoder_dtype,
        settings.chunk_size,
    )
    with _reader_lock:
        reader = _readers.get(key)
        if reader is None:
            from longctx.analysis.factory import get_reader

            reader = get_reader(settings)
            _readers[key] = reader
        return reader


# ---- execution --------------------------------------------------------------------------------------------
class _ProgressWriter:
    """Writes stage/progress/ETA to the job row at most every `interval` seconds (and always on force)."""

    def __init__(self, settings: Settings, job_id: str, external: Progress | None, interval: float):
        self.settings = settings
        self.job_id = job_id
        self.external = external
        self.interval = interval
        self.started = time.monotonic()
        self.last_write = 0.0
        self.stage = "running"

    def __call__(self, stage: str, fraction: float, force: bool = False) -> None:
        fraction = max(0.0, min(1.0, float(fraction)))
        self.stage = stage
        if self.external is not None:
            self.external(stage, fraction)
        now = time.monotonic()
        if not force and now - self.last_write < self.interval:
            return
        self.last_write = now
        elapsed = now - self.started
        eta = elapsed * (1 - fraction) / fraction if fraction > 0.02 else None
        try:
            with session_scope(self.settings) as s:
                job = s.get(Job, self.job_id)
                if job is not None and job.status is JobStatus.running:
                    repo.set_job_progress(s, job, stage=stage, progress=fraction, eta_seconds=eta)
        except OperationalError:  # a busy database must not fail the analysis; the next write catches up
            log.warning("could not write progress of job %s", self.job_id, exc_info=True)


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
                }
            )
    return rows


def run_analysis_job(
    job_id: str,
    settings: Settings | None = None,
    progress: Progress | None = None,
    *,
    reader: Any = None,
    wait_for_documents_s: float = WAIT_FOR_DOCUMENTS_S,
    enqueue_webhook: bool = True,
) -> JobOutcome:
    """Run one analysis job to completion (idempotent; a finished job is left as it is).

    Returns `waiting` without doing anything when a document is still queued/parsing (the worker retries the
    task later); documents still not ready after `wait_for_documents_s` count as failed.
    """
    settings = settings or get_settings()
    with session_scope(settings) as s:
        job = s.get(Job, job_id)
        if job is None:
            log.warning("job %s does not exist (deleted?)", job_id)
            return JobOutcome(job_id, "skipped")
        if job.status in TERMINAL:
            return JobOutcome(job_id, "skipped")
        params = dict(job.params or {})
        tenant_id = job.tenant_id
        callback_url = job.callback_url
        age = (utcnow() - as_utc(job.created_at)).total_seconds()
        docs: list[_DocInfo] = []
        for doc_id in params.get("document_ids", []):
            d = s.get(Document, doc_id)
            if d is None or d.tenant_id != tenant_id:
                docs.append(_DocInfo(doc_id, "", None, "document was deleted", 0, None))
            else:
                docs.append(_DocInfo(d.id, d.filename, d.status, d.error, d.tokens or 0, d.parse_seconds))
        pending = [d.id for d in docs if d.status in (DocumentStatus.queued, DocumentStatus.parsing)]
        if pending and age < wait_for_documents_s:
            if job.stage != "waiting for documents":
                repo.set_job_progress(s, job, stage="waiting for documents", progress=0.0)
            return JobOutcome(job_id, "waiting")
        repo.set_job_progress(s, job, status=JobStatus.running, stage="loading reader", progress=0.0)
        job.attempts = (job.attempts or 0) + 1
        queue_wait = age
    writer = _ProgressWriter(settings, job_id, progress, PROGRESS_WRITE_INTERVAL_S)
    writer("loading reader", 0.0, force=True)
    t0 = time.monotonic()
    outcome = JobOutcome(job_id, "succeeded")
    per_doc: dict[str, dict[str, Any]] = {}
    timings: dict[str, Any] = {
        "queue_wait_s": round(queue_wait, 3),
        "parse_s": round(sum(d.parse_seconds or 0.0 for d in docs), 3),
    }
    try:
        reader = reader if reader is not None else load_reader(settings)
        queries = job_queries(params)
    except OperationalError:
        raise
    except Exception as exc:
        log.exception("job %s could not start", job_id)
        return _finish(
            settings,
            job_id,
            JobStatus.failed,
            f"could not start the analysis: {exc}",
            timings,
            callback_url,
            enqueue_webhook,
            outcome,
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
        entry: dict[str, Any] = {"filename": info.filename}
        per_doc[info.id] = entry
        error = None
        if info.status is None or info.status is DocumentStatus.deleting:
            error = "document was deleted"
        elif info.status is DocumentStatus.failed:
            error = f"document failed to parse: {info.error or 'unknown reason'}"
        elif info.status is not DocumentStatus.ready:
            error = f"document not ready after {int(wait_for_documents_s)} s (status {info.status.value})"
        if error is None:
            started = time.monotonic()
            try:
                count = _analyze_document(
                    settings,
                    job_id,
                    tenant_id,
                    info,
                    queries,
                    top_k,
                    reader,
                    reader_name,
                    writer,
                    done_tokens / total_tokens,
                    weight,
                )
                entry.update(status="ok", findings=count, analyze_s=round(time.monotonic() - started, 3))
                outcome.findings += count
                ok += 1
            except OperationalError:
                raise  # transient: the task is retried and rewrites the same findings
            except Exception as exc:  # this document fails; the others go on
                log.exception("job %s: document %s failed in the reader", job_id, info.id)
                error = f"analysis failed: {type(exc).__name__}: {exc}"[:500]
        if error is not None:
            entry.update(status="failed", error=error)
            outcome.errors.append({"document_id": info.id, "error": error})
            with session_scope(settings) as s:  # a rerun must not keep findings of an earlier delivery
                repo.replace_findings(s, job_id, info.id, [])
        done_tokens += max(info.tokens, 1)
        writer("analyzing", done_tokens / total_tokens)
    timings["analyze_s"] = round(time.monotonic() - t_analyze, 3)
    timings["documents"] = per_doc
    if outcome.errors:
        timings["errors"] = outcome.errors
    if ok == 0 and docs:
        reasons = "; ".join(f"{e['document_id']}: {e['error']}" for e in outcome.errors[:5])
        return _finish(
            settings,
            job_id,
            JobStatus.failed,
            f"no document could be analyzed ({reasons})"[:2000],
            timings,
            callback_url,
            enqueue_webhook,
            outcome,
        )
    return _finish(
        settings, job_id, JobStatus.succeeded, None, timings, callback_url, enqueue_webhook, outcome
    )


def _analyze_document(
    settings: Settings,
    job_id: str,
    tenant_id: str,
    info: _DocInfo,
    queries: Sequence,
    top_k: int,
    reader: Any,
    reader_name: str,
    writer: _ProgressWriter,
    base: float,
    weight: float,
) -> int:
    from longctx.analysis.reader import ReaderDocument

    with session_scope(settings) as s:
        pages = repo.get_pages(s, info.id)
        rdoc = ReaderDocument.from_pages(info.id, pages)

    def on_progress(*args: Any, **kwargs: Any) -> None:
        frac = _fraction_from(args, kwargs)
        if frac is not None:
            writer("analyzing", base + weight * max(0.0, min(1.0, frac)))

    writer("analyzing", base)
    results = reader.answer(rdoc, list(queries), top_k=top_k, progress=on_progress)
    rows = _findings_rows(tenant_id, queries, results, reader_name, rdoc)
    writer("storing", base + weight)
    with session_scope(settings) as s:
        if s.get(Document, info.id) is None:
            return 0  # deleted while it was being read: nothing to store
        return repo.replace_findings(s, job_id, info.id, rows)


def _finish(
    settings: Settings,
    job_id: str,
    status: JobStatus,
    error: str | None,
    timings: dict[str, Any],
    callback_url: str | None,
    enqueue_webhook: bool,
    outcome: JobOutcome,
) -> JobOutcome:
    with session_scope(settings) as s:
        job = s.get(Job, job_id)
        if job is None:
            return JobOutcome(job_id, "skipped")
        started = as_utc(job.started_at)
        timings = dict(timings)
        if started is not None:
            timings["total_s"] = round((utcnow() - started).total_seconds(), 3)
        job.timings = timings
        repo.set_job_progress(
            s,
            job,
            status=status,
            stage="done" if status is JobStatus.succeeded else "failed",
            progress=1.0,
            eta_seconds=None,
            error=error,
        )
        if callback_url:
            job.callback_status = "pending"
    outcome.status = status.value
    _observe_job(status.value, timings.get("total_s"))
    if callback_url and enqueue_webhook:
        try:
            dispatch.enqueue_webhook(job_id, settings)
        except Exception:  # the job is done either way; `callback_status` stays "pending"
            log.exception("could not enqueue the webhook of job %s", job_id)
    return outcome


def _observe_job(status: str, seconds: float | None) -> None:
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
            if job.status in TERMINAL or time.monotonic() > deadline:
                return job
        time.sleep(0.2)
