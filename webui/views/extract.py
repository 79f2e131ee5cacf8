"""Extract key terms with a schema (contract / report); compare documents side by side; export."""

from __future__ import annotations

import streamlit as st

from webui import common, export
from webui.views import jobs
from webui.views.ask import show_citation

JOB = "extract_job"  # {"id", "schema", "documents"}
CACHE = "_extract_cache"  # job id -> findings; ("export", job id, "csv" | "json") -> the API's file


def _results(findings: list[dict], job: dict) -> None:
    if not findings:
        st.warning("The extraction finished without findings.")
        return
    top = export.best_findings(findings)
    found = sum(1 for f in top if f.get("answer"))
    docs = list(dict.fromkeys(f["document_id"] for f in top))
    cols = st.columns(3)
    cols[0].metric("Documents", len(docs), border=True)
    cols[1].metric("Fields", len({f.get("query_index") for f in top}), border=True)
    cols[2].metric("Terms found", f"{found} / {len(top)}", border=True)

    st.subheader("Key terms side by side")
    st.caption("Best answer per field and document, with its page. Open a document below for every citation.")
    st.dataframe(export.comparison_frame(findings, docs), width="stretch", key="extract_compare")

    a, b, c, _ = st.columns([1, 1, 1, 3])
    stem = f"key-terms-{job['id']}"
    cache = st.session_state.setdefault(CACHE, {})
    a.download_button(
        "Export CSV",
        jobs.export_file(cache, job["id"], "csv"),
        f"{stem}.csv",
        "text/csv",
        icon=":material/download:",
        key="extract_csv",
    )
    b.download_button(
        "Export JSON",
        jobs.export_file(cache, job["id"], "json"),
        f"{stem}.json",
        "application/json",
        icon=":material/download:",
        key="extract_json",
    )
    c.download_button(
        "Export Excel",
        export.to_excel(findings),
        f"{stem}.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        icon=":material/download:",
        key="extract_xlsx",
    )

    st.subheader("Citations per document")
    for doc_id in docs:
        rows = [f for f in top if f["document_id"] == doc_id]
        name = rows[0].get("filename") or doc_id
        with st.expander(f"{name} — {sum(1 for r in rows if r.get('answer'))} of {len(rows)} terms found"):
            table = [
                {
                    "Field": export.field_label(r),
                    "Answer": ((r.get("detail") or {}).get("answer") or r.get("answer") or export.NO_ANSWER),
                    "Row / column": (
                        f"computed: {r.get('formula')}"
                        if r.get("computed")
                        else f"{r.get('row_label')} | {r.get('column_header')}"
                        if r.get("row_label")
                        else ""
                    ),
                    "Period": r.get("period") or "",
                    "Page": r.get("page"),
                    "Score": r.get("score"),
                    "Passage": (r.get("passage") or "").replace("\n", " ")[:300],
                }
                for r in sorted(rows, key=lambda r: r.get("query_index") or 0)
            ]
            st.dataframe(
                table,
                hide_index=True,
                width="stretch",
                column_config={"Score": st.column_config.NumberColumn(format="%.3f")},
            )
            answered = [r for r in rows if r.get("answer") and r.get("page")]
            if answered:
                labels = {
                    i: f"{export.field_label(r)}: {r['answer'][:60]} (p. {r['page']})"
                    for i, r in enumerate(answered)
                }
                pick = st.selectbox(
                    "Show citation", list(labels), format_func=labels.get, key=f"cite_{doc_id}"
                )
                show_citation(answered[pick], key=f"extract_{doc_id}")


def _job_panel() -> None:
    ref = st.session_state.get(JOB)
    if not ref:
        return
    api = common.client()
    job = api.get_job(ref["id"])
    label = f"Extracting with the {ref['schema']} schema"
    if common.job_still_running(job, label, job["status"], "_extract_polling"):
        jobs.show_running(job, key="extract", polling_key="_extract_polling")
        return
    if job["status"] != "succeeded":
        jobs.show_problem(job, "The extraction", key="extract_outcomes")
        jobs.retry_button(job, key="extract_retry", polling_key="_extract_polling")
        return
    jobs.show_failed_documents(job, key="extract_outcomes")
    cache = st.session_state.setdefault(CACHE, {})
    if job["id"] not in cache:
        cache[job["id"]] = api.findings(job["id"])
    _results(cache[job["id"]], job)


def render() -> None:
    st.title("Extract key terms")
    api = common.client()
    docs = common.ready_documents()
    if not docs:
        common.empty_state(
            "No ready documents yet. Upload contracts or reports first.", "upload", "Upload documents"
        )
        return
    schemas = {s["name"]: s for s in api.schemas()}
    if not schemas:
        st.warning("The service offers no extraction schemas.")
        return
    labels = common.document_labels(docs)
    with st.container(border=True):
        left, right = st.columns([1, 3])
        schema = left.selectbox(
            "Schema",
            list(schemas),
            key="extract_schema",
            format_func=lambda s: f"{s} ({len(schemas[s]['fields'])} fields)",
        )
        chosen = right.multiselect(
            "Documents",
            list(labels),
            default=[d["id"] for d in docs[:3]],
            format_func=labels.get,
            key="extract_docs",
            placeholder="Choose the documents to compare",
        )
        submitted = st.button(
            "Extract key terms", type="primary", icon=":material/table_view:", key="extract_go"
        )
    with st.expander("Fields in the selected schema"):
        st.dataframe(
            [
                {"Field": f["key"], "Question": f["question"], "Description": f.get("description", "")}
                for f in schemas[schema]["fields"]
            ],
            hide_index=True,
            width="stretch",
        )
    if submitted:
        if not chosen:
            st.error("Choose at least one document.")
        else:
            result = api.extract(chosen, schema)
            st.session_state[JOB] = {"id": result["job_id"], "schema": schema, "documents": chosen}
            st.session_state["_extract_polling"] = True
    if not st.session_state.get(JOB):
        st.caption(
            "Pick a schema and documents; the result is a table of key terms per document, with citations."
        )
        return
    polling = st.session_state.get("_extract_polling", False)
    st.fragment(run_every=1.5 if polling else None)(common.guarded(_job_panel))()
