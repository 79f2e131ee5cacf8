"""Analysis jobs: questions, extractions, batches, job status, findings (JSON/CSV), schemas, webhook key."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from longctx.api.auth import Caller, authenticate
from longctx.api.schemas import (
    BatchAccepted,
    BatchOut,
    BatchRequest,
    ErrorBody,
    ExtractionRequest,
    FindingList,
    JobAccepted,
    JobList,
    JobOut,
    QuestionsRequest,
    SchemaList,
    WebhookSecret,
)
from longctx.broker import dispatch
from longctx.core.metrics import JOBS_CREATED
from longctx.core.timestamps import iso
from longctx.jobs import (
    JobRequestError,
    create_analysis_job,
    findings_csv,
    findings_for_job,
    job_to_dict,
    reset_for_retry,
    schema_names,
)
from longctx.storage import repositories as repo
from longctx.storage.models import Batch, Job, JobKind, JobStatus
from longctx.storage.session import session_scope

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["analysis"])
Auth = Annotated[Caller, Depends(authenticate)]
JOB_404 = {404: {"model": ErrorBody, "description": "No such job in your tenant."}}
ANALYSIS_KINDS = (JobKind.questions, JobKind.extraction)


def _enqueue_jobs(settings, job_ids: list[str]) -> None:  # noqa: ANN001
    """Enqueue after the commit; a job that cannot be queued is marked failed (retry it later)."""
    failed = []
    for job_id in job_ids:
        try:
            dispatch.enqueue_analyze(job_id, settings)
        except Exception:
            log.exception("could not enqueue job %s", job_id)
            failed.append(job_id)
    if failed:
        with session_scope(settings) as s:
            for job_id in failed:
                job = s.get(Job, job_id)
                if job is not None and job.status is JobStatus.queued:
                    repo.set_job_progress(
                        s,
                        job,
                        status=JobStatus.failed,
                        stage="failed",
                        error="the work queue was unavailable; retry the job",
                    )
        raise HTTPException(503, "the work queue is unavailable; the job is marked failed, retry it later")


def _create(request: Request, caller: Caller, **kwargs) -> dict:  # noqa: ANN003
    settings = request.app.state.settings
    try:
        with session_scope(settings) as s:
            job = create_analysis_job(s, caller.tenant_id, actor=caller.actor, **kwargs)
            job_id, kind, status = job.id, job.kind.value, job.status.value
    except JobRequestError as exc:
        raise HTTPException(exc.status_code, exc.detail) from exc
    JOBS_CREATED.labels(kind=kind).inc()
    _enqueue_jobs(settings, [job_id])
    return {"job_id": job_id, "status": status}


@router.post(
    "/questions",
    status_code=202,
    response_model=JobAccepted,
    responses={404: {"model": ErrorBody, "description": "A document is not in your tenant."}},
    summary="Ask free questions over one or more documents.",
)
def ask_questions(request: Request, caller: Auth, body: QuestionsRequest) -> dict:
    return _create(
        request,
        caller,
        document_ids=body.document_ids,
        questions=body.questions,
        top_k=body.top_k,
        callback_url=body.callback_url,
    )


@router.post(
    "/extractions",
    status_code=202,
    response_model=JobAccepted,
    responses={404: {"model": ErrorBody, "description": "A document is not in your tenant."}},
    summary="Extract a schema's fields (contract key terms, report key facts).",
)
def extract(request: Request, caller: Auth, body: ExtractionRequest) -> dict:
    return _create(
        request,
        caller,
        document_ids=body.document_ids,
        schema=body.schema_,
        top_k=body.top_k,
        callback_url=body.callback_url,
    )


@router.get("/jobs", response_model=JobList, summary="The tenant's analysis jobs, newest first.")
def list_jobs(
    request: Request,
    caller: Auth,
    status: Annotated[JobStatus | None, Query()] = None,
    batch_id: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict:
    where = [Job.tenant_id == caller.tenant_id, Job.kind.in_(ANALYSIS_KINDS)]
    if status is not None:
        where.append(Job.status == status)
    if batch_id is not None:
        where.append(Job.batch_id == batch_id)
    with session_scope(request.app.state.settings) as s:
        total = s.scalar(select(func.count()).select_from(Job).where(*where)) or 0
        rows = s.scalars(
            select(Job).where(*where).order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)
        )
        return {
            "items": [job_to_dict(j) for j in rows],
            "total": int(total),
            "limit": limit,
            "offset": offset,
        }


def _job(s, caller: Caller, job_id: str) -> Job:  # noqa: ANN001
    job = repo.get_job(s, caller.tenant_id, job_id)
    if job is None:
        raise HTTPException(404, f"job {job_id} not found")
    return job


@router.get("/jobs/{job_id}", response_model=JobOut, responses=JOB_404)
def get_job(request: Request, caller: Auth, job_id: str) -> dict:
    with session_scope(request.app.state.settings) as s:
        return job_to_dict(_job(s, caller, job_id))


@router.post(
    "/jobs/{job_id}/retry",
    status_code=202,
    response_model=JobOut,
    responses={**JOB_404, 409: {"model": ErrorBody, "description": "The job is not failed/cancelled."}},
)
def retry_job(request: Request, caller: Auth, job_id: str) -> dict:
    settings = request.app.state.settings
    with session_scope(settings) as s:
        job = _job(s, caller, job_id)
        if job.status not in (JobStatus.failed, JobStatus.cancelled):
            raise HTTPException(
                409, f"job {job_id} is {job.status.value}; only failed or cancelled jobs are retried"
            )
        reset_for_retry(job)
        repo.audit(
            s,
            tenant_id=caller.tenant_id,
            actor=caller.actor,
            action="retry",
            object_type="job",
            object_id=job_id,
        )
    _enqueue_jobs(settings, [job_id])
    with session_scope(settings) as s:
        return job_to_dict(_job(s, caller, job_id))


@router.get(
    "/jobs/{job_id}/findings",
    response_model=FindingList,
    responses=JOB_404,
    summary="Ranked answers with page and character citations (`?format=csv` for CSV).",
)
def get_findings(
    request: Request, caller: Auth, job_id: str, format: Annotated[Literal["json", "csv"], Query()] = "json"
):  # noqa: ANN201
    with session_scope(request.app.state.settings) as s:
        _job(s, caller, job_id)
        items = findings_for_job(s, caller.tenant_id, job_id)
    if format == "csv":
        return Response(
            findings_csv(items),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="findings-{job_id}.csv"'},
        )
    return {"job_id": job_id, "items": items}


@router.get("/schemas", response_model=SchemaList, summary="Extraction schemas and their fields.")
def list_schemas(caller: Auth) -> dict:
    from longctx.analysis.schemas import schema_fields

    return {"items": [{"name": n, "fields": schema_fields(n)} for n in schema_names()]}


# ---- batches ----------------------------------------------------------------------------------------------
@router.post(
    "/batches",
    status_code=202,
    response_model=BatchAccepted,
    summary="Many documents x (questions | schemas): one job per document and query set.",
)
def create_batch(request: Request, caller: Auth, body: BatchRequest) -> dict:
    settings = request.app.state.settings
    questions = [q for q in body.questions if q.strip()]
    if not questions and not body.schemas:
        raise HTTPException(422, "a batch needs questions, schemas, or both")
    unknown = [n for n in body.schemas if n not in schema_names()]
    if unknown:
        raise HTTPException(
            422, f"unknown schema(s) {', '.join(unknown)}; one of {', '.join(schema_names())}"
        )
    job_ids: list[str] = []
    try:
        with session_scope(settings) as s:
            batch = Batch(
                tenant_id=caller.tenant_id,
                name=body.name,
                params={
                    "document_ids": body.document_ids,
                    "questions": questions,
                    "schemas": body.schemas,
                    "top_k": body.top_k,
                },
            )
            s.add(batch)
            s.flush()
            for doc_id in dict.fromkeys(body.document_ids):
                if questions:
                    job = create_analysis_job(
                        s,
                        caller.tenant_id,
                        document_ids=[doc_id],
                        questions=questions,
                        top_k=body.top_k,
                        callback_url=body.callback_url,
                        batch_id=batch.id,
                        actor=caller.actor,
                    )
                    job_ids.append(job.id)
                for name in body.schemas:
                    job = create_analysis_job(
                        s,
                        caller.tenant_id,
                        document_ids=[doc_id],
                        schema=name,
                        callback_url=body.callback_url,
                        batch_id=batch.id,
                        actor=caller.actor,
                    )
                    job_ids.append(job.id)
            repo.audit(
                s,
                tenant_id=caller.tenant_id,
                actor=caller.actor,
                action="create",
                object_type="batch",
                object_id=batch.id,
                detail={"jobs": len(job_ids)},
            )
            batch_id = batch.id
    except JobRequestError as exc:
        raise HTTPException(exc.status_code, exc.detail) from exc
    for _job_id in job_ids:
        JOBS_CREATED.labels(kind="batch").inc()
    _enqueue_jobs(settings, job_ids)
    return {"batch_id": batch_id, "job_ids": job_ids}


def _batch_summary(s, batch: Batch) -> dict:  # noqa: ANN001
    jobs = list(s.scalars(select(Job).where(Job.batch_id == batch.id).order_by(Job.created_at, Job.id)))
    counts: dict[str, int] = {}
    for j in jobs:
        counts[j.status.value] = counts.get(j.status.value, 0) + 1
    done = (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled)
    progress = sum(1.0 if j.status in done else j.progress for j in jobs) / len(jobs) if jobs else 1.0
    return {
        "id": batch.id,
        "name": batch.name,
        "created_at": iso(batch.created_at),
        "total": len(jobs),
        "counts": counts,
        "progress": round(progress, 4),
        "jobs": [job_to_dict(j) for j in jobs],
    }


@router.get(
    "/batches/{batch_id}",
    response_model=BatchOut,
    responses={404: {"model": ErrorBody, "description": "No such batch in your tenant."}},
)
def get_batch(request: Request, caller: Auth, batch_id: str) -> dict:
    with session_scope(request.app.state.settings) as s:
        batch = s.get(Batch, batch_id)
        if batch is None or batch.tenant_id != caller.tenant_id:
            raise HTTPException(404, f"batch {batch_id} not found")
        return _batch_summary(s, batch)


@router.get(
    "/webhook-secret",
    response_model=WebhookSecret,
    tags=["webhooks"],
    summary="The HMAC key this tenant's job callbacks are signed with.",
)
def webhook_secret(request: Request, caller: Auth) -> dict:
    from longctx.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, tenant_secret

    return {
        "secret": tenant_secret(caller.tenant_id, request.app.state.settings),
        "signature_header": SIGNATURE_HEADER,
        "timestamp_header": TIMESTAMP_HEADER,
    }
