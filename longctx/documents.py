"""Document lifecycle shared by the CLI, the REST API and the workers: register, ingest, delete.

Ingestion is idempotent (a redelivered task re-parses into the same rows) and a failure of one document is
recorded on that document with a human-readable reason; it never propagates to the caller's other work.
A parse holds a lease on its document (renewed by a `LeaseKeeper` thread); when the worker dies mid-parse the
lease lapses and `reap_parses` queues the document again, or fails it after `job_max_attempts` parses (a file
that kills its parser every time must not loop forever).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from longctx.config import Settings, get_settings
from longctx.core.errors import error_reference
from longctx.core.lease import LeaseKeeper
from longctx.core.timestamps import utcnow
from longctx.storage import repositories as repo
from longctx.storage.blobs import BlobStore, StoredBlob
from longctx.storage.models import Document, DocumentStatus
from longctx.storage.session import session_scope

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]


def blob_store(settings: Settings | None = None) -> BlobStore:
    settings = settings or get_settings()
    return BlobStore(settings.blob_dir)


def display_name(filename: str | None) -> str:
    """A client-supplied name reduced to something safe to show (never used as a path)."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:255] or "untitled"


@dataclass(frozen=True)
class Registered:
    document: Document
    created: bool  # False when the tenant already had a live document with these bytes


def register_blob(session: Session, tenant_id: str, filename: str | None, blob: StoredBlob) -> Registered:
    """Create the documents row (status queued) for stored bytes, or return the tenant's existing one.

    Two identical uploads at once: the unique index on live content lets one insert win; the other's flush
    raises `IntegrityError`; `register_upload` then registers again in a new transaction, which finds it."""
    existing = repo.find_document_by_sha(session, tenant_id, blob.sha256)
    if existing is not None:
        return Registered(existing, False)
    from longctx.ingest import IngestError, sniff_media_type

    doc = Document(tenant_id=tenant_id, filename=display_name(filename), sha256=blob.sha256, bytes=blob.size)
    try:
        doc.media_type = sniff_media_type(blob.head, doc.filename)
    except IngestError as exc:
        doc.status = DocumentStatus.failed
        doc.error = exc.reason
    session.add(doc)
    session.flush()
    return Registered(doc, True)


def tokens_cache_path(settings: Settings, sha256: str) -> Path:
    return settings.cache_dir / "tokens" / f"{sha256}.npz"


def ocr_work_dir(settings: Settings, sha256: str) -> Path:
    """Where a parse keeps its OCR page results until the document is ready or failed (see `ingest.ocr`)."""
    return settings.cache_dir / "ocr" / sha256


def ingest_document(
    document_id: str,
    settings: Settings | None = None,
    progress: Progress | None = None,
    *,
    slice_s: float | None = None,
) -> Document:
    """Parse, tokenize and store one document's pages. Returns the final row (ready or failed).

    Scanned pages are OCRed a few at a time (`ingest.ocr`), with the progress on the row. With `slice_s` (the
    cpu worker passes `ocr_slice_s`), OCR stops between batches once that much time has passed and the
    document goes back to `queued` with its finished pages kept: the caller sends it to the queue again, so
    a long scan takes turns with the other uploads instead of holding a worker for its whole length."""
    from longctx.ingest import IngestError, OcrPaused, parse_file
    from longctx.ingest.tables import rebase_tables
    from longctx.model.tokenization import tokenize_text

    settings = settings or get_settings()
    report = progress or (lambda _stage, _frac: None)
    with session_scope(settings) as s:
        doc = s.get(Document, document_id)
        if doc is None:
            raise LookupError(f"no document {document_id}")
        if doc.status in (DocumentStatus.ready, DocumentStatus.failed, DocumentStatus.deleting):
            return doc
        if not _claim_parse(s, settings, document_id):
            s.refresh(doc)
            return doc  # another worker holds a live parse, or it has just failed
        sha, media_type = doc.sha256, doc.media_type
        earlier_s = (doc.parse_seconds or 0.0) if doc.parse_progress is not None else 0.0
    started = time.monotonic()
    report("parsing", 0.1)
    error: str | None = None
    parsed = None
    tokens = None
    paused: OcrPaused | None = None
    work_dir = ocr_work_dir(settings, sha)
    keeper = LeaseKeeper(lambda: _renew_parse(settings, document_id), settings.job_lease_s / 3, "parse")
    ocr_progress = _OcrProgress(settings, document_id, report)
    try:
        with keeper:
            parsed = parse_file(
                blob_store(settings).path_for(sha),
                limits=settings,
                media_type=media_type,
                progress=ocr_progress,
                work_dir=work_dir,
                deadline=started + slice_s if slice_s else None,
            )
            report("tokenizing", 0.6)
            tokens = tokenize_text(parsed.text)
        if len(tokens) > settings.max_tokens:
            error = f"too many tokens: {len(tokens)} > limit {settings.max_tokens}"
        elif len(tokens) == 0:
            error = "empty document: no text found"
    except OcrPaused as exc:
        paused = exc
    except IngestError as exc:
        error = exc.reason
    except FileNotFoundError:
        error = "original file is missing from the blob store"
    except Exception:  # a bug in our own code must still fail only this document
        ref = error_reference()
        log.exception("unexpected error ingesting %s [ref %s]", document_id, ref)
        error = f"internal error while parsing (error reference {ref}; the service log has the details)"
    if paused is not None:
        seconds = earlier_s + time.monotonic() - started
        return _pause_parse(settings, document_id, paused.done, paused.total, seconds)
    report("storing", 0.8)
    with session_scope(settings) as s:
        doc = s.get(Document, document_id)
        if doc is None or doc.status is DocumentStatus.deleting:
            return doc  # deleted meanwhile: nothing to store
        doc.parse_seconds = earlier_s + time.monotonic() - started
        doc.lease_expires_at = None
        doc.parse_progress = None
        doc.parse_stage = None
        if error is not None or parsed is None or tokens is None:
            doc.status = DocumentStatus.failed
            doc.error = error or "parsing produced no result"
            doc.ocr = None
            repo.replace_pages(s, document_id, [])
            repo.replace_tables(s, document_id, [])
        else:
            tokens.save(tokens_cache_path(settings, sha))
            words = parsed.metadata.pop("ocr_words", None) or {}
            repo.replace_pages(
                s,
                document_id,
                ((p.number, p.char_start, p.char_end, p.text) for p in parsed.pages),
                ocr={int(n): w for n, w in words.items()},
            )
            repo.replace_tables(
                s, document_id, rebase_tables(parsed.tables, {p.number: p.char_start for p in parsed.pages})
            )
            doc.ocr = ocr_summary(parsed.metadata.get("ocr"), settings)
            doc.pages = len(parsed.pages)
            doc.tokens = len(tokens)
            doc.chars = len(parsed.text)
            doc.media_type = parsed.media_type
            doc.status = DocumentStatus.ready
            doc.error = None
            doc.parsed_at = utcnow()
    shutil.rmtree(work_dir, ignore_errors=True)
    report("done", 1.0)
    return doc


def ocr_summary(info: dict | None, settings: Settings) -> dict | None:
    """The parse's OCR summary as the documents row keeps it, with the low-confidence pages named."""
    if not info or not (info.get("pages") or info.get("failed_pages")):
        return None
    out = dict(info)
    out["low_confidence_below"] = settings.ocr_low_confidence
    out["low_confidence_pages"] = [
        int(n)
        for n, conf in (info.get("page_confidence") or {}).items()
        if conf < settings.ocr_low_confidence
    ]
    return out


class _OcrProgress:
    """OCR progress -> the caller's callback and the documents row (at most once a second, and at the end)."""

    def __init__(self, settings: Settings, document_id: str, report: Progress):
        self.settings = settings
        self.document_id = document_id
        self.report = report
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        fraction = 0.1 + 0.5 * done / total if total else 0.1
        self.report("ocr", fraction)
        now = time.monotonic()
        if now - self.last < 1.0 and done < total:
            return
        self.last = now
        try:
            with session_scope(self.settings) as s:
                s.execute(
                    update(Document)
                    .where(Document.id == self.document_id, Document.status == DocumentStatus.parsing)
                    .values(parse_progress=fraction, parse_stage=f"OCR: {done} of {total} pages")
                    .execution_options(synchronize_session=False)
                )
        except Exception:  # progress is for people: never fail a parse over it
            log.warning("could not record the parse progress of %s", self.document_id, exc_info=True)


def _pause_parse(settings: Settings, document_id: str, done: int, total: int, seconds: float) -> Document:
    """Back to `queued` with the OCR progress kept; a slice that made progress is not a failed attempt."""
    with session_scope(settings) as s:
        s.execute(
            update(Document)
            .where(Document.id == document_id, Document.status == DocumentStatus.parsing)
            .values(
                status=DocumentStatus.queued,
                lease_expires_at=None,
                attempts=0,
                parse_seconds=seconds,
                parse_progress=0.1 + 0.5 * done / total if total else 0.1,
                parse_stage=f"OCR: {done} of {total} pages (continues in turn)",
                updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        return s.get(Document, document_id)


def _claim_parse(session: Session, settings: Settings, document_id: str) -> bool:
    """queued (or parsing with a lapsed lease) -> parsing under a fresh lease; False when another worker
    holds a live parse. A document whose parser stopped `job_max_attempts` times fails instead."""
    now = utcnow()
    claimable = and_(
        Document.id == document_id,
        or_(
            Document.status == DocumentStatus.queued,
            and_(
                Document.status == DocumentStatus.parsing,
                or_(Document.lease_expires_at.is_(None), Document.lease_expires_at < now),
            ),
        ),
    )
    attempts = session.scalar(select(Document.attempts).where(claimable))
    if attempts is None:
        return False
    if attempts >= settings.job_max_attempts:
        session.execute(
            update(Document)
            .where(claimable)
            .values(
                status=DocumentStatus.failed,
                lease_expires_at=None,
                error=(
                    f"the parser stopped {attempts} times on this document without finishing "
                    "(too large or malformed for the worker's limits?)"
                ),
            )
            .execution_options(synchronize_session=False)
        )
        return False
    result = session.execute(
        update(Document)
        .where(claimable)
        .values(
            status=DocumentStatus.parsing,
            attempts=Document.attempts + 1,
            lease_expires_at=now + timedelta(seconds=settings.job_lease_s),
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _renew_parse(settings: Settings, document_id: str) -> bool:
    with session_scope(settings) as s:
        result = s.execute(
            update(Document)
            .where(Document.id == document_id, Document.status == DocumentStatus.parsing)
            .values(lease_expires_at=utcnow() + timedelta(seconds=settings.job_lease_s))
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def reap_parses(settings: Settings) -> list[str]:
    """Documents whose parse lease lapsed (their worker died), and documents queued without a change for
    `queued_resend_s` (a lost message): the ids to send to ingest again. The next parse counts an attempt."""
    now = utcnow()
    stale = now - timedelta(seconds=settings.queued_resend_s)
    lapsed = and_(
        Document.status == DocumentStatus.parsing,
        or_(Document.lease_expires_at.is_(None), Document.lease_expires_at < now),
    )
    forgotten = and_(Document.status == DocumentStatus.queued, Document.updated_at < stale)
    ids: list[str] = []
    with session_scope(settings) as s:
        for doc_id in s.scalars(select(Document.id).where(or_(lapsed, forgotten))).all():
            # back to queued, touched: many reapers (and the next tick) send it once; the next parse claims it
            result = s.execute(
                update(Document)
                .where(Document.id == doc_id, or_(lapsed, forgotten))
                .values(status=DocumentStatus.queued, updated_at=now, lease_expires_at=None)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                ids.append(doc_id)
    if ids:
        log.warning("re-sending %d document(s) to ingest (worker lost or message lost)", len(ids))
    return ids


def add_file(
    path: Path, tenant_id: str, settings: Settings | None = None, *, actor: str = "cli"
) -> Registered:
    """Store a local file's bytes and register it (the CLI's upload path)."""
    settings = settings or get_settings()
    settings.ensure_dirs()
    blob = blob_store(settings).put_file(Path(path), max_bytes=settings.max_upload_bytes)
    detail = {"sha256": blob.sha256, "bytes": blob.size}
    return register_upload(settings, tenant_id, Path(path).name, blob, actor=actor, detail=detail)


def register_upload(
    settings: Settings,
    tenant_id: str,
    filename: str | None,
    blob: StoredBlob,
    *,
    actor: str,
    detail: dict,
) -> Registered:
    """`register_blob` in a transaction of its own, with the upload's audit entry (`detail`) when it created
    the document. Two identical uploads at once: the unique index on live content lets one insert win; the
    loser's flush raises `IntegrityError`, and it registers once more, finding the winner (a duplicate)."""
    try:
        return _register_audited(settings, tenant_id, filename, blob, actor, detail)
    except IntegrityError:
        return _register_audited(settings, tenant_id, filename, blob, actor, detail)


def _register_audited(
    settings: Settings, tenant_id: str, filename: str | None, blob: StoredBlob, actor: str, detail: dict
) -> Registered:
    with session_scope(settings) as s:
        reg = register_blob(s, tenant_id, filename, blob)
        if reg.created:
            repo.audit(
                s,
                tenant_id=tenant_id,
                actor=actor,
                action="upload",
                object_type="document",
                object_id=reg.document.id,
                detail=detail,
            )
        return reg


def delete_document(
    document_id: str, tenant_id: str, settings: Settings | None = None, *, actor: str = "cli"
) -> bool:
    """Remove a document, its pages and findings, and its blob when no other document shares the bytes.

    The row is first marked `deleting` (so readers see the state), then removed in a second transaction."""
    settings = settings or get_settings()
    with session_scope(settings) as s:
        doc = repo.get_document(s, tenant_id, document_id)
        if doc is None:
            return False
        doc.status = DocumentStatus.deleting
        sha, chars = doc.sha256, doc.chars
        text_key = _text_key(s, document_id) if doc.pages else None
    with session_scope(settings) as s:
        doc = s.get(Document, document_id)
        if doc is None:
            return True
        s.delete(doc)  # pages and findings go by ON DELETE CASCADE
        s.flush()
        shared = repo.blob_in_use(s, sha)
        text_shared = shared or (text_key is not None and _text_in_use(s, text_key, chars))
        repo.audit(
            s,
            tenant_id=tenant_id,
            actor=actor,
            action="delete",
            object_type="document",
            object_id=document_id,
        )
    if not shared:
        blob_store(settings).delete(sha)
        tokens_cache_path(settings, sha).unlink(missing_ok=True)
        shutil.rmtree(ocr_work_dir(settings, sha), ignore_errors=True)
    if text_key is not None and not text_shared:
        from longctx.analysis.state_cache import forget_states

        forget_states(settings.state_cache_dir, text_key)
    return True


def _text_key(session: Session, document_id: str) -> str:
    """The document state cache's key of a document: the sha256 of its reader text (pages + newlines)."""
    from longctx.analysis.state_cache import text_key_of_parts

    return text_key_of_parts(p.text + "\n" for p in repo.get_pages(session, document_id))


def _text_in_use(session: Session, text_key: str, chars: int | None) -> bool:
    """Whether another document (other bytes, e.g. the same text as PDF and as .txt) has this text: only
    documents of the same length are read."""
    if chars is None:
        return False
    others = session.scalars(
        select(Document.id).where(Document.chars == chars, Document.status == DocumentStatus.ready)
    ).all()
    return any(_text_key(session, other) == text_key for other in others)
