"""/v1/documents: upload (streamed, capped), list, get, pages, content, delete; scoped to the tenant."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from longctx.api.auth import Caller, authenticate
from longctx.api.schemas import (
    DocumentAccepted,
    DocumentList,
    DocumentOut,
    ErrorBody,
    PageOut,
    PageWordsOut,
)
from longctx.api.uploads import receive_file
from longctx.broker import dispatch
from longctx.core.metrics import UPLOAD_BYTES, UPLOADS
from longctx.core.timestamps import iso
from longctx.documents import blob_store, display_name, register_upload
from longctx.storage import repositories as repo
from longctx.storage.models import Document, DocumentStatus
from longctx.storage.session import session_scope

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/documents", tags=["documents"])
Auth = Annotated[Caller, Depends(authenticate)]
NOT_FOUND = {404: {"model": ErrorBody, "description": "No such document in your tenant."}}


def doc_out(doc: Document) -> dict:
    return {
        "id": doc.id,
        "filename": doc.filename,
        "media_type": doc.media_type,
        "bytes": doc.bytes,
        "sha256": doc.sha256,
        "pages": doc.pages,
        "tokens": doc.tokens,
        "status": doc.status.value,
        "error": doc.error,
        "created_at": iso(doc.created_at),
        "updated_at": iso(doc.updated_at),
        "parsed_at": iso(doc.parsed_at),
        "progress": doc.parse_progress,
        "stage": doc.parse_stage,
        "ocr": doc.ocr,
    }


def _owned_document(s: Session, caller: Caller, document_id: str, *, live: bool = False) -> Document:
    """The caller's document, or 404 (another tenant's looks exactly like a missing one).
    `live` also treats a document being deleted as gone."""
    doc = repo.get_document(s, caller.tenant_id, document_id)
    if doc is None or (live and doc.status is DocumentStatus.deleting):
        raise HTTPException(404, f"document {document_id} not found")
    return doc


def _enqueue(fn, *args) -> None:  # noqa: ANN001
    try:
        fn(*args)
    except Exception as exc:
        log.exception("enqueue failed")
        raise HTTPException(503, "the work queue is unavailable; retry the request in a moment") from exc


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.post(
    "",
    status_code=202,
    response_model=DocumentAccepted,
    openapi_extra=UPLOAD_BODY,
    responses={413: {"model": ErrorBody, "description": "Past LONGCTX_MAX_UPLOAD_BYTES; nothing stored."}},
    summary="Upload one document (multipart field `file`); parsing runs on the cpu queue.",
)
async def upload_document(request: Request, caller: Auth) -> dict:
    settings = request.app.state.settings
    store = blob_store(settings)
    try:
        up = await receive_file(request, store, settings.max_upload_bytes)
    except HTTPException as exc:
        UPLOADS.labels(outcome="too_large" if exc.status_code == 413 else "rejected").inc()
        raise

    def register() -> tuple[dict, bool]:
        detail = {"sha256": up.blob.sha256, "bytes": up.blob.size, "filename": display_name(up.filename)}
        try:
            reg = register_upload(
                settings, caller.tenant_id, up.filename, up.blob, actor=caller.actor, detail=detail
            )
            return doc_out(reg.document), reg.created
        except IntegrityError:
            raise  # the blob is the winner's too: keep it
        except Exception:
            with session_scope(settings) as s:
                orphan = not repo.blob_in_use(s, up.blob.sha256)
            if orphan:
                store.delete(up.blob.sha256)
            raise

    doc, created = await run_in_threadpool(register)
    UPLOADS.labels(outcome="accepted" if created else "duplicate").inc()
    if created:
        UPLOAD_BYTES.inc(up.blob.size)
    if doc["status"] == DocumentStatus.queued.value:
        # New, or a duplicate whose earlier enqueue failed: the ingest task is idempotent either way.
        await run_in_threadpool(_enqueue, dispatch.enqueue_ingest, doc["id"], settings)
    return {
        "id": doc["id"],
        "filename": doc["filename"],
        "status": doc["status"],
        "sha256": doc["sha256"],
        "bytes": doc["bytes"],
        "duplicate": not created,
    }


@router.get("", response_model=DocumentList, summary="The tenant's documents, newest first.")
def list_documents(
    request: Request,
    caller: Auth,
    status: Annotated[DocumentStatus | None, Query(description="Only documents in this status.")] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Filename substring, case-insensitive; `%` and `_` are literal."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict:
    with session_scope(request.app.state.settings) as s:
        docs, total = repo.list_documents(
            s, caller.tenant_id, status=status, query=q, limit=limit, offset=offset
        )
        return {"items": [doc_out(d) for d in docs], "total": total, "limit": limit, "offset": offset}


@router.get("/{document_id}", response_model=DocumentOut, responses=NOT_FOUND)
def get_document(request: Request, caller: Auth, document_id: str) -> dict:
    with session_scope(request.app.state.settings) as s:
        doc = _owned_document(s, caller, document_id)
        return doc_out(doc)


@router.get("/{document_id}/pages/{number}", response_model=PageOut, responses=NOT_FOUND)
def get_page(request: Request, caller: Auth, document_id: str, number: int) -> dict:
    with session_scope(request.app.state.settings) as s:
        doc = _owned_document(s, caller, document_id)
        page = repo.get_page(s, document_id, number)
        if page is None:
            raise HTTPException(
                404, f"document {document_id} has no page {number} (status {doc.status.value})"
            )
        return {
            "document_id": document_id,
            "number": page.number,
            "char_start": page.char_start,
            "char_end": page.char_end,
            "text": page.text,
        }


@router.get(
    "/{document_id}/pages/{number}/words",
    response_model=PageWordsOut,
    responses=NOT_FOUND,
    summary="A page's OCR words with their character offsets and boxes (empty for text-layer pages).",
)
def get_page_words(request: Request, caller: Auth, document_id: str, number: int) -> dict:
    settings = request.app.state.settings
    with session_scope(settings) as s:
        doc = _owned_document(s, caller, document_id)
        page = repo.get_page(s, document_id, number)
        if page is None:
            raise HTTPException(
                404, f"document {document_id} has no page {number} (status {doc.status.value})"
            )
        data = page.ocr_words or {}
        conf = page.ocr_confidence
        return {
            "document_id": document_id,
            "number": page.number,
            "ocr": conf is not None,
            "confidence": conf,
            "low_confidence": conf is not None and conf < settings.ocr_low_confidence,
            "words": [
                {"start": w[0], "end": w[1], "box": w[2:6], "confidence": w[6]} for w in data.get("words", [])
            ],
        }


@router.get(
    "/{document_id}/content",
    responses=NOT_FOUND,
    response_class=FileResponse,
    summary="The original bytes, with the document's media type.",
)
def get_content(request: Request, caller: Auth, document_id: str) -> FileResponse:
    settings = request.app.state.settings
    with session_scope(settings) as s:
        doc = _owned_document(s, caller, document_id, live=True)
        sha, media_type, filename = doc.sha256, doc.media_type, doc.filename
    path = blob_store(settings).path_for(sha)
    if not path.is_file():
        raise HTTPException(404, f"the original bytes of document {document_id} are missing")
    return FileResponse(path, media_type=media_type, filename=filename)


@router.delete(
    "/{document_id}",
    status_code=202,
    responses=NOT_FOUND,
    summary="Delete a document, its pages, findings and (when unshared) its bytes.",
)
def delete_document(request: Request, caller: Auth, document_id: str) -> dict:
    settings = request.app.state.settings
    with session_scope(settings) as s:
        doc = _owned_document(s, caller, document_id)
        doc.status = DocumentStatus.deleting
        repo.audit(
            s,
            tenant_id=caller.tenant_id,
            actor=caller.actor,
            action="delete_requested",
            object_type="document",
            object_id=document_id,
        )
    try:
        dispatch.enqueue_delete(document_id, caller.tenant_id, caller.actor, settings)
    except Exception:
        log.warning("could not enqueue the deletion of %s; deleting inline", document_id, exc_info=True)
        from longctx.documents import delete_document as remove

        remove(document_id, caller.tenant_id, settings, actor=caller.actor)
    return {"id": document_id, "status": "deleting"}
