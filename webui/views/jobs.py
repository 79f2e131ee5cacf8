"""Jobs and batches: live progress, errors, retry; start a batch (documents x questions / schemas)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from webui import common
from webui.client import TERMINAL_JOB, Conflict

BATCHES = "batches"  # batch ids started or looked at in this session


def _jobs_table(jobs: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Job": [j["id"] for j in jobs],
            "Kind": [j.get("kind") for j in jobs],
            "Status": [common.status_text(j.get("status")) for j in jobs],
            "Stage": [j.get("stage") or "" for j in jobs],
            "Progress": [float(j.get("progress") or 0.0) for j in jobs],
            "ETA (s)": pd.array([j.get("eta_seconds") for j in jobs], dtype="Float64"),
            "Error": [j.get("error") or "" for j in jobs],
            "Created": [common.when(j.get("created_at")) for j in jobs],
            "Finished": [common.when(j.get("finished_at")) for j in jobs],
            "Batch": [j.get("batch_id") or "" for j in jobs],
        }
    )


def _jobs_panel() -> None:
    api = common.client()
    listing = api.list_jobs(limit=100)
    jobs = listing["items"]
    active = [j for j in jobs if j.get("status") not in TERMINAL_JOB]
    failed = [j for j in jobs if j.get("status") in ("failed", "cancelled")]
    cols = st.columns(4)
    cols[0].metric("Jobs", listing.get("total", len(jobs)), border=True)
    cols[1].metric("Running / queued", len(active), border=True)
    cols[2].metric("Succeeded", sum(j.get("status") == "succeeded" for j in jobs), border=True)
    cols[3].metric("Failed", len(failed), border=True)
    if not jobs:
        common.empty_state(
            "No jobs yet. Questions, extractions and batches show up here.", "ask", "Ask a question"
        )
    else:
        st.dataframe(
            _jobs_table(jobs),
            hide_index=True,
            width="stretch",
            key="jobs_table",
            column_config={
                "Progress": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="percent"),
                "ETA (s)": st.column_config.NumberColumn(format="%.0f"),
                "Created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
                "Finished": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
                "Error": st.column_config.TextColumn(width="large"),
            },
        )
    if failed:
        st.markdown("##### Failed jobs")
        for j in failed[:20]:
            with st.container(border=True):
                left, right = st.columns([6, 1], vertical_alignment="center")
                left.markdown(
                    f"**{j.get('kind')}** job `{j['id']}` — {common.status_text(j.get('status'))}  \n"
                    f"{j.get('error') or 'no reason given'}"
                )
                if right.button("Retry", key=f"retry_{j['id']}", icon=":material/replay:"):
                    try:
                        api.retry_job(j["id"])
                        st.toast(f"Job {j['id']} queued again")
                    except Conflict as exc:
                        st.warning(exc.detail)
                    st.session_state["_jobs_polling"] = True
                    st.rerun(scope="app")
    batch_ids = list(
        dict.fromkeys(
            [b for b in st.session_state.get(BATCHES, [])]
            + [j["batch_id"] for j in jobs if j.get("batch_id")]
        )
    )
    if batch_ids:
        st.subheader("Batches")
        for bid in batch_ids[:10]:
            batch = api.get_batch(bid)
            with st.container(border=True):
                counts = ", ".join(f"{n} {s}" for s, n in sorted(batch.get("counts", {}).items()))
                st.markdown(
                    f"**{batch.get('name') or 'batch'}** `{bid}` — {batch.get('total', 0)} job(s): {counts}"
                )
                st.progress(float(batch.get("progress") or 0.0))
                errors = [j for j in batch.get("jobs", []) if j.get("error")]
                for j in errors[:5]:
                    st.caption(f":material/error: job `{j['id']}`: {j['error']}")
    still_active = bool(active)
    if st.session_state.get("_jobs_polling") and not still_active:
        st.session_state["_jobs_polling"] = False
        st.rerun(scope="app")
    if still_active and not st.session_state.get("_jobs_polling"):
        st.session_state["_jobs_polling"] = True
        st.rerun(scope="app")


def _new_batch() -> None:
    api = common.client()
    docs = common.ready_documents()
    with st.expander("Start a batch", icon=":material/playlist_add:"):
        if not docs:
            st.caption("Upload documents first.")
            return
        labels = common.document_labels(docs)
        with st.form("batch_form", border=False):
            name = st.text_input("Batch name", value="batch", key="batch_name")
            chosen = st.multiselect(
                "Documents",
                list(labels),
                format_func=labels.get,
                key="batch_docs",
            )
            questions = st.text_area("Questions (one per line)", key="batch_questions")
            schemas = st.multiselect(
                "Extraction schemas", [s["name"] for s in api.schemas()], key="batch_schemas"
            )
            go = st.form_submit_button("Start batch", type="primary", icon=":material/play_arrow:")
        if go:
            qs = [q.strip() for q in questions.splitlines() if q.strip()]
            if not chosen or not (qs or schemas):
                st.error("Choose documents and at least one question or schema.")
                return
            result = api.create_batch(name.strip() or "batch", chosen, questions=qs, schemas=schemas)
            st.session_state.setdefault(BATCHES, []).insert(0, result["batch_id"])
            st.session_state["_jobs_polling"] = True
            st.rerun()


def render() -> None:
    st.title("Jobs & batches")
    st.caption("Every question, extraction and batch runs as a job on the workers; progress updates live.")
    common.guarded(_new_batch)()
    polling = st.session_state.get("_jobs_polling", False)
    st.fragment(run_every=2.0 if polling else None)(common.guarded(_jobs_panel))()
