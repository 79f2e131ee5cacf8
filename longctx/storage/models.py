"""SQL schema: the source of truth for tenants, documents, jobs and findings.

Every tenant-owned row carries `tenant_id` so that each query can be scoped to the caller's tenant.
Ids of user-visible objects are random UUID strings (portable across SQLite and PostgreSQL and not
guessable); high-volume child rows (pages, findings, audit entries) use integer keys.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from longctx.core.timestamps import utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Integer primary keys that autoincrement on both SQLite (INTEGER) and PostgreSQL (BIGINT).
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class DocumentStatus(enum.StrEnum):
    queued = "queued"
    parsing = "parsing"
    ready = "ready"
    failed = "failed"
    deleting = "deleting"


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


class OutcomeStatus(enum.StrEnum):
    """Where one document of a job stands: not read yet, waiting for its parse, read, or failed."""

    pending = "pending"
    waiting = "waiting"
    ok = "ok"
    failed = "failed"


class JobKind(enum.StrEnum):
    ingest = "ingest"
    questions = "questions"
    extraction = "extraction"
    delete = "delete"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as short strings with a CHECK constraint, not as a native PG enum type: cheaper to evolve.
    return Enum(cls, name=name, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


#: The states of a document that can answer questions or will: at most one such row per tenant and content.
LIVE_DOCUMENT = "status IN ('queued', 'parsing', 'ready')"


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiKey(Base):
    """An API key. Only a SHA-256 digest of the secret is stored; `prefix` lets an operator recognise it."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    tenant: Mapped[Tenant] = relationship()


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(512), doc="Client-supplied name, for display only.")
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(128), default="application/octet-stream")
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    pages: Mapped[int | None] = mapped_column(Integer)
    tokens: Mapped[int | None] = mapped_column(Integer)
    chars: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[DocumentStatus] = mapped_column(
        _enum(DocumentStatus, "document_status"), default=DocumentStatus.queued
    )
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    parsed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    parse_seconds: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0, doc="Parse attempts (a worker lost mid-parse).")
    lease_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), doc="While parsing: the worker renews this; past it the parse is lapsed."
    )
    parse_progress: Mapped[float | None] = mapped_column(Float, doc="0..1 while queued/parsing (OCR pages).")
    parse_stage: Mapped[str | None] = mapped_column(String(64), doc="e.g. 'OCR: 12 of 300 pages'.")
    ocr: Mapped[dict[str, Any] | None] = mapped_column(
        JSON,
        doc=(
            "When pages were read by OCR: engine, languages, dpi, pages, failed_pages, page_confidence, "
            "confidence (mean, weighted by characters), low_confidence_pages, seconds."
        ),
    )

    __table_args__ = (
        Index("ix_documents_tenant_status", "tenant_id", "status"),
        Index("ix_documents_tenant_created", "tenant_id", "created_at"),
        # One live document per tenant and content: two identical uploads racing each other cannot both
        # insert; the loser finds the winner's row (`documents.register_blob`'s callers retry once).
        Index(
            "uq_documents_live_content",
            "tenant_id",
            "sha256",
            unique=True,
            sqlite_where=text(LIVE_DOCUMENT),
            postgresql_where=text(LIVE_DOCUMENT),
        ),
    )


class Page(Base):
    """One page of a document's text. `char_start` is the offset of the page in the document text
    (the concatenation of all pages, each followed by one newline), so any char span maps to its page."""

    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer, doc="1-based page number.")
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    ocr_confidence: Mapped[float | None] = mapped_column(
        Float, doc="Mean OCR word confidence (0-100) when the page text was read by OCR; None otherwise."
    )
    ocr_words: Mapped[dict[str, Any] | None] = mapped_column(
        JSON,
        deferred=True,
        doc=(
            "OCR word boxes: {'words': [[char_start, char_end, x0, y0, x1, y1, confidence], ...], 'rotated', "
            "'dpi'}; offsets into `text`, boxes as fractions of the rendered page (left-top origin)."
        ),
    )

    __table_args__ = (UniqueConstraint("document_id", "number", name="uq_pages_document_number"),)


class DocumentTable(Base):
    """A table recovered from a PDF page: `body` is `longctx.ingest.tables.Table.to_json()` (columns with
    periods, rows with their labels and units, each cell's character span in the document text)."""

    __tablename__ = "document_tables"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, doc="Order of the table in the document (0-based).")
    page: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(
        String(32), doc="income | balance | cash_flow | segment | equity | other"
    )
    title: Mapped[str] = mapped_column(Text, default="")
    char_start: Mapped[int | None] = mapped_column(Integer)
    char_end: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_document_tables_document", "document_id", "position"),)


class Batch(Base):
    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Job(Base):
    """A unit of queued work. Its row is the source of truth for status and progress; the broker only
    carries the job id."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id", ondelete="SET NULL"), index=True)
    kind: Mapped[JobKind] = mapped_column(_enum(JobKind, "job_kind"))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus, "job_status"), default=JobStatus.queued)
    stage: Mapped[str] = mapped_column(String(64), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    eta_seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text, doc="A message for the client; details in the log.")
    error_code: Mapped[str | None] = mapped_column(String(32), doc="Stable machine-readable error kind.")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_token: Mapped[str | None] = mapped_column(
        String(36), doc="Fencing token of the worker holding the running job; None when no one holds it."
    )
    lease_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), doc="The holder renews this; a running job past it is lapsed."
    )
    worker: Mapped[str | None] = mapped_column(String(128), doc="Host/pid of the last worker to claim it.")
    callback_url: Mapped[str | None] = mapped_column(String(2048))
    callback_status: Mapped[str | None] = mapped_column(String(64))
    timings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_jobs_tenant_created", "tenant_id", "created_at"),
        Index("ix_jobs_status_lease", "status", "lease_expires_at"),
    )


class JobDocument(Base):
    """The outcome of one document in one job: a row per (job, document), written as the job reads it.

    `document_id` is not a foreign key: the outcome of a document deleted later stays readable."""

    __tablename__ = "job_documents"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    document_id: Mapped[str] = mapped_column(String(36), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    filename: Mapped[str] = mapped_column(String(512), default="")
    status: Mapped[OutcomeStatus] = mapped_column(
        _enum(OutcomeStatus, "outcome_status"), default=OutcomeStatus.pending
    )
    error: Mapped[str | None] = mapped_column(Text)
    findings: Mapped[int] = mapped_column(Integer, default=0)
    analyze_seconds: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("job_id", "document_id", name="uq_job_documents_job_document"),)


class Finding(Base):
    """One cited answer: `char_start`/`char_end` index the document text; `page` is where that span starts."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    query_index: Mapped[int] = mapped_column(Integer, default=0)
    query_key: Mapped[str | None] = mapped_column(String(128), doc="Schema field name, e.g. 'Governing Law'.")
    query: Mapped[str] = mapped_column(Text)
    rank: Mapped[int] = mapped_column(Integer, default=0)
    answer: Mapped[str | None] = mapped_column(Text, doc="None means 'no answer found'.")
    score: Mapped[float] = mapped_column(Float, default=0.0)
    page: Mapped[int | None] = mapped_column(Integer)
    char_start: Mapped[int | None] = mapped_column(Integer)
    char_end: Mapped[int | None] = mapped_column(Integer)
    passage: Mapped[str | None] = mapped_column(Text)
    passage_start: Mapped[int | None] = mapped_column(Integer)
    reader: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any] | None] = mapped_column(
        JSON,
        doc="Structured answer: the table cell (row, column, period, unit, scale) or the computed formula.",
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        # A redelivered task rewrites the same keys instead of adding rows.
        UniqueConstraint("job_id", "document_id", "query_index", "rank", name="uq_findings_slot"),
    )


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id", ondelete="SET NULL"), index=True)
    actor: Mapped[str] = mapped_column(String(128), doc="API key id, 'cli' or 'system'.")
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
