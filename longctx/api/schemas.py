"""Request and response bodies of the REST API (see docs/api-contract.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from longctx.webhooks import validate_callback_url


class ErrorBody(BaseModel):
    detail: str


class DocumentAccepted(BaseModel):
    id: str
    filename: str
    status: str
    sha256: str
    bytes: int
    duplicate: bool


class DocumentOut(BaseModel):
    id: str
    filename: str
    media_type: str
    bytes: int
    sha256: str
    pages: int | None
    tokens: int | None
    status: Literal["queued", "parsing", "ready", "failed", "deleting"]
    error: str | None
    created_at: str | None
    updated_at: str | None
    parsed_at: str | None


class DocumentList(BaseModel):
    items: list[DocumentOut]
    total: int
    limit: int
    offset: int


class PageOut(BaseModel):
    document_id: str
    number: int
    char_start: int
    char_end: int
    text: str


class Deleting(BaseModel):
    id: str
    status: Literal["deleting"] = "deleting"


class SchemaField(BaseModel):
    key: str
    question: str
    description: str


class SchemaOut(BaseModel):
    name: str
    fields: list[SchemaField]


class SchemaList(BaseModel):
    items: list[SchemaOut]


class _JobRequest(BaseModel):
    document_ids: list[str] = Field(..., min_length=1, max_length=500)
    callback_url: str | None = Field(None, description="POSTed a signed JSON body when the job finishes.")

    @field_validator("callback_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        from pydantic_core import PydanticCustomError

        try:  # refuses non-public targets (SSRF) unless LONGCTX_WEBHOOK_ALLOW names them
            return validate_callback_url(v, resolve=False)  # the DNS check runs in the route
        except ValueError as exc:
            raise PydanticCustomError("callback_url", "{reason}", {"reason": str(exc)}) from None


class QuestionsRequest(_JobRequest):
    questions: list[str] = Field(..., min_length=1, max_length=100)
    top_k: int = Field(3, ge=1, le=20)


class ExtractionRequest(_JobRequest):
    schema_: str = Field(..., alias="schema", description="contract | report")
    top_k: int = Field(1, ge=1, le=20)

    model_config = {"populate_by_name": True}


class JobAccepted(BaseModel):
    job_id: str
    status: str


class DocumentOutcome(BaseModel):
    """Where one document of a job stands: pending, waiting (still parsing), ok or failed (with a reason)."""

    document_id: str
    filename: str
    status: Literal["pending", "waiting", "ok", "failed"]
    error: str | None
    findings: int
    analyze_seconds: float | None


class JobOut(BaseModel):
    id: str
    kind: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    stage: str
    progress: float
    eta_seconds: float | None
    error: str | None = Field(
        None, description="A message for people; the log has the details under its reference."
    )
    error_code: str | None = Field(
        None,
        description=(
            "Why the job failed or stopped: cancelled, worker_lost, reader_unavailable, "
            "no_document_analyzed, queue_unavailable."
        ),
    )
    attempts: int = Field(
        0, description="How many times a worker claimed it (more than 1: a worker stopped)."
    )
    documents: list[DocumentOutcome] = Field(default_factory=list, description="One outcome per document.")
    timings: dict[str, Any]
    params: dict[str, Any]
    batch_id: str | None
    callback_status: str | None = None
    created_at: str | None
    started_at: str | None
    finished_at: str | None


class JobList(BaseModel):
    items: list[JobOut]
    total: int
    limit: int
    offset: int


class FindingOut(BaseModel):
    document_id: str
    filename: str | None
    query_index: int
    query_key: str | None
    query: str
    rank: int
    answer: str | None
    score: float
    page: int | None
    char_start: int | None
    char_end: int | None
    passage: str | None
    passage_start: int | None


class FindingList(BaseModel):
    job_id: str
    items: list[FindingOut]


class BatchRequest(BaseModel):
    name: str = Field("", max_length=200)
    document_ids: list[str] = Field(..., min_length=1, max_length=500)
    questions: list[str] = Field(default_factory=list, max_length=100)
    schemas: list[str] = Field(default_factory=list, max_length=10)
    top_k: int = Field(3, ge=1, le=20)
    callback_url: str | None = None

    @field_validator("callback_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        from pydantic_core import PydanticCustomError

        try:  # refuses non-public targets (SSRF) unless LONGCTX_WEBHOOK_ALLOW names them
            return validate_callback_url(v, resolve=False)  # the DNS check runs in the route
        except ValueError as exc:
            raise PydanticCustomError("callback_url", "{reason}", {"reason": str(exc)}) from None


class BatchAccepted(BaseModel):
    batch_id: str
    job_ids: list[str]


class BatchOut(BaseModel):
    id: str
    name: str
    created_at: str | None
    total: int
    counts: dict[str, int]
    progress: float
    jobs: list[JobOut]


class WebhookSecret(BaseModel):
    secret: str
    signature_header: str
    timestamp_header: str
    scheme: str = "sha256=<hex HMAC-SHA256 of '<timestamp>.<body>'>"
