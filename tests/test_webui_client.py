"""webui.client against an in-process HTTP handler (httpx.MockTransport) and a closed port."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from webui.client import ApiClient, ApiError, ApiUnavailable, Conflict, NotFound, TooLarge, Unauthorized

KEY = "lcx_test_key"


CSV_FILE = b"document_id,filename,answer\nd1,a.pdf,Delaware \xe2\x80\x94 USA\n"
JSON_FILE = json.dumps(
    {"job_id": "j1", "status": "succeeded", "fields": ["document_id", "answer"], "findings": []}
).encode()


def _job(job_id: str, status: str, **extra: object) -> dict:
    return {"id": job_id, "kind": "questions", "status": status, "error_code": None, "attempts": 1, **extra}


def _docs(n: int) -> list[dict]:
    return [{"id": f"d{i}", "filename": f"file{i}.pdf", "status": "ready", "pages": 1} for i in range(n)]


class FakeApi:
    """Just enough of the v1 contract to exercise every client path."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.documents = _docs(5)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path, request.method
        if path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        if request.headers.get("X-API-Key") != KEY:
            return httpx.Response(401, json={"detail": "invalid or revoked API key"})
        if path == "/v1/documents" and method == "GET":
            limit = int(request.url.params.get("limit", 50))
            offset = int(request.url.params.get("offset", 0))
            q = request.url.params.get("q")
            items = [d for d in self.documents if not q or q in d["filename"]]
            return httpx.Response(
                200,
                json={
                    "items": items[offset : offset + limit],
                    "total": len(items),
                    "limit": limit,
                    "offset": offset,
                },
            )
        if path == "/v1/documents" and method == "POST":
            body = request.read()
            if len(body) > 4096:
                return httpx.Response(413, json={"detail": "upload exceeds 4096 bytes"})
            assert b'name="file"; filename="a.pdf"' in body
            assert b"%PDF-1.4 hello" in body
            return httpx.Response(
                202,
                json={
                    "id": "new",
                    "filename": "a.pdf",
                    "status": "queued",
                    "sha256": "x",
                    "bytes": 14,
                    "duplicate": False,
                },
            )
        if path == "/v1/documents/missing":
            return httpx.Response(404, json={"detail": "document not found"})
        if path == "/v1/documents/d1/content":
            return httpx.Response(200, content=b"%PDF-raw", headers={"content-type": "application/pdf"})
        if path == "/v1/questions":
            body = json.loads(request.read())
            assert body == {"document_ids": ["d1"], "questions": ["Who?"], "top_k": 2}
            return httpx.Response(202, json={"job_id": "j1", "status": "queued"})
        if path == "/v1/jobs/j1/retry" and method == "POST":
            return httpx.Response(409, json={"detail": "only failed, cancelled or lapsed jobs are retried"})
        if path == "/v1/jobs/j1/cancel" and method == "POST":
            return httpx.Response(409, json={"detail": "job j1 is succeeded; only queued or running jobs"})
        if path == "/v1/jobs/j2/cancel" and method == "POST":
            return httpx.Response(200, json=_job("j2", "cancelled", error_code="cancelled"))
        if path == "/v1/jobs/j2/retry" and method == "POST":
            return httpx.Response(202, json=_job("j2", "queued"))
        if path == "/v1/jobs/j1/findings":
            disposition = {"Content-Disposition": 'attachment; filename="findings-j1.csv"'}
            if request.url.params.get("format") == "csv":
                return httpx.Response(
                    200, content=CSV_FILE, headers={"content-type": "text/csv", **disposition}
                )
            if request.url.params.get("format") == "export":
                return httpx.Response(200, content=JSON_FILE, headers={"content-type": "application/json"})
            return httpx.Response(
                200, json={"job_id": "j1", "items": [{"document_id": "d1", "answer": "Delaware"}]}
            )
        if path == "/v1/schemas":
            return httpx.Response(200, json={"items": [{"name": "contract", "fields": []}]})
        if path == "/v1/boom":
            return httpx.Response(500, text="Internal Server Error")
        if path == "/v1/validation":
            return httpx.Response(422, json={"detail": [{"loc": ["body", "top_k"], "msg": "must be >= 1"}]})
        if path == "/v1/notready":
            return httpx.Response(503, json={"detail": "database unreachable"})
        return httpx.Response(404, json={"detail": "no route"})


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


def client(api: FakeApi, key: str | None = KEY) -> ApiClient:
    return ApiClient("http://api.test/", key, transport=httpx.MockTransport(api))


def test_key_header_and_listing(api: FakeApi) -> None:
    c = client(api)
    assert c.base_url == "http://api.test"
    assert c.check_key() == 5
    page = c.list_documents(q="file3", limit=10)
    assert [d["id"] for d in page["items"]] == ["d3"]
    assert all(r.headers["X-API-Key"] == KEY for r in api.requests)
    assert api.requests[-1].url.params["q"] == "file3"


def test_all_documents_follows_pagination(api: FakeApi) -> None:
    docs = client(api).all_documents(page_size=2)
    assert [d["id"] for d in docs] == ["d0", "d1", "d2", "d3", "d4"]
    assert [r.url.params["offset"] for r in api.requests] == ["0", "2", "4"]


def test_invalid_key_is_unauthorized(api: FakeApi) -> None:
    with pytest.raises(Unauthorized) as err:
        client(api, "wrong").check_key()
    assert err.value.status_code == 401
    assert "invalid or revoked" in err.value.detail
    with pytest.raises(Unauthorized):
        client(api, None).list_documents()
    assert client(api, None).healthy()  # /healthz needs no key


def test_upload_multipart_and_too_large(api: FakeApi) -> None:
    c = client(api)
    result = c.upload("a.pdf", b"%PDF-1.4 hello", "application/pdf")
    assert result["id"] == "new" and result["status"] == "queued"
    with pytest.raises(TooLarge, match="exceeds 4096"):
        c.upload("big.pdf", b"x" * 10_000)


def test_errors_map_to_exceptions(api: FakeApi) -> None:
    c = client(api)
    with pytest.raises(NotFound, match="document not found"):
        c.get_document("missing")
    with pytest.raises(Conflict, match="only failed"):
        c.retry_job("j1")
    with pytest.raises(Conflict, match="only queued or running") as conflict:
        c.cancel_job("j1")
    assert conflict.value.status_code == 409
    with pytest.raises(NotFound, match="no route"):
        c.cancel_job("unknown")
    with pytest.raises(ApiError) as err:
        c._json("GET", "/v1/boom")
    assert err.value.status_code == 500 and "Internal Server Error" in err.value.detail
    with pytest.raises(ApiError, match="must be >= 1"):
        c._json("GET", "/v1/validation")
    with pytest.raises(ApiUnavailable, match="database unreachable"):
        c._json("GET", "/v1/notready")


def test_jobs_findings_content(api: FakeApi) -> None:
    c = client(api)
    assert c.ask(["d1"], ["Who?"], top_k=2) == {"job_id": "j1", "status": "queued"}
    assert c.findings("j1") == [{"document_id": "d1", "answer": "Delaware"}]
    assert c.get_content("d1") == b"%PDF-raw"
    assert c.schemas()[0]["name"] == "contract"


def test_cancel_and_retry_return_the_job(api: FakeApi) -> None:
    c = client(api)
    job = c.cancel_job("j2")
    assert job["status"] == "cancelled" and job["error_code"] == "cancelled"
    assert (api.requests[-1].method, api.requests[-1].url.path) == ("POST", "/v1/jobs/j2/cancel")
    assert c.retry_job("j2")["status"] == "queued"
    assert (api.requests[-1].method, api.requests[-1].url.path) == ("POST", "/v1/jobs/j2/retry")


def test_findings_export_is_the_api_file_unchanged(api: FakeApi) -> None:
    c = client(api)
    assert c.findings_export("j1", "csv") == CSV_FILE  # bytes as sent, UTF-8 intact
    assert api.requests[-1].url.params["format"] == "csv"
    assert c.findings_export("j1", "json") == JSON_FILE
    assert api.requests[-1].url.params["format"] == "export"
    assert json.loads(c.findings_export("j1", "json"))["fields"] == ["document_id", "answer"]
    with pytest.raises(ValueError, match="unknown export format"):
        c.findings_export("j1", "xlsx")
    with pytest.raises(NotFound):
        c.findings_export("missing", "csv")


def test_unreachable_api_is_unavailable() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with ApiClient(f"http://127.0.0.1:{port}", KEY, timeout=2) as c:
        assert not c.healthy()
        with pytest.raises(ApiUnavailable, match="not reachable"):
            c.list_documents()
