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

from longctx.config import get_settings
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
    "ocr_confidence",
    "warning",
    "row_label",
    "column_header",
    "period",
    "value",
    "unit",
    "scale",
    "computed",
    "formula",
    "detail",
)


def table_fields(detail: dict[str, Any] | None) -> dict[str, Any]:
    """The flat columns of an answer read from a table cell, or computed from cells (`Finding.detail`)."""
    if not detail:
        return {
            k: None
            for k in ("row_label", "column_header", "period", "value", "unit", "scale", "computed", "formula")
        }
    first = (detail.get("inputs") or [detail])[0]
    return {
        "row_label": first.get("row_label"),
        "column_header": first.get("column_header"),
        "period": detail.get("period"),
        "value": detail.get("value"),
        "unit": detail.get("unit"),
        "scale": first.get("scale"),
        "computed": bool(detail.get("computed")),
        "formula": detail.get("formula"),
    }


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


def ocr_flag(
    f: Finding, ocr_pages: list[tuple[int, int, float]], low_below: float
) -> tuple[float | None, str | None]:
    """(lowest OCR confidence of the pages the finding cites, warning when it is low); (None, None) when the
    cited text came from a text layer. `ocr_pages`: the document's OCR pages as (start, end, confidence)."""
    if f.answer is None or not ocr_pages:
        return None, None
    start = f.char_start if f.char_start is not None else f.passage_start
    if start is None:
        return None, None
    end = f.char_end if f.char_end is not None else start + len(f.passage or f.answer or "")
    cited = [(s, conf) for s, e, conf in ocr_pages if s <= max(start, end - 1) and start <= e]
    if not cited:
        return None, None
    conf = min(c for _, c in cited)
    if conf >= low_below:
        return conf, None
    pages = f"page {f.page}" if f.page is not None else "the cited page"
    return conf, (
        f"low OCR confidence: the cited text was read from a scan of {pages} with a mean word confidence of "
        f"{conf:.0f}/100 (below {low_below:g}); check it against the page image"
    )


def finding_to_dict(
    f: Finding, filename: str | None, ocr: tuple[float | None, str | None] = (None, None)
) -> dict[str, Any]:
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
        "ocr_confidence": ocr[0],
        "warning": ocr[1],
        **table_fields(f.detail),
        "detail": f.detail,
    }


def findings_for_job(
    session: Session, tenant_id: str, job_id: str, low_confidence: float | None = None
) -> list[dict[str, Any]]:
    """A job's findings; those citing an OCR page carry its confidence, and a warning when it is below
    `low_confidence` (default: `LONGCTX_OCR_LOW_CONFIDENCE`)."""
    rows = repo.get_findings(session, tenant_id, job_id)
    doc_ids = {f.document_id for f in rows}
    names = dict(
        session.execute(select(Document.id, Document.filename).where(Document.id.in_(doc_ids))).all()
    )
    if low_confidence is None:
        low_confidence = get_settings().ocr_low_confidence
    ocr_pages = repo.ocr_confidences(session, doc_ids)
    return [
        finding_to_dict(
            f, names.get(f.document_id), ocr_flag(f, ocr_pages.get(f.document_id, []), low_confidence)
        )
        for f in rows
    ]


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def findings_csv(items: Iterable[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(FINDING_FIELDS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for item in items:
        writer.writerow({k: _csv_cell(item.get(k)) for k in FINDING_FIELDS})
    return buf.getvalue()


def findings_json(items: Iterable[dict[str, Any]], **meta: Any) -> str:
    """A JSON export: `meta` (job id, status, ...) and the findings, each with exactly `FINDING_FIELDS`."""
    findings = [{k: item.get(k) for k in FINDING_FIELDS} for item in items]
    return json.dumps({**meta, "fields": list(FINDING_FIELDS), "findings": findings}, ensure_ascii=False)
