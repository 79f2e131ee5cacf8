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
from longctx.core.metrics import JOBS_CREATED
from longctx.core.timestamps import iso
from longctx.jobs import (
    Conflict,
    JobRequestError,
    NotFound,
    create_analysis_job,
    findings_csv,
    findings_for_job,
    findings_json,
    job_to_dict,
    lifecycle,
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


def http_error(exc: JobRequestError) -> HTTPException:
    """The HTTP answer to a job-service error: 404 not found, 409 wrong state, 422 bad request."""
    status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 422
    return HTTPException(status, exc.detail)


def _enqueue_jobs(settings, job_ids: list[str]) -> None:  # noqa: ANN001
    """Enqueue after the commit; a job that cannot be queued is marked failed (retry it later)."""
    if lifecycle.enqueue(settings, job_ids):
        raise HTTPException(503, "the work queue is unavailable; the job is marked failed, retry it later")


def check_callback(url: str | None) -> None:
    """Resolve and check a callback host (SSRF) here, in the route's worker thread, not on the event loop
    (against the current `LONGCTX_WEBHOOK_ALLOW`, as the delivery does)."""
    from longctx.webhooks import validate_callback_url

    try:
        validate_callback_url(url)
    except ValueError as exc:
        raise HTTPException(422, f"callback_url: {exc}") from None


def _create(request: Request, caller: Caller, **kwargs) -> dict:  # noqa: ANN003
    settings = request.app.state.settings
    check_callback(kwargs.get("callback_url"))
    try:
        with session_scope(settings) as s:
            job = create_analysis_job(s, caller.tenant_id, actor=caller.actor, **kwargs)
            job_id, kind, status = job.id, job.kind.value, job.status.value
    except JobRequestError as exc:
        raise http_error(exc) from exc
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
            "items": [job_to_dict(j, lifecycle.outcomes(s, j.id)) for j in rows],
            "total": int(total),
            "limit": limit,
            "offset": offset,
        }


def _job(s, caller: Caller, job_id: str) -> Job:  # noqa: ANN001
    try:
        return lifecycle.get(s, caller.tenant_id, job_id)
    except NotFound as exc:
        raise http_error(exc) from exc


def _job_out(s, job: Job) -> dict:  # noqa: ANN001
    return job_to_dict(job, lifecycle.outcomes(s, job.id))


@router.get("/jobs/{job_id}", response_model=JobOut, responses=JOB_404)
def get_job(request: Request, caller: Auth, job_id: str) -> dict:
    with session_scope(request.app.state.settings) as s:
        return _job_out(s, _job(s, caller, job_id))


@router.post(
    "/jobs/{job_id}/retry",
    status_code=202,
    response_model=JobOut,
    responses={
        **JOB_404,
        409: {"model": ErrorBody, "description": "The job is queued, running (lease live) or succeeded."},
    },
    summary="Run a failed, cancelled or lapsed job again (its findings are cleared first).",
)
def retry_job(request: Request, caller: Auth, job_id: str) -> dict:
    settings = request.app.state.settings
    try:
        with session_scope(settings) as s:
            lifecycle.retry(s, caller.tenant_id, job_id, caller.actor)
    except JobRequestError as exc:
        raise http_error(exc) from exc
    _enqueue_jobs(settings, [job_id])
    with session_scope(settings) as s:
        return _job_out(s, _job(s, caller, job_id))


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=JobOut,
    responses={**JOB_404, 409: {"model": ErrorBody, "description": "The job has already finished."}},
    summary="Cancel a queued or running job; a running job's worker stops at its next lease renewal.",
)
def cancel_job(request: Request, caller: Auth, job_id: str) -> dict:
    settings = request.app.state.settings
    try:
        with session_scope(settings) as s:
            job = lifecycle.cancel(s, caller.tenant_id, job_id, caller.actor)
            return _job_out(s, job)
    except JobRequestError as exc:
        raise http_error(exc) from exc


@router.get(
    "/jobs/{job_id}/findings",
    response_model=FindingList,
    responses=JOB_404,
    summary=(
        "Ranked answers with page and character citations (`?format=csv` or `?format=export` for a "
        "downloadable CSV or JSON file)."
    ),
)
def get_findings(
    request: Request,
    caller: Auth,
    job_id: str,
    format: Annotated[Literal["json", "csv", "export"], Query()] = "json",
):  # noqa: ANN201
    settings = request.app.state.settings
    with session_scope(settings) as s:
        job = _job(s, caller, job_id)
        status = job.status.value
        items = findings_for_job(s, caller.tenant_id, job_id, settings.ocr_low_confidence)
    if format == "export":
        return Response(
            findings_json(items, job_id=job_id, status=status),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="findings-{job_id}.json"'},
        )
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
    check_callback(body.callback_url)
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
        raise http_error(exc) from exc
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
        "jobs": [_job_out(s, j) for j in jobs],
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
