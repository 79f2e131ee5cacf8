"""Jobs and batches: live progress, cancel, errors, retry, per-document outcomes; start a batch.

The job widgets here (cancel / retry buttons, the error with its code, the per-document outcome table) are
shared with the Ask and Extract pages, which show the one job they started.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from webui import common
from webui.client import CANCELLABLE_JOB, RETRYABLE_JOB, TERMINAL_JOB, Conflict, DocumentOutcome, Job

BATCHES = "batches"  # batch ids started or looked at in this session
ERROR_CODES = {
    "cancelled": "cancelled",
    "worker_lost": "the worker running it stopped",
    "reader_unavailable": "the reader model is unavailable",
    "no_document_analyzed": "no document could be analyzed",
    "queue_unavailable": "the work queue was unavailable",
}
OUTCOME_STATUS = {
    "failed": "❌ failed",
    "waiting": "⏳ waiting (parsing)",
    "pending": "… pending",
    "ok": "✅ ok",
}
OUTCOME_ORDER = list(OUTCOME_STATUS)  # failed first: visible at a glance


# ---- job widgets shared with the Ask and Extract pages -----------------------------------------------------
def error_text(job: Job) -> str:
    """The job's error for people, with its code: "reason (`code`)"; "" when it has none."""
    error, code = job.get("error"), job.get("error_code")
    if not code:
        return error or ""
    text = error or ERROR_CODES.get(code, code)
    return text if text == code else f"{text} (`{code}`)"


def attempts_text(job: Job) -> str:
    """Say "3 attempts" when workers claimed the job more than once (one stopped while running it)."""
    n = int(job.get("attempts") or 0)
    return f"{n} attempts" if n > 1 else ""


def outcome_summary(documents: list[DocumentOutcome]) -> str:
    """How many documents of a job stand where, e.g. "1 failed · 2 ok"."""
    counts: dict[str, int] = {}
    for d in documents:
        counts[d.get("status", "")] = counts.get(d.get("status", ""), 0) + 1
    order = OUTCOME_ORDER + sorted(s for s in counts if s not in OUTCOME_ORDER)
    return " · ".join(f"{counts[s]} {s}" for s in order if counts.get(s))


def outcomes_frame(documents: list[DocumentOutcome]) -> pd.DataFrame:
    """One row per document (file, status, findings, error), failed documents first."""
    rank = {s: i for i, s in enumerate(OUTCOME_ORDER)}
    rows = sorted(documents, key=lambda d: rank.get(d.get("status", ""), len(rank)))
    return pd.DataFrame(
        {
            "File": [d.get("filename") or d.get("document_id") for d in rows],
            "Status": [OUTCOME_STATUS.get(d.get("status", ""), d.get("status")) for d in rows],
            "Findings": pd.array([d.get("findings") for d in rows], dtype="Int64"),
            "Error": [d.get("error") or "" for d in rows],
        }
    )


def show_outcomes(job: Job, *, key: str) -> None:
    """The job's per-document outcomes as a small table, with a red count of failed documents."""
    documents = job.get("documents") or []
    if not documents:
        return
    failed = sum(d.get("status") == "failed" for d in documents)
    if failed:
        st.markdown(f":red[**{failed} of {len(documents)} document(s) failed**]")
    st.dataframe(
        outcomes_frame(documents),
        hide_index=True,
        width="stretch",
        key=key,
        column_config={"Error": st.column_config.TextColumn(width="large")},
    )


def show_problem(job: Job, what: str, *, key: str) -> None:
    """An ended job that did not succeed: its error with the code, the attempt count, then the outcomes."""
    verb = "was cancelled" if job.get("status") == "cancelled" else "failed"
    reason = error_text(job) or job.get("status", "")
    attempts = attempts_text(job)
    st.error(
        f"{what} {verb}: {reason}" + (f"  \n{attempts}" if attempts else ""),
        icon=":material/block:" if job.get("status") == "cancelled" else ":material/error:",
    )
    show_outcomes(job, key=key)


def _failed_documents(job: Job) -> list[DocumentOutcome]:
    return [d for d in job.get("documents") or [] if d.get("status") == "failed"]


def show_failed_documents(job: Job, *, key: str) -> None:
    """For a job that succeeded: a warning and the outcome table when some of its documents failed."""
    failed = _failed_documents(job)
    if not failed:
        return
    names = ", ".join(f"**{d.get('filename') or d.get('document_id')}**" for d in failed[:5])
    more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
    st.warning(f"No findings from {names}{more}: the document(s) failed.", icon=":material/error:")
    with st.expander("Documents of this job"):
        show_outcomes(job, key=key)


def cancel_button(job: Job, *, key: str, polling_key: str, container: Any = st) -> None:
    """A Cancel button for a queued or running job (`container`: st or a column)."""
    if job.get("status") not in CANCELLABLE_JOB:
        return
    if container.button("Cancel", key=key, icon=":material/cancel:"):
        try:
            common.client().cancel_job(job["id"])
            st.toast(f"Job {job['id']} cancelled", icon=":material/cancel:")
        except Conflict as exc:  # it finished meanwhile
            st.toast(exc.detail, icon=":material/warning:")
        st.session_state[polling_key] = True
        st.rerun(scope="app")


def retry_button(job: Job, *, key: str, polling_key: str, container: Any = st) -> None:
    """A Retry button for a failed or cancelled job (`container`: st or a column)."""
    if job.get("status") not in RETRYABLE_JOB:
        return
    if container.button("Retry", key=key, icon=":material/replay:"):
        try:
            common.client().retry_job(job["id"])
            st.toast(f"Job {job['id']} queued again", icon=":material/replay:")
        except Conflict as exc:
            st.toast(exc.detail, icon=":material/warning:")
        st.session_state[polling_key] = True
        st.rerun(scope="app")


def show_running(job: Job, *, key: str, polling_key: str) -> None:
    """Under a running job's progress bar: its Cancel button, a re-claim note, its documents so far."""
    cancel_button(job, key=f"{key}_cancel", polling_key=polling_key)
    if attempts_text(job):
        st.caption(f"{attempts_text(job)}: a worker stopped while running it, another one took it over.")
    show_outcomes(job, key=f"{key}_outcomes")


def export_file(cache: dict, job_id: str, fmt: str) -> bytes:
    """The findings file ("csv" or "json") the API makes for a job, fetched once and kept in `cache`."""
    key = ("export", job_id, fmt)
    if key not in cache:
        cache[key] = common.client().findings_export(job_id, fmt)
    return cache[key]


# ---- the Jobs page -----------------------------------------------------------------------------------------
def _jobs_table(jobs: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Job": [j["id"] for j in jobs],
            "Kind": [j.get("kind") for j in jobs],
            "Status": [common.status_text(j.get("status")) for j in jobs],
            "Stage": [j.get("stage") or "" for j in jobs],
            "Progress": [float(j.get("progress") or 0.0) for j in jobs],
            "ETA (s)": pd.array([j.get("eta_seconds") for j in jobs], dtype="Float64"),
            "Documents": [outcome_summary(j.get("documents") or []) for j in jobs],
            "Error": [error_text(j) for j in jobs],
            "Attempts": pd.array([j.get("attempts") or 0 for j in jobs], dtype="Int64"),
            "Created": [common.when(j.get("created_at")) for j in jobs],
            "Finished": [common.when(j.get("finished_at")) for j in jobs],
            "Batch": [j.get("batch_id") or "" for j in jobs],
        }
    )


def _job_heading(j: Job) -> str:
    parts = [f"**{j.get('kind')}** job `{j['id']}` — {common.status_text(j.get('status'))}"]
    if j.get("status") not in TERMINAL_JOB:
        parts.append(f"{j.get('stage') or 'waiting'} · {float(j.get('progress') or 0.0):.0%}")
    if attempts_text(j):
        parts.append(attempts_text(j))
    return " · ".join(parts)


def _jobs_panel() -> None:
    api = common.client()
    listing = api.list_jobs(limit=100)
    jobs = listing["items"]
    active = [j for j in jobs if j.get("status") not in TERMINAL_JOB]
    failed = [j for j in jobs if j.get("status") in RETRYABLE_JOB]
    cols = st.columns(5)
    cols[0].metric("Jobs", listing.get("total", len(jobs)), border=True)
    cols[1].metric("Running / queued", len(active), border=True)
    cols[2].metric("Succeeded", sum(j.get("status") == "succeeded" for j in jobs), border=True)
    cols[3].metric("Failed", sum(j.get("status") == "failed" for j in jobs), border=True)
    cols[4].metric("Cancelled", sum(j.get("status") == "cancelled" for j in jobs), border=True)
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
    if active:
        st.markdown("##### Running and queued jobs")
        for j in active[:20]:
            with st.container(border=True):
                left, right = st.columns([6, 1], vertical_alignment="center")
                left.markdown(_job_heading(j))
                cancel_button(j, key=f"cancel_{j['id']}", polling_key="_jobs_polling", container=right)
                show_outcomes(j, key=f"outcomes_{j['id']}")
    if failed:
        st.markdown("##### Failed and cancelled jobs")
        for j in failed[:20]:
            with st.container(border=True):
                left, right = st.columns([6, 1], vertical_alignment="center")
                left.markdown(f"{_job_heading(j)}  \n{error_text(j) or 'no reason given'}")
                retry_button(j, key=f"retry_{j['id']}", polling_key="_jobs_polling", container=right)
                show_outcomes(j, key=f"outcomes_{j['id']}")
    partial = [j for j in jobs if j.get("status") == "succeeded" and _failed_documents(j)]
    if partial:
        st.markdown("##### Succeeded, with failed documents")
        for j in partial[:20]:
            with st.container(border=True):
                st.markdown(_job_heading(j))
                show_outcomes(j, key=f"outcomes_{j['id']}")
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
                errors = [j for j in batch.get("jobs", []) if error_text(j)]
                for j in errors[:5]:
                    st.caption(f":material/error: job `{j['id']}`: {error_text(j)}")
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
