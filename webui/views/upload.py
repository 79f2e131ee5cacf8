"""Upload many files at once and follow each: uploading -> queued -> parsing -> ready / failed (reason)."""

from __future__ import annotations

import streamlit as st

from webui import common
from webui.client import TERMINAL_DOCUMENT, ApiError, ApiUnavailable, TooLarge

UPLOADS = "uploads"  # list of dicts: name, id, status, error, pages, tokens, bytes, duplicate
STAGE_PROGRESS = {
    "uploading": 0.1,
    "queued": 0.3,
    "parsing": 0.65,
    "ready": 1.0,
    "failed": 1.0,
    "deleting": 1.0,
}
STAGE_TEXT = {
    "uploading": "Uploading…",
    "queued": "Uploaded — waiting for a parser",
    "parsing": "Parsing pages and tokens…",
    "ready": "Ready",
    "failed": "Failed",
    "deleting": "Deleted",
}


def _uploads() -> list[dict]:
    return st.session_state.setdefault(UPLOADS, [])


def _send(files: list) -> None:
    api = common.client()
    rows = _uploads()
    bar = st.progress(0.0, text="Uploading…")
    for i, f in enumerate(files):
        bar.progress(i / len(files), text=f"Uploading {i + 1} of {len(files)}: {f.name}")
        row = {"name": f.name, "id": None, "status": "uploading", "error": None, "bytes": f.size}
        rows.insert(0, row)
        try:
            result = api.upload(f.name, f.getvalue(), f.type or None)
        except TooLarge as exc:
            row.update(status="failed", error=f"File too big: {exc.detail}")
            continue
        except ApiUnavailable:
            row.update(status="failed", error="The API is not reachable; nothing was stored.")
            raise
        except ApiError as exc:
            row.update(status="failed", error=exc.detail)
            continue
        row.update(id=result["id"], status=result["status"], duplicate=result.get("duplicate", False))
        if result.get("duplicate"):
            row["note"] = "Already uploaded — the existing document is shown."
    bar.progress(1.0, text=f"Uploaded {len(files)} file(s); parsing continues in the background.")


def _refresh() -> bool:
    """Poll the API for every unfinished upload; True when all are finished."""
    api = common.client()
    done = True
    for row in _uploads():
        if row["id"] and row["status"] not in TERMINAL_DOCUMENT:
            doc = api.get_document(row["id"])
            row.update(
                status=doc["status"],
                error=doc.get("error"),
                pages=doc.get("pages"),
                tokens=doc.get("tokens"),
                progress=doc.get("progress"),
                stage=doc.get("stage"),
                ocr=doc.get("ocr"),
            )
        elif row["id"] and row.get("pages") is None and row["status"] == "ready":
            doc = api.get_document(row["id"])
            row.update(pages=doc.get("pages"), tokens=doc.get("tokens"), ocr=doc.get("ocr"))
        done = done and row["status"] in TERMINAL_DOCUMENT
    return done


def _row(row: dict) -> None:
    status = row["status"]
    with st.container(border=True, key=f"upload_row_{row.get('id') or row['name']}"):
        name, state = st.columns([5, 2], vertical_alignment="center")
        name.markdown(
            f"**{row['name']}**  \n<span class='lc-muted'>{common.human_bytes(row.get('bytes'))}"
            f"{' · id ' + row['id'] if row.get('id') else ''}</span>",
            unsafe_allow_html=True,
        )
        with state:
            common.badge(status, STAGE_TEXT.get(status, status))
        if status == "failed":
            st.error(
                f"{row['name']}: {row.get('error') or 'failed without a reason'}", icon=":material/error:"
            )
        elif status == "ready":
            st.progress(
                1.0, text=f"Ready — {row.get('pages') or '?'} pages, {row.get('tokens') or '?'} tokens"
            )
            ocr = row.get("ocr") or {}
            if ocr.get("pages"):
                low = ocr.get("low_confidence_pages") or []
                st.caption(
                    f"{len(ocr['pages'])} scanned page(s) read by OCR, mean confidence "
                    f"{ocr.get('confidence') or 0:.0f}/100"
                    + (f"; low confidence on page(s) {', '.join(map(str, low))}" if low else "")
                )
        elif row.get("progress") is not None:  # OCR of a scan: pages done so far
            st.progress(float(row["progress"]), text=row.get("stage") or STAGE_TEXT.get(status, status))
        else:
            st.progress(STAGE_PROGRESS.get(status, 0.2), text=STAGE_TEXT.get(status, status))
        if row.get("note"):
            st.caption(row["note"])


def _progress_panel() -> None:
    rows = _uploads()
    if not rows:
        return
    all_done = _refresh()
    ready = sum(r["status"] == "ready" for r in rows)
    failed = sum(r["status"] == "failed" for r in rows)
    cols = st.columns(4)
    cols[0].metric("Files this session", len(rows), border=True)
    cols[1].metric("Ready", ready, border=True)
    cols[2].metric("In progress", len(rows) - ready - failed, border=True)
    cols[3].metric("Failed", failed, border=True)
    for row in rows:
        _row(row)
    if all_done and st.session_state.get("_upload_polling"):
        st.session_state["_upload_polling"] = False
        st.rerun(scope="app")  # stop polling


def render() -> None:
    st.title("Upload documents")
    st.caption(
        "PDF, DOCX, TXT or Markdown. Each file is stored, then parsed into pages and tokens in the "
        "background; a file that cannot be read fails on its own with the reason."
    )
    generation = st.session_state.setdefault("_uploader_gen", 0)
    files = st.file_uploader(
        "Choose files",
        type=["pdf", "docx", "txt", "md", "markdown", "text"],
        accept_multiple_files=True,
        key=f"uploader_{generation}",
    )
    left, right = st.columns([1, 4])
    send = left.button(
        f"Upload {len(files)} file(s)" if files else "Upload",
        type="primary",
        disabled=not files,
        icon=":material/cloud_upload:",
        key="upload_button",
    )
    if _uploads() and right.button("Clear list", icon=":material/clear_all:", key="clear_uploads"):
        st.session_state[UPLOADS] = []
        st.rerun()
    if send and files:
        _send(list(files))
        st.session_state["_uploader_gen"] = generation + 1
        st.session_state["_upload_polling"] = True
        st.rerun()

    rows = _uploads()
    if not rows:
        common.empty_state("No uploads in this session yet. Choose one or more files above.")
        return
    st.subheader("Progress")
    pending = any(r["status"] not in TERMINAL_DOCUMENT for r in rows)
    st.session_state["_upload_polling"] = pending
    st.fragment(run_every=1.0 if pending else None)(common.guarded(_progress_panel))()
    if any(r["status"] == "ready" for r in rows):
        common.empty_state("Documents are ready: ask questions about them.", "ask", "Ask a question")
