"""REST API in-process (FastAPI TestClient): every task the API enqueues runs inline via the real task
functions, so these tests cover the API + jobs + storage path without broker or worker processes."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from tests.pdfgen import make_pdf

GOV_LAW = "Which state's law governs this agreement?"

CONTRACT_PAGES = [
    "MASTER SERVICES AGREEMENT\nThis Master Services Agreement is entered into by Acme Corp and Beta LLC.\n"
    "1. Services. Beta LLC shall provide consulting services to Acme Corp as described in each order.\n"
    "2. Fees. Acme Corp shall pay all invoices within thirty days of receipt.",
    "3. Term. This Agreement begins on the Effective Date and continues for two years.\n"
    "4. Confidentiality. Each party shall keep the other party's information confidential.\n"
    "5. Governing Law. This Agreement shall be governed by and construed in accordance with the laws of "
    "the State of Delaware.\n"
    "6. Notices. All notices shall be in writing and delivered by courier to the addresses above.\n"
    "7. Assignment. Neither party may assign this Agreement without the prior written consent of the other.",
]


def contract_pdf(extra: str = "") -> bytes:
    pages = list(CONTRACT_PAGES)
    if extra:
        pages.append(extra)
    return make_pdf(pages)


def upload(client, tk, data: bytes, name: str = "contract.pdf", ctype: str = "application/pdf"):  # noqa: ANN001, ANN201
    return client.post("/v1/documents", files={"file": (name, data, ctype)}, headers=tk.headers)


def count(settings, model) -> int:  # noqa: ANN001
    from longctx.storage.session import session_scope

    with session_scope(settings) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def blob_files(settings) -> list:  # noqa: ANN001
    return [p for p in settings.blob_dir.rglob("*") if p.is_file()]


# ---- auth and operations ----------------------------------------------------------------------------------
def test_auth_required_and_ops_open(client, make_tenant, data_env):  # noqa: ANN001
    tk = make_tenant("acme")
    assert client.get("/v1/documents").status_code == 401
    r = client.get("/v1/documents", headers={"X-API-Key": "lcx_nope_nope"})
    assert r.status_code == 401 and r.json()["detail"]
    assert client.get("/v1/documents", headers=tk.headers).status_code == 200
    # a revoked key stops working
    from longctx.storage import repositories as repo
    from longctx.storage.models import ApiKey
    from longctx.storage.session import session_scope

    with session_scope(data_env) as s:
        key_id = s.scalar(select(ApiKey.id).where(ApiKey.key_hash == repo.hash_api_key(tk.key)))
        repo.revoke_api_key(s, key_id)
    assert client.get("/v1/documents", headers=tk.headers).status_code == 401
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json()
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    assert client.get("/openapi.json").json()["paths"]["/v1/documents"]["post"]


def test_readyz_503_when_database_down(monkeypatch, tmp_path):  # noqa: ANN001
    from fastapi.testclient import TestClient

    from longctx.api.app import create_app
    from longctx.config import get_settings
    from tests.util import isolated_env

    isolated_env(monkeypatch, tmp_path, LONGCTX_DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere")
    with TestClient(create_app(get_settings())) as c:
        r = c.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unavailable" and body["checks"]["database"].startswith("error")
    assert body["checks"]["broker"] == "ok"


# ---- documents --------------------------------------------------------------------------------------------
def test_upload_ask_findings_flow(client, make_tenant, data_env, inline_queue):  # noqa: ANN001
    tk = make_tenant("acme")
    r = upload(client, tk, contract_pdf())
    assert r.status_code == 202, r.text
    acc = r.json()
    assert set(acc) == {"id", "filename", "status", "sha256", "bytes", "duplicate"}
    assert acc["duplicate"] is False and acc["filename"] == "contract.pdf"
    doc_id = acc["id"]
    assert ("longctx.ingest", [doc_id]) in inline_queue.sent

    doc = client.get(f"/v1/documents/{doc_id}", headers=tk.headers).json()
    assert doc["status"] == "ready", doc
    assert doc["pages"] == 2 and doc["tokens"] > 0 and doc["media_type"] == "application/pdf"
    assert doc["parsed_at"] and doc["created_at"]

    # same bytes again: the existing document comes back
    again = upload(client, tk, contract_pdf(), name="copy.pdf").json()
    assert again["duplicate"] is True and again["id"] == doc_id

    listing = client.get(
        "/v1/documents", params={"status": "ready", "q": "contract"}, headers=tk.headers
    ).json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == doc_id
    assert client.get("/v1/documents", params={"status": "failed"}, headers=tk.headers).json()["total"] == 0
    content = client.get(f"/v1/documents/{doc_id}/content", headers=tk.headers)
    assert content.status_code == 200 and content.content == contract_pdf()
    assert content.headers["content-type"].startswith("application/pdf")

    r = client.post(
        "/v1/questions", json={"document_ids": [doc_id], "questions": [GOV_LAW]}, headers=tk.headers
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    job = client.get(f"/v1/jobs/{job_id}", headers=tk.headers).json()
    assert job["status"] == "succeeded", job
    assert job["progress"] == 1.0 and job["kind"] == "questions"
    for key in ("queue_wait_s", "parse_s", "analyze_s"):
        assert key in job["timings"]

    items = client.get(f"/v1/jobs/{job_id}/findings", headers=tk.headers).json()["items"]
    assert items and items[0]["rank"] == 0 and items[0]["filename"] == "contract.pdf"
    top = items[0]
    assert "Delaware" in top["answer"]
    page = client.get(f"/v1/documents/{doc_id}/pages/{top['page']}", headers=tk.headers).json()
    assert top["page"] == 2
    assert top["answer"] in page["text"]
    assert page["char_start"] <= top["char_start"] < top["char_end"] <= page["char_end"]
    assert top["passage"] in page["text"]
    text = page["text"]
    assert (
        text[top["char_start"] - page["char_start"] : top["char_end"] - page["char_start"]] == top["answer"]
    )

    rows = list(
        csv.DictReader(
            io.StringIO(client.get(f"/v1/jobs/{job_id}/findings?format=csv", headers=tk.headers).text)
        )
    )
    assert rows[0]["answer"] == top["answer"] and rows[0]["page"] == "2"
    assert list(rows[0]) == [
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
    ]
    assert rows[0]["ocr_confidence"] == "" and rows[0]["warning"] == ""  # a text-layer page
    assert rows[0]["row_label"] == "" and rows[0]["computed"] == ""  # a text answer, not a table cell
    jobs = client.get("/v1/jobs", headers=tk.headers).json()
    assert jobs["total"] == 1 and jobs["items"][0]["id"] == job_id
    assert client.get(f"/v1/documents/{doc_id}/pages/3", headers=tk.headers).status_code == 404

    # audit trail: upload and job creation
    from longctx.storage.models import AuditEntry
    from longctx.storage.session import session_scope

    with session_scope(data_env) as s:
        actions = {(a.action, a.object_type) for a in s.scalars(select(AuditEntry))}
    assert {("upload", "document"), ("create", "job")} <= actions


def test_upload_cap_413_stores_nothing(monkeypatch, make_tenant, data_env, client, inline_queue):  # noqa: ANN001
    from longctx.storage.models import Document

    tk = make_tenant("acme")
    monkeypatch.setattr(client.app.state, "settings", data_env.model_copy(update={"max_upload_bytes": 4096}))
    big = b"A" * 20_000
    r = upload(client, tk, big, name="big.txt", ctype="text/plain")
    assert r.status_code == 413 and "too large" in r.json()["detail"]

    # no Content-Length (chunked body): the cap is enforced while streaming
    boundary = "xyzBOUNDARY"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()

    def body():  # noqa: ANN202
        yield head
        for _ in range(40):
            yield b"B" * 1000
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post(
        "/v1/documents",
        content=body(),
        headers={**tk.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 413, r.text
    assert count(data_env, Document) == 0
    assert blob_files(data_env) == []
    assert inline_queue.sent == []
    # under the cap it is accepted
    r = upload(
        client, tk, b"Small text document about the State of Delaware.\n", name="s.txt", ctype="text/plain"
    )
    assert r.status_code == 202
    assert count(data_env, Document) == 1 and len(blob_files(data_env)) == 1


def test_upload_malformed_requests(client, make_tenant, data_env):  # noqa: ANN001
    from longctx.storage.models import Document

    tk = make_tenant("acme")
    r = client.post("/v1/documents", content=b"raw", headers={**tk.headers, "Content-Type": "text/plain"})
    assert r.status_code == 422 and "multipart" in r.json()["detail"]
    r = client.post(
        "/v1/documents", data={"other": "x"}, files={"nofile": ("a.txt", b"x")}, headers=tk.headers
    )
    assert r.status_code == 422 and "'file'" in r.json()["detail"]
    assert count(data_env, Document) == 0 and blob_files(data_env) == []


def test_bad_file_fails_its_document_only(client, make_tenant):  # noqa: ANN001
    tk = make_tenant("acme")
    bad = upload(client, tk, b"%PDF-1.7\n this is not really a pdf \x00\x01", name="broken.pdf").json()
    good = upload(client, tk, contract_pdf()).json()
    bad_doc = client.get(f"/v1/documents/{bad['id']}", headers=tk.headers).json()
    assert bad_doc["status"] == "failed" and bad_doc["error"]

    r = client.post(
        "/v1/questions",
        json={"document_ids": [bad["id"], good["id"]], "questions": [GOV_LAW]},
        headers=tk.headers,
    )
    job = client.get(f"/v1/jobs/{r.json()['job_id']}", headers=tk.headers).json()
    assert job["status"] == "succeeded"
    outcomes = {o["document_id"]: o for o in job["documents"]}
    assert outcomes[bad["id"]]["status"] == "failed" and "failed to parse" in outcomes[bad["id"]]["error"]
    assert outcomes[good["id"]]["status"] == "ok" and outcomes[good["id"]]["findings"] > 0
    findings = client.get(f"/v1/jobs/{job['id']}/findings", headers=tk.headers).json()["items"]
    assert findings and {f["document_id"] for f in findings} == {good["id"]}

    r = client.post(
        "/v1/questions", json={"document_ids": [bad["id"]], "questions": [GOV_LAW]}, headers=tk.headers
    )
    job = client.get(f"/v1/jobs/{r.json()['job_id']}", headers=tk.headers).json()
    assert job["status"] == "failed" and "failed to parse" in job["error"]
    assert job["error_code"] == "no_document_analyzed"
    # a failed job can be retried; a succeeded one cannot
    assert client.post(f"/v1/jobs/{job['id']}/retry", headers=tk.headers).status_code == 202
    ok_job = client.post(
        "/v1/questions", json={"document_ids": [good["id"]], "questions": ["fees?"]}, headers=tk.headers
    ).json()["job_id"]
    assert client.post(f"/v1/jobs/{ok_job}/retry", headers=tk.headers).status_code == 409


def test_delete_removes_blob_pages_findings(client, make_tenant, data_env, inline_queue):  # noqa: ANN001
    from longctx.storage.models import AuditEntry, Finding, Page
    from longctx.storage.session import session_scope

    tk = make_tenant("acme")
    doc_id = upload(client, tk, contract_pdf()).json()["id"]
    client.post("/v1/questions", json={"document_ids": [doc_id], "questions": [GOV_LAW]}, headers=tk.headers)
    assert count(data_env, Finding) > 0 and count(data_env, Page) == 2 and len(blob_files(data_env)) == 1

    inline_queue.run = False  # observe the intermediate "deleting" state
    r = client.delete(f"/v1/documents/{doc_id}", headers=tk.headers)
    assert r.status_code == 202 and r.json() == {"id": doc_id, "status": "deleting"}
    assert client.get(f"/v1/documents/{doc_id}", headers=tk.headers).json()["status"] == "deleting"
    name, args = inline_queue.sent[-1]
    inline_queue.execute(name, args)
    assert client.get(f"/v1/documents/{doc_id}", headers=tk.headers).status_code == 404
    assert count(data_env, Finding) == 0 and count(data_env, Page) == 0
    assert blob_files(data_env) == []
    with session_scope(data_env) as s:
        actions = [a.action for a in s.scalars(select(AuditEntry).where(AuditEntry.object_id == doc_id))]
    assert "delete" in actions and "delete_requested" in actions


def test_schemas_extractions_and_validation(client, make_tenant):  # noqa: ANN001
    tk = make_tenant("acme")
    schemas = client.get("/v1/schemas", headers=tk.headers).json()["items"]
    assert {s["name"] for s in schemas} == {"contract", "report"}
    assert all({"key", "question", "description"} <= set(f) for s in schemas for f in s["fields"])
    doc_id = upload(client, tk, contract_pdf()).json()["id"]
    r = client.post(
        "/v1/extractions", json={"document_ids": [doc_id], "schema": "contract"}, headers=tk.headers
    )
    assert r.status_code == 202, r.text
    job = client.get(f"/v1/jobs/{r.json()['job_id']}", headers=tk.headers).json()
    assert job["status"] == "succeeded" and job["kind"] == "extraction"
    items = client.get(f"/v1/jobs/{job['id']}/findings", headers=tk.headers).json()["items"]
    keys = {f["query_key"] for f in items}
    assert len(keys) == len(next(s for s in schemas if s["name"] == "contract")["fields"])
    gov = [f for f in items if f["query_key"] and "governing" in f["query_key"].lower()]
    assert gov and gov[0]["answer"] and "Delaware" in gov[0]["answer"]

    bad = client.post(
        "/v1/extractions", json={"document_ids": [doc_id], "schema": "poem"}, headers=tk.headers
    )
    assert bad.status_code == 422 and "poem" in bad.json()["detail"]
    bad = client.post("/v1/questions", json={"document_ids": [doc_id]}, headers=tk.headers)
    assert (
        bad.status_code == 422
        and isinstance(bad.json()["detail"], str)
        and "questions" in bad.json()["detail"]
    )
    bad = client.post(
        "/v1/questions", json={"document_ids": [doc_id], "questions": ["  "]}, headers=tk.headers
    )
    assert bad.status_code == 422
    bad = client.post(
        "/v1/questions",
        json={"document_ids": [doc_id], "questions": ["q"], "callback_url": "ftp://x"},
        headers=tk.headers,
    )
    assert bad.status_code == 422 and "callback_url" in bad.json()["detail"]
    missing = client.post(
        "/v1/questions", json={"document_ids": ["nope"], "questions": ["q"]}, headers=tk.headers
    )
    assert missing.status_code == 404


def test_batches(client, make_tenant):  # noqa: ANN001
    tk = make_tenant("acme")
    a = upload(client, tk, contract_pdf()).json()["id"]
    b = upload(client, tk, contract_pdf("8. Severability. Invalid terms are severed."), name="b.pdf").json()[
        "id"
    ]
    r = client.post(
        "/v1/batches",
        json={"name": "q3 review", "document_ids": [a, b], "questions": [GOV_LAW], "schemas": ["contract"]},
        headers=tk.headers,
    )
    assert r.status_code == 202, r.text
    batch = r.json()
    assert len(batch["job_ids"]) == 4
    summary = client.get(f"/v1/batches/{batch['batch_id']}", headers=tk.headers).json()
    assert summary["name"] == "q3 review" and summary["total"] == 4
    assert summary["counts"] == {"succeeded": 4} and summary["progress"] == 1.0
    assert {j["batch_id"] for j in summary["jobs"]} == {batch["batch_id"]}
    listed = client.get("/v1/jobs", params={"batch_id": batch["batch_id"]}, headers=tk.headers).json()
    assert listed["total"] == 4
    assert client.post("/v1/batches", json={"document_ids": [a]}, headers=tk.headers).status_code == 422


def test_enqueue_failure_answers_503_and_job_is_retryable(client, make_tenant, inline_queue):  # noqa: ANN001
    tk = make_tenant("acme")
    doc_id = upload(client, tk, contract_pdf()).json()["id"]
    inline_queue.fail = True
    r = client.post(
        "/v1/questions", json={"document_ids": [doc_id], "questions": [GOV_LAW]}, headers=tk.headers
    )
    assert r.status_code == 503
    jobs = client.get("/v1/jobs", headers=tk.headers).json()["items"]
    assert jobs[0]["status"] == "failed" and "queue" in jobs[0]["error"]
    inline_queue.fail = False
    assert client.post(f"/v1/jobs/{jobs[0]['id']}/retry", headers=tk.headers).status_code == 202
    assert client.get(f"/v1/jobs/{jobs[0]['id']}", headers=tk.headers).json()["status"] == "succeeded"


def test_metrics_counts_uploads_and_jobs(client, make_tenant):  # noqa: ANN001
    tk = make_tenant("acme")
    doc_id = upload(client, tk, contract_pdf()).json()["id"]
    client.post("/v1/questions", json={"document_ids": [doc_id], "questions": [GOV_LAW]}, headers=tk.headers)
    text = client.get("/metrics").text
    assert 'longctx_uploads_total{outcome="accepted"}' in text
    assert 'longctx_jobs{status="succeeded"} 1.0' in text
    assert 'longctx_documents{status="ready"} 1.0' in text
    assert "longctx_task_duration_seconds_bucket" in text and 'task="analyze"' in text
    assert 'longctx_http_requests_total{method="POST",route="/v1/documents",status="202"}' in text


# ---- tenant isolation -------------------------------------------------------------------------------------
def test_tenant_isolation(client, make_tenant, data_env):  # noqa: ANN001
    a, b = make_tenant("alpha"), make_tenant("beta")
    doc = upload(client, a, contract_pdf()).json()["id"]
    job = client.post(
        "/v1/questions", json={"document_ids": [doc], "questions": [GOV_LAW]}, headers=a.headers
    ).json()["job_id"]
    batch = client.post(
        "/v1/batches", json={"document_ids": [doc], "questions": [GOV_LAW]}, headers=a.headers
    ).json()["batch_id"]

    assert client.get("/v1/documents", headers=b.headers).json()["total"] == 0
    assert client.get("/v1/jobs", headers=b.headers).json()["total"] == 0
    for path in (
        f"/v1/documents/{doc}",
        f"/v1/documents/{doc}/pages/1",
        f"/v1/documents/{doc}/content",
        f"/v1/jobs/{job}",
        f"/v1/jobs/{job}/findings",
        f"/v1/jobs/{job}/findings?format=csv",
        f"/v1/batches/{batch}",
    ):
        r = client.get(path, headers=b.headers)
        assert r.status_code == 404, path
        assert "not found" in r.json()["detail"]
    assert client.delete(f"/v1/documents/{doc}", headers=b.headers).status_code == 404
    assert client.post(f"/v1/jobs/{job}/retry", headers=b.headers).status_code == 404
    r = client.post("/v1/questions", json={"document_ids": [doc], "questions": ["x"]}, headers=b.headers)
    assert r.status_code == 404
    r = client.post("/v1/batches", json={"document_ids": [doc], "schemas": ["contract"]}, headers=b.headers)
    assert r.status_code == 404

    # the same bytes uploaded by beta are beta's own document, not a duplicate of alpha's
    mine = upload(client, b, contract_pdf()).json()
    assert mine["duplicate"] is False and mine["id"] != doc
    assert client.delete(f"/v1/documents/{mine['id']}", headers=b.headers).status_code == 202
    # alpha's document (sharing the blob) is intact
    assert client.get(f"/v1/documents/{doc}", headers=a.headers).json()["status"] == "ready"
    assert client.get(f"/v1/documents/{doc}/content", headers=a.headers).status_code == 200
    assert client.get(f"/v1/jobs/{job}/findings", headers=a.headers).json()["items"]
    # and the webhook keys differ per tenant
    sa = client.get("/v1/webhook-secret", headers=a.headers).json()["secret"]
    sb = client.get("/v1/webhook-secret", headers=b.headers).json()["secret"]
    assert sa != sb and len(sa) == 64


@pytest.mark.parametrize("limit,offset", [(1, 0), (1, 1), (5, 0)])
def test_document_pagination(client, make_tenant, limit, offset):  # noqa: ANN001
    tk = make_tenant("acme")
    ids = [
        upload(
            client,
            tk,
            f"Document {i} mentions Delaware law.\n".encode(),
            name=f"d{i}.txt",
            ctype="text/plain",
        ).json()["id"]
        for i in range(3)
    ]
    page = client.get("/v1/documents", params={"limit": limit, "offset": offset}, headers=tk.headers).json()
    assert page["total"] == 3 and page["limit"] == limit and page["offset"] == offset
    assert [d["id"] for d in page["items"]] == list(reversed(ids))[offset : offset + limit]
