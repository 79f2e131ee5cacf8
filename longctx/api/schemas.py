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


class OcrSummary(BaseModel):
    engine: str = Field(..., description="e.g. 'tesseract 5.3.0'.")
    languages: str
    dpi: int
    pages: list[int] = Field(..., description="Pages whose text was read by OCR.")
    failed_pages: list[int] = Field(default_factory=list, description="Pages OCR could not read (warning).")
    page_confidence: dict[str, float] = Field(
        default_factory=dict, description="Mean word confidence (0-100) per OCR page."
    )
    confidence: float | None = Field(None, description="Mean over the OCR pages, weighted by characters.")
    low_confidence_below: float | None = None
    low_confidence_pages: list[int] = Field(
        default_factory=list,
        description="OCR pages below the threshold: answers citing them carry a warning.",
    )
    seconds: float | None = None


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
    progress: float | None = Field(
        None, description="0..1 while queued or parsing when known (OCR of scanned pages); null otherwise."
    )
    stage: str | None = Field(None, description="What the parse is doing, e.g. 'OCR: 12 of 300 pages'.")
    ocr: OcrSummary | None = Field(None, description="Set when pages were read by OCR (scans).")


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


class OcrWord(BaseModel):
    start: int = Field(..., description="Offset of the word's first character in the page text.")
    end: int = Field(..., description="Offset after its last character (half-open).")
    box: list[float] = Field(
        ...,
        description=(
            "[left, top, right, bottom] as fractions (0..1) of the page as rendered (its /Rotate applied), "
            "origin at the top left."
        ),
    )
    confidence: float = Field(..., description="The engine's confidence in the word, 0-100.")


class PageWordsOut(BaseModel):
    document_id: str
    number: int
    ocr: bool = Field(..., description="Whether this page's text was read by OCR (else: its text layer).")
    confidence: float | None = Field(None, description="Mean word confidence of the page (0-100).")
    low_confidence: bool = False
    words: list[OcrWord] = Field(default_factory=list, description="Empty for text-layer pages.")


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
    ocr_confidence: float | None = Field(
        None,
        description=(
            "When the cited text was read by OCR from a scan: the mean word confidence (0-100) of the cited "
            "page (the lowest, when the span crosses pages); null for text-layer pages."
        ),
    )
    warning: str | None = Field(
        None,
        description="Set when the cited page's OCR confidence is below LONGCTX_OCR_LOW_CONFIDENCE.",
    )
    row_label: str | None = Field(None, description="Answers read from a table: the row's label as printed.")
    column_header: str | None = Field(None, description="Answers read from a table: the column's header.")
    period: str | None = Field(
        None, description="The period of a table answer, e.g. '3 months ended 2023-07-01'."
    )
    value: float | None = Field(
        None,
        description="A table answer's value in base units (dollars, shares; per-share and percent as is).",
    )
    unit: str | None = Field(None, description="USD, USD/share, shares, percent or ratio.")
    scale: str | None = Field(
        None, description="How the table printed it: units, thousands, millions, billions."
    )
    computed: bool | None = Field(
        None, description="True when the figure was computed from cited cells (see formula), never extracted."
    )
    formula: str | None = Field(None, description="How a computed figure was derived from its inputs.")
    detail: dict[str, Any] | None = Field(
        None,
        description=(
            "The structured answer: for a cell its table (page, title, statement), row and column labels, "
            "period, value as printed, and the cell's character span; for a computed figure the formula and "
            "every input."
        ),
    )


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
