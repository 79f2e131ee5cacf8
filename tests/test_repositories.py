"""Repositories: tenant scoping, API keys stored hashed, idempotent pages/findings."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from longctx.config import get_settings
from longctx.storage import repositories as repo
from longctx.storage.models import ApiKey, Document, DocumentStatus, Finding, JobKind, JobStatus
from longctx.storage.session import session_scope
from migrations.runner import upgrade
from tests.util import isolated_env


@pytest.fixture()
def db(monkeypatch, tmp_path):
    isolated_env(monkeypatch, tmp_path)
    upgrade(get_settings())
    return get_settings()


def _doc(s, tenant_id: str, sha: str = "a" * 64, name: str = "c.pdf") -> Document:
    d = Document(tenant_id=tenant_id, filename=name, sha256=sha, bytes=3)
    s.add(d)
    s.flush()
    return d


def test_api_keys_are_hashed_and_revocable(db):
    with session_scope() as s:
        t = repo.create_tenant(s, "acme")
        key = repo.create_api_key(s, t, "ci")
        secret, key_id = key.secret, key.record.id
    with session_scope() as s:
        stored = s.scalars(select(ApiKey)).all()
        assert len(stored) == 1 and secret not in (stored[0].key_hash, stored[0].prefix, stored[0].name)
        found = repo.authenticate_api_key(s, secret)
        assert found is not None and found.id == key_id and found.last_used_at is not None
        assert repo.authenticate_api_key(s, secret + "x") is None
        assert repo.authenticate_api_key(s, "") is None
        assert repo.revoke_api_key(s, key_id)
    with session_scope() as s:
        assert repo.authenticate_api_key(s, secret) is None


def test_tenant_names_unique_and_nonempty(db):
    with session_scope() as s:
        repo.create_tenant(s, "acme")
        with pytest.raises(ValueError):
            repo.create_tenant(s, "acme")
        with pytest.raises(ValueError):
            repo.create_tenant(s, "  ")
        assert repo.get_or_create_tenant(s, "acme").name == "acme"


def test_documents_are_tenant_scoped(db):
    with session_scope() as s:
        a, b = repo.create_tenant(s, "a"), repo.create_tenant(s, "b")
        da = _doc(s, a.id, name="alpha.pdf")
        _doc(s, b.id, sha="b" * 64, name="beta.pdf")
        assert repo.get_document(s, a.id, da.id) is not None
        assert repo.get_document(s, b.id, da.id) is None
        docs, total = repo.list_documents(s, a.id)
        assert total == 1 and [d.filename for d in docs] == ["alpha.pdf"]
        assert repo.list_documents(s, a.id, query="ALP")[1] == 1
        assert repo.list_documents(s, a.id, status=DocumentStatus.ready)[1] == 0
        assert repo.find_document_by_sha(s, a.id, "a" * 64).id == da.id
        assert repo.find_document_by_sha(s, b.id, "a" * 64) is None


def test_pages_and_findings_replace_not_duplicate(db):
    with session_scope() as s:
        t = repo.create_tenant(s, "t")
        d = _doc(s, t.id)
        repo.replace_pages(s, d.id, [(1, 0, 5, "hello"), (2, 6, 11, "world")])
        repo.replace_pages(s, d.id, [(1, 0, 5, "hello"), (2, 6, 11, "world")])
        assert [p.number for p in repo.get_pages(s, d.id)] == [1, 2]
        assert repo.document_text(s, d.id) == "hello\nworld\n"
        job = repo.create_job(s, t.id, JobKind.questions, {"questions": ["q"]})
        row = dict(
            tenant_id=t.id,
            query_index=0,
            query="q",
            rank=0,
            answer="hello",
            score=1.0,
            page=1,
            char_start=0,
            char_end=5,
            passage="hello",
            passage_start=0,
        )
        repo.replace_findings(s, job.id, d.id, [row])
        repo.replace_findings(s, job.id, d.id, [row])
        assert len(s.scalars(select(Finding)).all()) == 1
        assert len(repo.get_findings(s, t.id, job.id)) == 1
        other = repo.create_tenant(s, "other")
        assert repo.get_findings(s, other.id, job.id) == []
        assert repo.get_job(s, other.id, job.id) is None


def test_job_progress_is_clamped_and_timestamps_set(db):
    with session_scope() as s:
        t = repo.create_tenant(s, "t")
        job = repo.create_job(s, t.id, JobKind.extraction, {"schema": "contract"})
        repo.set_job_progress(s, job, stage="analyzing", progress=1.7, status=JobStatus.running)
        assert job.progress == 1.0 and job.started_at is not None and job.finished_at is None
        repo.set_job_progress(s, job, status=JobStatus.succeeded)
        assert job.finished_at is not None


def test_deleting_document_cascades(db):
    with session_scope() as s:
        t = repo.create_tenant(s, "t")
        d = _doc(s, t.id)
        repo.replace_pages(s, d.id, [(1, 0, 1, "x")])
        job = repo.create_job(s, t.id, JobKind.questions, {})
        repo.replace_findings(s, job.id, d.id, [dict(tenant_id=t.id, query="q", answer=None)])
        doc_id = d.id
    with session_scope() as s:
        s.delete(s.get(Document, doc_id))
    with session_scope() as s:
        assert repo.get_pages(s, doc_id) == []
        assert s.scalars(select(Finding)).all() == []
