"""Ask questions of one or more documents; read ranked answers with the cited passage and the PDF page."""

from __future__ import annotations

import io

import streamlit as st

from webui import common
from webui.client import ApiError, Finding
from webui.highlight import answer_span_in_page, mark_html, render_highlight, render_ocr_highlight
from webui.views import jobs

JOB = "ask_job"  # {"id", "question", "documents"}
CACHE = "_ask_cache"  # (kind, ...) -> value, e.g. ("export", job id, "csv"); per browser session
EXAMPLES = [
    "Which state's law governs this agreement?",
    "Who are the parties to the agreement?",
    "When does the agreement expire?",
    "Can either party terminate for convenience?",
]


def _cache() -> dict:
    return st.session_state.setdefault(CACHE, {})


def _content(document_id: str) -> bytes:
    key = ("content", document_id)
    cache = _cache()
    if key not in cache:
        cache[key] = common.client().get_content(document_id)
    return cache[key]


def _document(document_id: str) -> dict:
    key = ("doc", document_id)
    cache = _cache()
    if key not in cache:
        cache[key] = common.client().get_document(document_id)
    return cache[key]


def _page(document_id: str, number: int) -> dict:
    key = ("page", document_id, number)
    cache = _cache()
    if key not in cache:
        cache[key] = common.client().get_page(document_id, number)
    return cache[key]


def _words(document_id: str, number: int) -> dict:
    """The page's OCR words (empty for text-layer pages), once per session."""
    key = ("words", document_id, number)
    cache = _cache()
    if key not in cache:
        cache[key] = common.client().get_page_words(document_id, number)
    return cache[key]


def _page_images(f: Finding) -> tuple[bytes, bytes, str | None]:
    """(full page PNG, zoomed band PNG, what is marked) for a finding, rendered once per session.

    A page read by OCR (a scan) has no text for pdfium to find: its OCR word boxes, from the API, mark the
    answer instead."""
    key = ("image", f["document_id"], f["page"], f.get("char_start"), f.get("char_end"))
    cache = _cache()
    if key not in cache:
        offset = None
        if f.get("passage_start") is not None and f.get("char_start") is not None:
            offset = f["char_start"] - f["passage_start"]
        number = int(f["page"])
        words = _words(f["document_id"], number) if f.get("ocr_confidence") is not None else None
        if words and words.get("ocr"):
            page = _page(f["document_id"], number)
            span = answer_span_in_page(
                page["char_start"], page["text"], f.get("char_start"), f.get("char_end")
            )
            shot = render_ocr_highlight(
                _content(f["document_id"]),
                number,
                page["text"],
                words["words"],
                span,
                f.get("answer"),
                f.get("passage"),
                offset,
            )
        else:
            shot = render_highlight(
                _content(f["document_id"]), number, f.get("answer"), f.get("passage"), offset
            )
        pngs = []
        for image in (shot.image, shot.zoom()):
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            pngs.append(buffer.getvalue())
        cache[key] = (pngs[0], pngs[1], shot.matched)
    return cache[key]


def show_citation(f: Finding, *, key: str) -> None:
    """The cited passage (answer marked in its page text) beside the rendered page with the answer boxed."""
    text_col, image_col = st.columns([1, 1], gap="large")
    page = _page(f["document_id"], int(f["page"])) if f.get("page") else None
    doc = _document(f["document_id"])
    images = None
    problem = None
    if (doc.get("media_type") or "").lower() == "application/pdf":
        try:
            images = _page_images(f)
        except ApiError as exc:
            problem = f"Could not load the original file: {exc.detail}"
        except Exception as exc:  # a PDF pdfium cannot render: the text citation still stands
            problem = f"Could not render page {f.get('page')}: {exc}"
    with text_col:
        st.markdown(f"**Cited passage** · page {f.get('page')}")
        if page is not None:
            start, end = answer_span_in_page(
                page["char_start"], page["text"], f.get("char_start"), f.get("char_end")
            )
            snippet = mark_html(page["text"], start, end, window=450)
            st.markdown(f"<div class='lc-passage'>{snippet}</div>", unsafe_allow_html=True)
            with st.expander(f"Full text of page {page['number']}"):
                full = mark_html(page["text"], start, end)
                st.markdown(f"<div class='lc-passage'>{full}</div>", unsafe_allow_html=True)
        elif f.get("passage"):
            st.markdown(
                f"<div class='lc-passage'>{mark_html(f['passage'], None, None)}</div>", unsafe_allow_html=True
            )
        if f.get("ocr_confidence") is not None:
            st.caption(
                f"Read by OCR from the scanned page (mean word confidence {f['ocr_confidence']:.0f}/100); "
                "the highlight is drawn from the OCR word boxes."
            )
        if images is not None and images[2]:
            st.markdown("**On the page**")
            st.image(images[1], width="stretch", output_format="PNG")
    with image_col:
        if problem:
            st.warning(problem)
            return
        if images is None:
            st.caption("The page image is shown for PDF documents only.")
            return
        caption = {
            "answer": f"Page {f['page']} of {doc.get('pages') or '?'} — the answer is highlighted",
            "passage": f"Page {f['page']} — the cited passage is highlighted (answer not located exactly)",
        }.get(
            images[2] or "", f"Page {f['page']} — the answer's location could not be found on the drawn page"
        )
        st.image(images[0], caption=caption, width="stretch", output_format="PNG")


def show_findings(findings: list[Finding], *, key: str) -> None:
    answered = sorted((f for f in findings if f.get("answer")), key=lambda f: -(f.get("score") or 0.0))
    unanswered = {f["document_id"]: f for f in findings if not f.get("answer")}
    answered_docs = {f["document_id"] for f in answered}
    if not answered:
        st.warning(
            "**No answer found** in the selected document(s). Try rephrasing the question or choose "
            "other documents.",
            icon=":material/search_off:",
        )
        return
    st.subheader(f"{len(answered)} answer(s), best first")
    for i, f in enumerate(answered, 1):
        with st.container(border=True, key=f"{key}_answer_{i}"):
            head, score = st.columns([5, 1], vertical_alignment="center")
            head.markdown(f"#### #{i} · {f.get('filename')} · page {f.get('page')}")
            score.metric("Score", f"{f.get('score') or 0:.3f}", label_visibility="visible")
            st.markdown(
                f"<div class='lc-answer-text' data-testid='lc-answer'>{mark_html(f['answer'], None, None)}"
                "</div>",
                unsafe_allow_html=True,
            )
            if f.get("warning"):
                st.warning(f["warning"], icon=":material/document_scanner:")
            if f.get("row_label"):
                _table_answer(f)
            if f.get("page"):
                show_citation(f, key=f"{key}_{i}")
    for doc_id, f in unanswered.items():
        if doc_id not in answered_docs:
            st.info(f"No answer found in **{f.get('filename')}**.", icon=":material/search_off:")


def _table_answer(f: dict) -> None:
    """Where a figure came from: the table cell's row and column labels and period, or the formula and every
    cited input of a computed figure (never shown as extracted)."""
    detail = f.get("detail") or {}
    if f.get("computed"):
        st.markdown(f"**Computed** from the cited cells: `{f.get('formula')}`")
        rows = [
            {
                "Row": i.get("row_label"),
                "Column": i.get("column_header"),
                "Value": i.get("value_text"),
                "Page": i.get("page"),
            }
            for i in detail.get("inputs") or []
        ]
        st.dataframe(rows, hide_index=True, width="stretch")
        return
    table = (detail.get("table") or {}).get("title") or "table"
    st.markdown(
        f"**From the table** “{table}” (page {f.get('page')}): row **{f.get('row_label')}**, column "
        f"**{f.get('column_header') or f.get('period')}** — {detail.get('answer') or f.get('answer')} "
        f"({f.get('period')}; printed in {f.get('scale')})"
    )


def _job_panel() -> None:
    job_ref = st.session_state.get(JOB)
    if not job_ref:
        return
    api = common.client()
    job = api.get_job(job_ref["id"])
    st.markdown(f"**Question:** {job_ref['question']}")
    if common.job_still_running(job, common.status_text(job["status"]), "waiting", "_ask_polling"):
        jobs.show_running(job, key="ask", polling_key="_ask_polling")
        return
    if job["status"] != "succeeded":
        jobs.show_problem(job, "Answering the question", key="ask_outcomes")
        jobs.retry_button(job, key="ask_retry", polling_key="_ask_polling")
        return
    jobs.show_failed_documents(job, key="ask_outcomes")
    cache = _cache()
    if ("findings", job["id"]) not in cache:
        cache[("findings", job["id"])] = api.findings(job["id"])
    findings = cache[("findings", job["id"])]
    show_findings(findings, key="ask")
    if findings:
        a, b, _ = st.columns([1, 1, 4])
        a.download_button(
            "Answers as CSV",
            jobs.export_file(cache, job["id"], "csv"),
            f"answers-{job['id']}.csv",
            "text/csv",
            icon=":material/download:",
            key="ask_csv",
        )
        b.download_button(
            "Answers as JSON",
            jobs.export_file(cache, job["id"], "json"),
            f"answers-{job['id']}.json",
            "application/json",
            icon=":material/download:",
            key="ask_json",
        )


def render() -> None:
    st.title("Ask a question")
    docs = common.ready_documents()
    if not docs:
        common.empty_state(
            "No ready documents yet. Upload a contract or report first.", "upload", "Upload documents"
        )
        return
    labels = common.document_labels(docs)
    with st.form("ask_form", border=True):
        chosen = st.multiselect(
            "Documents",
            list(labels),
            default=[docs[0]["id"]],
            format_func=labels.get,
            key="ask_docs",
            placeholder="Choose one or more ready documents",
        )
        question = st.text_area(
            "Question",
            key="ask_question",
            height=80,
            placeholder=EXAMPLES[0],
            help="Examples: " + " · ".join(EXAMPLES),
        )
        top_k = st.slider("Answers per document", 1, 10, 3, key="ask_top_k")
        submitted = st.form_submit_button("Ask", type="primary", icon=":material/send:")
    if submitted:
        if not chosen:
            st.error("Choose at least one document.")
        elif not question.strip():
            st.error("Type a question.")
        else:
            result = common.client().ask(chosen, [question.strip()], top_k)
            st.session_state[JOB] = {
                "id": result["job_id"],
                "question": question.strip(),
                "documents": chosen,
            }
            st.session_state["_ask_polling"] = True
    if not st.session_state.get(JOB):
        st.caption(
            "Answers are extracted from the documents and cited to the page and characters they came from."
        )
        return
    polling = st.session_state.get("_ask_polling", False)
    st.fragment(run_every=1.0 if polling else None)(common.guarded(_job_panel))()
