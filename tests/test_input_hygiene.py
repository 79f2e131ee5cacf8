"""Input hygiene at the API edge (issue #14, items 2 and 4), on SQLite and on the real PostgreSQL:

* text no database can store (NUL, unpaired surrogates) in a path parameter, query parameter, JSON body string
  or upload filename answers 422 naming the field, before any row is written or any task queued;
* the `q` filename filter is a literal substring (`%`, `_` and `\\` are not wildcards);
* an unexpected exception (a database error included) answers a generic message with an error reference:
  no SQL, traceback or server path reaches the client.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

BAD_TEXT = {"nul": "a\x00b", "surrogate": "a\ud800b"}
LEAK_MARKERS = ("SELECT", "INSERT", "Traceback", "/work", "sqlalche.me", 'File "')


@dataclass
class Api:
    """An in-process API client on one database, with a tenant, one ready document and a recording queue."""

    backend: str
    client: object
    settings: object
    headers: dict[str, str]
    tenant_id: str
    document_id: str
    sent: list = field(default_factory=list)

    def rows(self) -> dict[str, int]:
        from longctx.storage.models import AuditEntry, Batch, Document, Finding, Job, JobDocument, Page
        from longctx.storage.session import session_scope

        with session_scope(self.settings) as s:
            return {
                m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0
                for m in (AuditEntry, Batch, Document, Finding, Job, JobDocument, Page)
            }

    def post_json(self, url: str, body: dict):  # noqa: ANN201
        # json.dumps escapes NUL and lone surrogates (\u0000, \ud800): the bytes on the wire are valid UTF-8
        return self.client.post(
            url, content=json.dumps(body), headers={**self.headers, "content-type": "application/json"}
        )


def _add_document(settings, tenant_id: str, filename: str, status=None) -> str:  # noqa: ANN001
    from longctx.storage.models import Document, DocumentStatus
    from longctx.storage.session import session_scope

    with session_scope(settings) as s:
        doc = Document(
            tenant_id=tenant_id,
            filename=filename,
            sha256=uuid.uuid4().hex * 2,
            bytes=1,
            media_type="text/plain",
            status=status or DocumentStatus.ready,
        )
        s.add(doc)
        s.flush()
        return doc.id


@pytest.fixture(params=["sqlite", "postgresql"])
def api(request, monkeypatch, tmp_path) -> Iterator[Api]:  # noqa: ANN001
    from fastapi.testclient import TestClient

    import longctx.broker.dispatch as dispatch
    from longctx.api.app import create_app
    from longctx.storage import repositories as repo
    from longctx.storage.session import dispose_engines, session_scope

    if request.param == "sqlite":
        settings = request.getfixturevalue("data_env")
    else:
        from longctx.config import get_settings
        from migrations.runner import upgrade
        from tests.util import isolated_env

        url = request.getfixturevalue("pg_database")  # skips, with the reason, when PostgreSQL is not up
        isolated_env(monkeypatch, tmp_path, LONGCTX_DATABASE_URL=url)
        settings = get_settings()
        upgrade(settings)
    sent: list = []
    monkeypatch.setattr(
        dispatch,
        "_send",
        lambda name, args, settings=None, countdown=None: sent.append((name, list(args))),
    )
    with session_scope(settings) as s:
        tenant = repo.get_or_create_tenant(s, f"hyg-{uuid.uuid4().hex[:8]}")
        key = repo.create_api_key(s, tenant, "test")
        tenant_id, secret = tenant.id, key.secret
    document_id = _add_document(settings, tenant_id, "contract.txt")
    with TestClient(create_app(settings)) as client:
        yield Api(request.param, client, settings, {"X-API-Key": secret}, tenant_id, document_id, sent)
    if request.param == "postgresql":
        dispose_engines()


def assert_refused(api: Api, response, field: str, before: dict[str, int]) -> None:  # noqa: ANN001
    assert response.status_code == 422, (api.backend, response.status_code, response.text)
    detail = response.json()["detail"]
    assert isinstance(detail, str) and f"{field}: " in detail, detail
    assert "U+0000" in detail or "surrogate" in detail, detail
    assert "\x00" not in response.text and "\\u0000" not in response.text  # the value is not echoed
    assert api.rows() == before, "a refused request wrote rows"
    assert api.sent == [], "a refused request queued work"


# ---- NUL / unpaired surrogates: 422 before any work --------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("GET", "/v1/documents/a%00b", "path.document_id"),
        ("GET", "/v1/documents/a%00b/pages/1", "path.document_id"),
        ("GET", "/v1/documents/a%00b/content", "path.document_id"),
        ("DELETE", "/v1/documents/a%00b", "path.document_id"),
        ("GET", "/v1/documents?q=a%00b", "query.q"),
        ("GET", "/v1/jobs/a%00b", "path.job_id"),
        ("POST", "/v1/jobs/a%00b/retry", "path.job_id"),
        ("POST", "/v1/jobs/a%00b/cancel", "path.job_id"),
        ("GET", "/v1/jobs/a%00b/findings", "path.job_id"),
        ("GET", "/v1/jobs?batch_id=a%00b", "query.batch_id"),
        ("GET", "/v1/batches/a%00b", "path.batch_id"),
    ],
)
def test_nul_in_path_or_query_is_422(api, method, url, field):  # noqa: ANN001
    before = api.rows()
    r = api.client.request(method, url, headers=api.headers)
    assert_refused(api, r, field, before)


def test_nul_in_url_without_api_key_is_still_401(api):  # noqa: ANN001
    assert api.client.get("/v1/documents/a%00b").status_code == 401


def test_clean_requests_still_pass(api):  # noqa: ANN001
    assert api.client.get(f"/v1/documents/{api.document_id}", headers=api.headers).status_code == 200
    r = api.client.get("/v1/documents", params={"q": "contract é 🙂"}, headers=api.headers)
    assert r.status_code == 200 and r.json()["total"] == 0
    # an emoji arrives in JSON as a valid surrogate pair: accepted
    r = api.post_json("/v1/questions", {"document_ids": [api.document_id], "questions": ["who signs? 🙂"]})
    assert r.status_code == 202, r.text
    assert len(api.sent) == 1


def _questions(api: Api, bad: str) -> tuple[str, dict, str]:
    return (
        "/v1/questions",
        {"document_ids": [api.document_id], "questions": ["Who pays?", bad]},
        "questions.1",
    )


def _question_document_id(api: Api, bad: str) -> tuple[str, dict, str]:
    return "/v1/questions", {"document_ids": [bad], "questions": ["Who pays?"]}, "document_ids.0"


def _callback_url(api: Api, bad: str) -> tuple[str, dict, str]:
    body = {
        "document_ids": [api.document_id],
        "questions": ["Who pays?"],
        "callback_url": f"https://x.test/{bad}",
    }
    return "/v1/questions", body, "callback_url"


def _extraction_schema(api: Api, bad: str) -> tuple[str, dict, str]:
    return "/v1/extractions", {"document_ids": [api.document_id], "schema": f"contract{bad}"}, "schema"


def _batch_name(api: Api, bad: str) -> tuple[str, dict, str]:
    return "/v1/batches", {"name": bad, "document_ids": [api.document_id], "questions": ["Who pays?"]}, "name"


def _batch_question(api: Api, bad: str) -> tuple[str, dict, str]:
    body = {"name": "ok", "document_ids": [api.document_id], "questions": ["Who pays?", "x", bad]}
    return "/v1/batches", body, "questions.2"


def _batch_schema(api: Api, bad: str) -> tuple[str, dict, str]:
    body = {"document_ids": [api.document_id], "schemas": ["contract", f"report{bad}"]}
    return "/v1/batches", body, "schemas.1"


def _unknown_key(api: Api, bad: str) -> tuple[str, dict, str]:
    body = {"document_ids": [api.document_id], "questions": ["Who pays?"], "extra": {"deep": [{"k": bad}]}}
    return "/v1/questions", body, "extra.deep.0.k"


@pytest.mark.parametrize("kind", sorted(BAD_TEXT))
@pytest.mark.parametrize(
    "case",
    [
        _questions,
        _question_document_id,
        _callback_url,
        _extraction_schema,
        _batch_name,
        _batch_question,
        _batch_schema,
        _unknown_key,
    ],
)
def test_bad_text_in_json_body_is_422(api, case, kind):  # noqa: ANN001
    url, body, field = case(api, BAD_TEXT[kind])
    before = api.rows()
    r = api.post_json(url, body)
    assert_refused(api, r, field, before)


def test_every_bad_field_is_named(api):  # noqa: ANN001
    body = {"name": "a\x00", "document_ids": [api.document_id], "questions": ["\ud800"], "schemas": []}
    r = api.post_json("/v1/batches", body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "name: contains a NUL character (U+0000)" in detail
    assert "questions.0: contains an unpaired surrogate (U+D800)" in detail


def _multipart(disposition: bytes) -> tuple[bytes, str]:
    boundary = "hygieneboundary"
    body = (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; '
        + disposition
        + b"\r\nContent-Type: text/plain\r\n\r\nHello, this is a small text document.\r\n"
        + f"--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    "filename", [b"a\x00b.txt", b"\x00", b"report\x00.pdf\x00.exe"], ids=["inside", "only", "twice"]
)
def test_nul_in_upload_filename_is_422_and_nothing_stored(api, filename):  # noqa: ANN001
    # (python-multipart ignores `filename*=`, so an unpaired surrogate cannot arrive here: bytes are decoded
    # as UTF-8 with replacement; a raw NUL byte in the header can.)
    body, ctype = _multipart(b'filename="' + filename + b'"')
    before = api.rows()
    r = api.client.post("/v1/documents", content=body, headers={**api.headers, "content-type": ctype})
    assert_refused(api, r, "file.filename", before)
    assert not [p for p in api.settings.blob_dir.rglob("*") if p.is_file()], "the bytes were stored"


def test_clean_upload_filename_is_accepted(api):  # noqa: ANN001
    body, ctype = _multipart('filename="résumé.txt"'.encode())
    r = api.client.post("/v1/documents", content=body, headers={**api.headers, "content-type": ctype})
    assert r.status_code == 202, r.text
    assert r.json()["filename"] == "résumé.txt"


# ---- q: a literal substring --------------------------------------------------------------------------------
LIKE_NAMES = ["100%.txt", "a_b.txt", "axb.txt", "back\\slash.txt", "Report.TXT"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("%", ["100%.txt"]),
        ("_", ["a_b.txt"]),
        ("\\", ["back\\slash.txt"]),
        ("a_b", ["a_b.txt"]),
        ("0%.", ["100%.txt"]),
        ("\\s", ["back\\slash.txt"]),
        ("%%", []),
        ("report", ["Report.TXT"]),  # still case-insensitive
        (".txt", [*LIKE_NAMES, "contract.txt"]),  # (the fixture's document is "contract.txt")
    ],
)
def test_q_filter_is_literal(api, q, expected):  # noqa: ANN001
    for name in LIKE_NAMES:
        _add_document(api.settings, api.tenant_id, name)
    r = api.client.get("/v1/documents", params={"q": q}, headers=api.headers)
    assert r.status_code == 200, r.text
    got = sorted(d["filename"] for d in r.json()["items"])
    assert got == sorted(expected), (api.backend, q, got)
    assert r.json()["total"] == len(expected)


# ---- unexpected errors: generic answer, details only in the log --------------------------------------------
def _scrubbed(response, caplog) -> str:  # noqa: ANN001
    body = response.text
    for marker in LEAK_MARKERS:
        assert marker not in body, (marker, body)
    ref = response.headers["X-Error-Reference"]
    assert f"error reference {ref}" in response.json()["detail"]
    logged = [r for r in caplog.records if f"[ref {ref}]" in r.getMessage()]
    assert logged and logged[0].exc_info, "the details must be in the log under the same reference"
    return ref


def test_database_error_in_a_route_is_scrubbed(api, monkeypatch, caplog):  # noqa: ANN001
    """A real failing statement on each database: the response names neither the SQL nor the driver error."""
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from longctx.api.app import create_app
    from longctx.storage import repositories as repo

    def broken(session, tenant_id, document_id):  # noqa: ANN001, ANN202
        return session.execute(
            text("SELECT secret_column FROM no_such_table WHERE id = :id"), {"id": document_id}
        )

    monkeypatch.setattr(repo, "get_document", broken)
    caplog.set_level(logging.ERROR, logger="longctx.api.app")
    with TestClient(create_app(api.settings), raise_server_exceptions=False) as c:
        r = c.get(f"/v1/documents/{api.document_id}", headers=api.headers)
    # SQLite reports a missing table as an OperationalError (503), PostgreSQL as a ProgrammingError (500)
    assert r.status_code in (500, 503), r.text
    assert "no_such_table" not in r.text and "secret_column" not in r.text
    _scrubbed(r, caplog)
    assert any("no_such_table" in str(rec.exc_info[1]) for rec in caplog.records if rec.exc_info)


def test_unexpected_error_is_500_without_sql_trace_or_path(data_env, make_tenant, monkeypatch, caplog):  # noqa: ANN001
    from fastapi.testclient import TestClient
    from sqlalchemy.exc import IntegrityError

    from longctx.api.app import create_app
    from longctx.storage import repositories as repo

    tk = make_tenant()

    def broken(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        orig = RuntimeError('Traceback (most recent call last):\n  File "/work/main/longctx/storage/x.py"')
        raise IntegrityError("INSERT INTO findings (query) VALUES (%(query)s)", {"query": "x"}, orig)

    monkeypatch.setattr(repo, "list_documents", broken)
    caplog.set_level(logging.ERROR, logger="longctx.api.app")
    with TestClient(create_app(data_env), raise_server_exceptions=False) as c:
        r = c.get("/v1/documents", headers=tk.headers)
    assert r.status_code == 500
    assert set(r.json()) == {"detail"}  # the API's usual error shape
    assert "IntegrityError" not in r.text and "findings" not in r.text
    _scrubbed(r, caplog)


def test_readyz_does_not_leak_database_details(monkeypatch, tmp_path):  # noqa: ANN001
    from fastapi.testclient import TestClient

    from longctx.api.app import create_app
    from longctx.config import get_settings
    from tests.util import isolated_env

    isolated_env(monkeypatch, tmp_path, LONGCTX_DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere")
    with TestClient(create_app(get_settings())) as c:
        r = c.get("/readyz")
    assert r.status_code == 503
    check = r.json()["checks"]["database"]
    assert check.startswith("error") and "error reference" in check
    for marker in (*LEAK_MARKERS, "127.0.0.1", "nowhere", "postgres@"):
        assert marker not in r.text, (marker, r.text)


def test_error_messages_quoting_bad_text_still_render(data_env):  # noqa: ANN001
    """A route that quotes client text in an HTTPException must not turn into a 500 (JSON must be UTF-8)."""
    from fastapi import HTTPException
    from fastapi.testclient import TestClient

    from longctx.api.app import create_app

    app = create_app(data_env)

    def boom() -> None:
        raise HTTPException(422, "unknown schema(s) report\ud800\x00")

    app.add_api_route("/boom", boom)
    with TestClient(app) as c:
        r = c.get("/boom")
    assert r.status_code == 422
    assert r.json()["detail"] == "unknown schema(s) report\\ud800\\x00"


# ---- identical uploads racing each other: one document -----------------------------------------------------
def test_racing_identical_uploads_make_one_document(api):  # noqa: ANN001
    """Eight identical uploads at once: one is created, seven answer `duplicate` with its id (before, the
    check-then-insert let several insert; the unique index on live content now lets exactly one win)."""
    import threading

    from longctx.storage.models import Document
    from longctx.storage.session import session_scope

    data = f"Racing upload {uuid.uuid4().hex}: this agreement is governed by the laws of Ohio.\n".encode()
    barrier = threading.Barrier(8)
    answers: list = []

    def upload() -> None:
        barrier.wait()
        r = api.client.post(
            "/v1/documents", files={"file": ("race.txt", data, "text/plain")}, headers=api.headers
        )
        answers.append(r)

    threads = [threading.Thread(target=upload) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [r.status_code for r in answers] == [202] * 8, [r.text for r in answers]
    ids = {r.json()["id"] for r in answers}
    assert len(ids) == 1
    assert sorted(r.json()["duplicate"] for r in answers) == [False] + [True] * 7
    with session_scope(api.settings) as s:
        (sha,) = {r.json()["sha256"] for r in answers}
        assert s.scalar(select(func.count()).select_from(Document).where(Document.sha256 == sha)) == 1
