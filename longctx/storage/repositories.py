"""Queries over the schema, each scoped to a tenant where the object is tenant-owned.

Callers (CLI, API, workers) go through these functions rather than writing ad-hoc queries, so that tenant
scoping is applied in one place: another tenant's object returns None, exactly like a missing one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from longctx.core.timestamps import utcnow
from longctx.storage.models import (
    ApiKey,
    AuditEntry,
    Document,
    DocumentStatus,
    DocumentTable,
    Finding,
    Job,
    JobKind,
    JobStatus,
    Page,
    Tenant,
)

KEY_PREFIX = "lcx"


# ---- tenants and keys -------------------------------------------------------------------------------------
def create_tenant(session: Session, name: str) -> Tenant:
    name = name.strip()
    if not name:
        raise ValueError("tenant name must not be empty")
    if session.scalar(select(Tenant).where(Tenant.name == name)) is not None:
        raise ValueError(f"tenant {name!r} already exists")
    tenant = Tenant(name=name)
    session.add(tenant)
    session.flush()
    return tenant


def get_tenant(session: Session, name_or_id: str) -> Tenant | None:
    return session.scalar(select(Tenant).where((Tenant.name == name_or_id) | (Tenant.id == name_or_id)))


def get_or_create_tenant(session: Session, name: str) -> Tenant:
    return get_tenant(session, name) or create_tenant(session, name)


def hash_api_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewApiKey:
    record: ApiKey
    secret: str  # shown once; only its hash is stored


def create_api_key(session: Session, tenant: Tenant, name: str = "") -> NewApiKey:
    prefix = secrets.token_hex(4)
    secret = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    record = ApiKey(tenant_id=tenant.id, name=name, prefix=prefix, key_hash=hash_api_key(secret))
    session.add(record)
    session.flush()
    return NewApiKey(record, secret)


LAST_USED_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most this often


def authenticate_api_key(session: Session, secret: str) -> ApiKey | None:
    """The active key matching `secret`, or None. Looked up by digest, then the digest is compared again in
    constant time before it is trusted."""
    if not secret or len(secret) > 200:
        return None
    digest = hash_api_key(secret)
    record = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    if record is None or not hmac.compare_digest(record.key_hash, digest) or record.revoked_at is not None:
        return None
    now = utcnow()
    last = record.last_used_at
    if last is not None and last.tzinfo is None:  # SQLite hands back naive datetimes
        last = last.replace(tzinfo=UTC)
    if last is None or now - last > LAST_USED_RESOLUTION:
        record.last_used_at = now
    return record


def revoke_api_key(session: Session, key_id: str) -> bool:
    record = session.get(ApiKey, key_id)
    if record is None or record.revoked_at is not None:
        return False
    record.revoked_at = utcnow()
    return True


@dataclass(frozen=True)
class TenantSummary:
    tenant: Tenant
    keys: int  # active (not revoked) API keys
    documents: int


def list_tenants(session: Session) -> list[TenantSummary]:
    """Every tenant (oldest first) with its number of active API keys and of documents."""
    keys = dict(
        session.execute(
            select(ApiKey.tenant_id, func.count())
            .where(ApiKey.revoked_at.is_(None))
            .group_by(ApiKey.tenant_id)
        ).all()
    )
    docs = dict(session.execute(select(Document.tenant_id, func.count()).group_by(Document.tenant_id)).all())
    tenants = session.scalars(select(Tenant).order_by(Tenant.created_at, Tenant.name)).all()
    return [TenantSummary(t, int(keys.get(t.id, 0)), int(docs.get(t.id, 0))) for t in tenants]


def list_api_keys(session: Session, tenant_id: str | None = None) -> list[ApiKey]:
    """API keys (oldest first), of one tenant or of all; callers show their metadata, never the hash."""
    stmt = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if tenant_id is not None:
        stmt = stmt.where(ApiKey.tenant_id == tenant_id)
    return list(session.scalars(stmt))


# ---- ids by prefix ----------------------------------------------------------------------------------------
MIN_ID_PREFIX = 4  # shorter prefixes are not looked up (too easy to hit the wrong object)
_ID_CHARS = frozenset("0123456789abcdef-")


class AmbiguousId(LookupError):
    """An id prefix that matches more than one object; `candidates` are (some of) their full ids."""

    def __init__(self, prefix: str, candidates: Sequence[str]) -> None:
        super().__init__(f"id prefix {prefix!r} matches {len(candidates)} objects")
        self.prefix = prefix
        self.candidates = list(candidates)


def _ids_by_prefix(session: Session, column: Any, prefix: str, *where: Any, limit: int = 10) -> list[str]:
    text = prefix.strip().lower()
    if len(text) < MIN_ID_PREFIX or not set(text) <= _ID_CHARS:
        return []
    stmt = select(column).where(column.startswith(text), *where).order_by(column).limit(limit)
    return list(session.scalars(stmt))


def resolve_id(
    session: Session, model: type[Document] | type[Job], tenant_id: str, id_or_prefix: str
) -> str | None:
    """The full id of the tenant's document or job given its id or an unambiguous prefix of it (at least
    `MIN_ID_PREFIX` characters); None when nothing matches. Raises `AmbiguousId` past one match."""
    exact = session.scalar(select(model.id).where(model.id == id_or_prefix, model.tenant_id == tenant_id))
    if exact is not None:
        return exact
    ids = _ids_by_prefix(session, model.id, id_or_prefix, model.tenant_id == tenant_id)
    if len(ids) > 1:
        raise AmbiguousId(id_or_prefix, ids)
    return ids[0] if ids else None


def find_api_key(session: Session, id_or_prefix: str, tenant_id: str | None = None) -> ApiKey | None:
    """An API key by its id, a prefix of its id, or its public prefix (`lcx_<prefix>` or `<prefix>`, the start
    of the secret that `keys list` shows). Raises `AmbiguousId` when several keys match."""
    scope = [ApiKey.tenant_id == tenant_id] if tenant_id is not None else []
    record = session.scalar(select(ApiKey).where(ApiKey.id == id_or_prefix, *scope))
    if record is not None:
        return record
    text = id_or_prefix.strip()
    public = text.removeprefix(f"{KEY_PREFIX}_").split("_", 1)[0].lower()
    ids = set(_ids_by_prefix(session, ApiKey.id, text, *scope))
    if public:
        ids.update(session.scalars(select(ApiKey.id).where(ApiKey.prefix == public, *scope).limit(10)))
    if len(ids) > 1:
        raise AmbiguousId(id_or_prefix, sorted(ids))
    return session.get(ApiKey, ids.pop()) if ids else None


# ---- documents and pages ----------------------------------------------------------------------------------
def find_document_by_sha(session: Session, tenant_id: str, sha256: str) -> Document | None:
    """A live (not failed, not being deleted) document of this tenant with the same bytes."""
    return session.scalar(
        select(Document)
        .where(
            Document.tenant_id == tenant_id,
            Document.sha256 == sha256,
            Document.status.notin_([DocumentStatus.deleting, DocumentStatus.failed]),
        )
        .order_by(Document.created_at)
        .limit(1)
    )


def get_document(session: Session, tenant_id: str, document_id: str) -> Document | None:
    doc = session.get(Document, document_id)
    return doc if doc is not None and doc.tenant_id == tenant_id else None


def list_documents(
    session: Session,
    tenant_id: str,
    *,
    status: DocumentStatus | None = None,
    query: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Document], int]:
    """One page of the tenant's documents (newest first) and the total count for that filter."""
    where = [Document.tenant_id == tenant_id]
    if status is not None:
        where.append(Document.status == status)
    if query:  # a literal substring: `\`, `%` and `_` are escaped, so they match only themselves
        literal = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(Document.filename.ilike(f"%{literal}%", escape="\\"))
    total = session.scalar(select(func.count()).select_from(Document).where(*where)) or 0
    rows = session.scalars(
        select(Document)
        .where(*where)
        .order_by(Document.created_at.desc(), Document.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), int(total)


def replace_pages(
    session: Session,
    document_id: str,
    pages: Iterable[tuple[int, int, int, str]],
    ocr: dict[int, dict[str, Any]] | None = None,
) -> int:
    """Store (number, char_start, char_end, text) rows, replacing earlier ones (re-ingest is idempotent).

    `ocr` maps the numbers of pages read by OCR to {"confidence": ..., "words": [...], ...}."""
    session.execute(delete(Page).where(Page.document_id == document_id))
    ocr = ocr or {}
    rows = []
    for n, s, e, t in pages:
        page_ocr = ocr.get(n)
        rows.append(
            {
                "document_id": document_id,
                "number": n,
                "char_start": s,
                "char_end": e,
                "text": t,
                "ocr_confidence": page_ocr.get("confidence") if page_ocr else None,
                "ocr_words": page_ocr if page_ocr else None,
            }
        )
    if rows:
        session.execute(Page.__table__.insert(), rows)
    return len(rows)


def ocr_confidences(session: Session, document_ids: Iterable[str]) -> dict[str, list[tuple[int, int, float]]]:
    """Per document, its OCR pages as (char_start, char_end, confidence), in page order."""
    ids = list(set(document_ids))
    out: dict[str, list[tuple[int, int, float]]] = {}
    if not ids:
        return out
    rows = session.execute(
        select(Page.document_id, Page.char_start, Page.char_end, Page.ocr_confidence)
        .where(Page.document_id.in_(ids), Page.ocr_confidence.is_not(None))
        .order_by(Page.document_id, Page.number)
    ).all()
    for doc_id, start, end, conf in rows:
        out.setdefault(doc_id, []).append((start, end, float(conf)))
    return out


def replace_tables(session: Session, document_id: str, tables: Iterable[dict[str, Any]]) -> int:
    """Store a document's recovered tables (`Table.to_json()` dicts), replacing earlier ones."""
    session.execute(delete(DocumentTable).where(DocumentTable.document_id == document_id))
    n = 0
    for position, t in enumerate(tables):
        session.add(
            DocumentTable(
                document_id=document_id,
                position=position,
                page=int(t["page"]),
                kind=str(t.get("kind") or "other"),
                title=str(t.get("title") or ""),
                char_start=t.get("char_start"),
                char_end=t.get("char_end"),
                body=t,
            )
        )
        n += 1
    session.flush()
    return n


def get_tables(session: Session, document_id: str) -> list[DocumentTable]:
    return list(
        session.scalars(
            select(DocumentTable)
            .where(DocumentTable.document_id == document_id)
            .order_by(DocumentTable.position)
        )
    )


def get_pages(session: Session, document_id: str) -> list[Page]:
    return list(session.scalars(select(Page).where(Page.document_id == document_id).order_by(Page.number)))


def get_page(session: Session, document_id: str, number: int) -> Page | None:
    return session.scalar(select(Page).where(Page.document_id == document_id, Page.number == number))


def document_text(session: Session, document_id: str) -> str:
    """The document text the char offsets index: page texts, each followed by one newline."""
    return "".join(p.text + "\n" for p in get_pages(session, document_id))


def blob_in_use(session: Session, sha256: str, excluding_document: str | None = None) -> bool:
    stmt = select(func.count()).select_from(Document).where(Document.sha256 == sha256)
    if excluding_document is not None:
        stmt = stmt.where(Document.id != excluding_document)
    return bool(session.scalar(stmt))


# ---- jobs and findings ------------------------------------------------------------------------------------
def create_job(
    session: Session,
    tenant_id: str,
    kind: JobKind,
    params: dict[str, Any],
    *,
    batch_id: str | None = None,
    callback_url: str | None = None,
) -> Job:
    job = Job(tenant_id=tenant_id, kind=kind, params=params, batch_id=batch_id, callback_url=callback_url)
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, tenant_id: str, job_id: str) -> Job | None:
    job = session.get(Job, job_id)
    return job if job is not None and job.tenant_id == tenant_id else None


def list_jobs(session: Session, tenant_id: str, *, limit: int = 50, offset: int = 0) -> list[Job]:
    return list(
        session.scalars(
            select(Job)
            .where(Job.tenant_id == tenant_id)
            .order_by(Job.created_at.desc())
            .limit(limit)
            .offset(offset)
        )
    )


def set_job_progress(
    session: Session,
    job: Job,
    *,
    stage: str | None = None,
    progress: float | None = None,
    eta_seconds: float | None = None,
    status: JobStatus | None = None,
    error: str | None = None,
) -> None:
    if stage is not None:
        job.stage = stage
    if progress is not None:
        job.progress = max(0.0, min(1.0, float(progress)))
    job.eta_seconds = eta_seconds
    if status is not None:
        job.status = status
        if status is JobStatus.running and job.started_at is None:
            job.started_at = utcnow()
        if status in (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled):
            job.finished_at = utcnow()
    if error is not None:
        job.error = error


def replace_findings(
    session: Session, job_id: str, document_id: str, findings: Sequence[dict[str, Any]]
) -> int:
    """Write a job's findings for one document, replacing any from an earlier delivery of the same task."""
    session.execute(delete(Finding).where(Finding.job_id == job_id, Finding.document_id == document_id))
    for f in findings:
        session.add(Finding(job_id=job_id, document_id=document_id, **f))
    session.flush()
    return len(findings)


def get_findings(session: Session, tenant_id: str, job_id: str) -> list[Finding]:
    return list(
        session.scalars(
            select(Finding)
            .where(Finding.job_id == job_id, Finding.tenant_id == tenant_id)
            .order_by(Finding.document_id, Finding.query_index, Finding.rank)
        )
    )


# ---- audit ------------------------------------------------------------------------------------------------
def audit(
    session: Session,
    *,
    tenant_id: str | None,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            tenant_id=tenant_id,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            detail=detail or {},
        )
    )
