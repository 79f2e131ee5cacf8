"""A small typed client for the longctx REST API (v1), used by the Streamlit UI.

The UI talks to the service only through this class: every HTTP failure is turned into one of a few
exceptions with a human-readable message, so pages can show a clear reason instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any, TypedDict

import httpx

DEFAULT_API_URL = "http://127.0.0.1:8000"


# ---- errors -----------------------------------------------------------------------------------------------
class ApiError(Exception):
    """The API answered with an error; `detail` is its human-readable reason."""

    def __init__(self, detail: str, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code


class ApiUnavailable(ApiError):
    """The API could not be reached (not running, wrong URL, network down, timed out)."""


class Unauthorized(ApiError):
    """The API key is missing, invalid or revoked (HTTP 401/403)."""


class NotFound(ApiError):
    """The object does not exist in this tenant (HTTP 404)."""


class TooLarge(ApiError):
    """The upload is over the service's byte cap (HTTP 413)."""


class Conflict(ApiError):
    """The request does not fit the object's state, e.g. retrying a job that did not fail (HTTP 409)."""


# ---- payloads (as documented in docs/api-contract.md) ----------------------------------------------------
class UploadResult(TypedDict):
    id: str
    filename: str
    status: str
    sha256: str
    bytes: int
    duplicate: bool


class Document(TypedDict, total=False):
    id: str
    filename: str
    media_type: str | None
    bytes: int
    sha256: str
    pages: int | None
    tokens: int | None
    status: str
    error: str | None
    created_at: str
    updated_at: str | None
    parsed_at: str | None
    progress: float | None  # while parsing, when known (OCR of scanned pages)
    stage: str | None  # e.g. "OCR: 12 of 300 pages"
    ocr: dict[str, Any] | None  # pages read by OCR, their confidence, low-confidence pages


class DocumentList(TypedDict):
    items: list[Document]
    total: int
    limit: int
    offset: int


class Page(TypedDict):
    document_id: str
    number: int
    char_start: int
    char_end: int
    text: str


class OcrWord(TypedDict):
    start: int  # offset in the page text
    end: int
    box: list[float]  # left, top, right, bottom as fractions of the rendered page
    confidence: float


class PageWords(TypedDict):
    document_id: str
    number: int
    ocr: bool  # the page text was read by OCR from a scan
    confidence: float | None
    low_confidence: bool
    words: list[OcrWord]


class SchemaField(TypedDict):
    key: str
    question: str
    description: str


class Schema(TypedDict):
    name: str
    fields: list[SchemaField]


class DocumentOutcome(TypedDict):
    """Where one document of a job stands: pending, waiting (still parsing), ok or failed (with a reason)."""

    document_id: str
    filename: str
    status: str
    error: str | None
    findings: int
    analyze_seconds: float | None


class Job(TypedDict, total=False):
    id: str
    kind: str
    status: str
    stage: str | None
    progress: float | None
    eta_seconds: float | None
    error: str | None
    # cancelled, worker_lost, reader_unavailable, no_document_analyzed or queue_unavailable
    error_code: str | None
    attempts: int
    documents: list[DocumentOutcome]
    timings: dict[str, Any] | None
    params: dict[str, Any] | None
    batch_id: str | None
    callback_status: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None


class Finding(TypedDict, total=False):
    document_id: str
    filename: str
    query_index: int
    query_key: str | None
    query: str
    rank: int
    answer: str | None
    score: float | None
    page: int | None
    char_start: int | None
    char_end: int | None
    passage: str | None
    passage_start: int | None
    ocr_confidence: float | None  # the cited page was read by OCR with this mean confidence
    warning: str | None  # set when that confidence is low


class Batch(TypedDict, total=False):
    id: str
    name: str
    created_at: str
    total: int
    counts: dict[str, int]
    progress: float
    jobs: list[Job]


TERMINAL_DOCUMENT = frozenset({"ready", "failed"})
TERMINAL_JOB = frozenset({"succeeded", "failed", "cancelled"})
CANCELLABLE_JOB = frozenset({"queued", "running"})
RETRYABLE_JOB = frozenset({"failed", "cancelled"})
# the UI's export format -> the API's `/v1/jobs/{id}/findings?format=` value that makes that file
EXPORT_FORMATS = {"csv": "csv", "json": "export"}


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body:
        detail = body["detail"]
        if isinstance(detail, list):  # FastAPI validation errors: [{"loc": .., "msg": ..}, ..]
            return "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
        return str(detail)
    text = response.text.strip()
    return text[:300] if text else f"HTTP {response.status_code} {response.reason_phrase}"


class ApiClient:
    """Calls the longctx REST API with one tenant's API key.

    Pass `transport` (e.g. `httpx.MockTransport`) to route requests somewhere other than the network.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_API_URL,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        headers = {"X-API-Key": api_key} if api_key else {}
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=5.0),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- plumbing -----------------------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ApiUnavailable(f"The API at {self.base_url} did not answer in time ({exc}).") from exc
        except httpx.TransportError as exc:
            raise ApiUnavailable(f"The API at {self.base_url} is not reachable ({exc}).") from exc
        if response.is_success:
            return response
        detail = _detail(response)
        code = response.status_code
        if code in (401, 403):
            raise Unauthorized(detail or "Invalid API key.", code)
        if code == 404:
            raise NotFound(detail, code)
        if code == 409:
            raise Conflict(detail, code)
        if code == 413:
            raise TooLarge(detail or "The file is larger than the service accepts.", code)
        if code in (502, 503, 504):
            raise ApiUnavailable(f"The API at {self.base_url} is not ready: {detail}", code)
        raise ApiError(detail, code)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    # ---- operations ---------------------------------------------------------------------------------------
    def healthy(self) -> bool:
        """True when the API process answers `/healthz` (no key needed)."""
        try:
            self._request("GET", "/healthz")
        except ApiError:
            return False
        return True

    def check_key(self) -> int:
        """Raise Unauthorized unless the key is accepted; returns the tenant's document count."""
        return int(self.list_documents(limit=1)["total"])

    # ---- documents ----------------------------------------------------------------------------------------
    def upload(self, filename: str, data: bytes | IO[bytes], content_type: str | None = None) -> UploadResult:
        files = {"file": (filename, data, content_type or "application/octet-stream")}
        return self._json("POST", "/v1/documents", files=files, timeout=httpx.Timeout(600.0, connect=5.0))

    def list_documents(
        self, *, q: str | None = None, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> DocumentList:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if q:
            params["q"] = q
        if status:
            params["status"] = status
        return self._json("GET", "/v1/documents", params=params)

    def all_documents(
        self, *, q: str | None = None, status: str | None = None, page_size: int = 200
    ) -> list[Document]:
        """Every document matching the filters (follows pagination)."""
        items: list[Document] = []
        offset = 0
        while True:
            page = self.list_documents(q=q, status=status, limit=page_size, offset=offset)
            items.extend(page["items"])
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return items

    def get_document(self, document_id: str) -> Document:
        return self._json("GET", f"/v1/documents/{document_id}")

    def get_page(self, document_id: str, number: int) -> Page:
        return self._json("GET", f"/v1/documents/{document_id}/pages/{number}")

    def get_page_words(self, document_id: str, number: int) -> PageWords:
        return self._json("GET", f"/v1/documents/{document_id}/pages/{number}/words")

    def get_content(self, document_id: str) -> bytes:
        return self._request("GET", f"/v1/documents/{document_id}/content").content

    def delete_document(self, document_id: str) -> dict[str, Any]:
        return self._json("DELETE", f"/v1/documents/{document_id}")

    # ---- analysis -----------------------------------------------------------------------------------------
    def schemas(self) -> list[Schema]:
        return self._json("GET", "/v1/schemas")["items"]

    def ask(self, document_ids: Iterable[str], questions: Iterable[str], top_k: int = 3) -> dict[str, Any]:
        body = {"document_ids": list(document_ids), "questions": list(questions), "top_k": top_k}
        return self._json("POST", "/v1/questions", json=body)

    def extract(self, document_ids: Iterable[str], schema: str) -> dict[str, Any]:
        body = {"document_ids": list(document_ids), "schema": schema}
        return self._json("POST", "/v1/extractions", json=body)

    def list_jobs(self, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        return self._json("GET", "/v1/jobs", params={"limit": limit, "offset": offset})

    def get_job(self, job_id: str) -> Job:
        return self._json("GET", f"/v1/jobs/{job_id}")

    def retry_job(self, job_id: str) -> Job:
        """Queue a failed, cancelled or lapsed job again; Conflict (409) for any other state."""
        return self._json("POST", f"/v1/jobs/{job_id}/retry")

    def cancel_job(self, job_id: str) -> Job:
        """Cancel a queued or running job; Conflict (409) when it has already finished."""
        return self._json("POST", f"/v1/jobs/{job_id}/cancel")

    def findings(self, job_id: str) -> list[Finding]:
        return self._json("GET", f"/v1/jobs/{job_id}/findings", params={"format": "json"})["items"]

    def findings_export(self, job_id: str, fmt: str) -> bytes:
        """The job's findings as the file the API makes: "csv" (a CSV file) or "json" (a JSON export:
        job id, status, field names and the findings). The bytes are served to the user unchanged."""
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"unknown export format {fmt!r}; one of {', '.join(EXPORT_FORMATS)}")
        params = {"format": EXPORT_FORMATS[fmt]}
        return self._request("GET", f"/v1/jobs/{job_id}/findings", params=params).content

    def create_batch(
        self,
        name: str,
        document_ids: Iterable[str],
        *,
        questions: Iterable[str] = (),
        schemas: Iterable[str] = (),
    ) -> dict[str, Any]:
        body = {
            "name": name,
            "document_ids": list(document_ids),
            "questions": list(questions),
            "schemas": list(schemas),
        }
        return self._json("POST", "/v1/batches", json=body)

    def get_batch(self, batch_id: str) -> Batch:
        return self._json("GET", f"/v1/batches/{batch_id}")
