"""The shapes a job and its findings leave the service in: REST JSON, CLI `--json`, CSV and JSON exports.

One module, so the API's `/v1/jobs/{id}/findings?format=csv|json`, the CLI and the web UI (which downloads
those exports from the API) agree on the columns.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from longctx.core.timestamps import iso
from longctx.storage import repositories as repo
from longctx.storage.models import Document, Finding, Job, JobDocument

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


def outcome_to_dict(row: JobDocument) -> dict[str, Any]:
    return {
        "document_id": row.document_id,
        "filename": row.filename,
        "status": row.status.value,
        "error": row.error,
        "findings": row.findings,
        "analyze_seconds": row.analyze_seconds,
    }


def job_to_dict(job: Job, outcomes: Sequence[JobDocument] | None = None) -> dict[str, Any]:
    """A job as the API and the CLI show it; `outcomes` are its per-document rows (`lifecycle.outcomes`)."""
    return {
        "id": job.id,
        "kind": job.kind.value,
        "status": job.status.value,
        "stage": job.stage,
        "progress": job.progress,
        "eta_seconds": job.eta_seconds,
        "error": job.error,
        "error_code": job.error_code,
        "attempts": job.attempts or 0,
        "timings": job.timings or {},
        "params": job.params or {},
        "documents": [outcome_to_dict(o) for o in outcomes or ()],
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


def findings_json(items: Iterable[dict[str, Any]], **meta: Any) -> str:
    """A JSON export: `meta` (job id, status, ...) and the findings, each with exactly `FINDING_FIELDS`."""
    findings = [{k: item.get(k) for k in FINDING_FIELDS} for item in items]
    return json.dumps({**meta, "fields": list(FINDING_FIELDS), "findings": findings}, ensure_ascii=False)
