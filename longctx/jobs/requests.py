"""Creating analysis jobs (REST, CLI, batches): validate the request, insert the job and its document rows.

The caller commits, then enqueues (`lifecycle.enqueue`): the broker only ever carries ids of committed rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from longctx.core.unstorable import text_problem
from longctx.storage import repositories as repo
from longctx.storage.models import DocumentStatus, Job, JobDocument, JobKind

from .errors import JobRequestError, NotFound

MAX_QUESTIONS = 100
MAX_QUESTION_CHARS = 2000
MAX_DOCUMENTS_PER_JOB = 500
MAX_TOP_K = 20


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


def _clean_questions(questions: Sequence[str] | None) -> list[str]:
    cleaned = [q.strip() for q in (questions or []) if q and q.strip()]
    if len(cleaned) > MAX_QUESTIONS:
        raise JobRequestError(f"too many questions: {len(cleaned)} > {MAX_QUESTIONS}")
    for i, q in enumerate(cleaned):
        if len(q) > MAX_QUESTION_CHARS:
            raise JobRequestError(f"question longer than {MAX_QUESTION_CHARS} characters")
        reason = text_problem(q)
        if reason:
            raise JobRequestError(f"question {i + 1} {reason}")
    return cleaned


def validate_documents(session: Session, tenant_id: str, document_ids: Sequence[str]) -> list:
    """The tenant's documents, unique and in order; `NotFound` for one the tenant does not have."""
    ids = list(dict.fromkeys(d for d in document_ids if d))
    if not ids:
        raise JobRequestError("document_ids must name at least one document")
    if len(ids) > MAX_DOCUMENTS_PER_JOB:
        raise JobRequestError(f"too many documents: {len(ids)} > {MAX_DOCUMENTS_PER_JOB}")
    docs = []
    for doc_id in ids:
        if text_problem(doc_id):
            raise NotFound(f"document {doc_id!r} not found")
        doc = repo.get_document(session, tenant_id, doc_id)
        if doc is None or doc.status is DocumentStatus.deleting:
            raise NotFound(f"document {doc_id} not found")
        docs.append(doc)
    return docs


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
    """Validate and insert a questions/extraction job (status queued) with one outcome row per document."""
    docs = validate_documents(session, tenant_id, document_ids)
    ids = [d.id for d in docs]
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
    for position, doc in enumerate(docs):
        session.add(JobDocument(job_id=job.id, document_id=doc.id, position=position, filename=doc.filename))
    repo.audit(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="create",
        object_type="job",
        object_id=job.id,
        detail={"kind": kind.value, "documents": len(ids), "batch_id": batch_id},
    )
    session.flush()
    return job
