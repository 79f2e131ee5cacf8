"""The tenant's documents: search, filter, inspect, delete (with confirmation)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from webui import common
from webui.client import TERMINAL_DOCUMENT, ApiError, NotFound

STATUSES = ["all", "ready", "parsing", "queued", "failed", "deleting"]


@st.dialog("Delete documents?")
def _confirm_delete(docs: list[dict]) -> None:
    st.write(
        f"This permanently removes **{len(docs)}** document(s), their pages and every finding that cites "
        "them. It cannot be undone."
    )
    for d in docs[:10]:
        st.markdown(f"- {d['filename']}")
    if len(docs) > 10:
        st.caption(f"… and {len(docs) - 10} more")
    yes, no = st.columns(2)
    if yes.button("Delete", type="primary", icon=":material/delete_forever:", key="confirm_delete"):
        api = common.client()
        errors = []
        for d in docs:
            try:
                api.delete_document(d["id"])
            except NotFound:
                pass  # already gone
            except ApiError as exc:
                errors.append(f"{d['filename']}: {exc.detail}")
        st.session_state["_docs_flash"] = (
            ("error", "Some deletions failed: " + "; ".join(errors))
            if errors
            else ("success", f"Deleted {len(docs)} document(s).")
        )
        st.session_state.pop("docs_table", None)
        st.rerun()
    if no.button("Cancel", key="cancel_delete"):
        st.rerun()


def _table(items: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Name": [d["filename"] for d in items],
            "Pages": pd.array([d.get("pages") for d in items], dtype="Int64"),
            "Tokens": pd.array([d.get("tokens") for d in items], dtype="Int64"),
            "Status": [common.status_text(d["status"]) for d in items],
            "Uploaded": [common.when(d.get("created_at")) for d in items],
            "Size": [common.human_bytes(d.get("bytes")) for d in items],
            "Reason": [d.get("error") or "" for d in items],
            "ID": [d["id"] for d in items],
        }
    )


def _listing(q: str, status: str) -> None:
    api = common.client()
    items = api.all_documents(q=q or None, status=None if status == "all" else status)
    every = items if not q and status == "all" else api.all_documents()
    cols = st.columns(4)
    cols[0].metric("Documents", len(every), border=True)
    cols[1].metric("Ready", sum(d["status"] == "ready" for d in every), border=True)
    cols[2].metric("Pages", f"{sum(d.get('pages') or 0 for d in every):,}", border=True)
    cols[3].metric("Tokens", f"{sum(d.get('tokens') or 0 for d in every):,}", border=True)
    if not every:
        common.empty_state(
            "No documents yet. Upload contracts or reports to get started.", "upload", "Upload documents"
        )
        return
    if not items:
        st.info("No document matches this search.", icon=":material/search_off:")
        return
    selection = st.dataframe(
        _table(items),
        key="docs_table",
        hide_index=True,
        on_select="rerun",
        selection_mode="multi-row",
        column_config={
            "Name": st.column_config.TextColumn(width="large"),
            "Pages": st.column_config.NumberColumn(format="%d"),
            "Tokens": st.column_config.NumberColumn(format="localized"),
            "Uploaded": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "Reason": st.column_config.TextColumn(width="medium"),
            "ID": st.column_config.TextColumn(width="small"),
        },
    )
    chosen = [items[i] for i in selection.selection.rows if i < len(items)]  # type: ignore[union-attr]
    st.caption("Select rows to delete them." if not chosen else f"{len(chosen)} selected")
    if st.button(
        f"Delete selected ({len(chosen)})",
        icon=":material/delete:",
        disabled=not chosen,
        key="delete_selected",
    ):
        _confirm_delete(chosen)
    if any(d["status"] not in TERMINAL_DOCUMENT for d in items) != st.session_state.get(
        "_docs_polling", False
    ):
        st.session_state["_docs_polling"] = not st.session_state.get("_docs_polling", False)
        st.rerun(scope="app")


def render() -> None:
    st.title("Documents")
    flash = st.session_state.pop("_docs_flash", None)
    if flash:
        getattr(st, flash[0])(flash[1])
    search, status = st.columns([3, 1])
    q = search.text_input(
        "Search by file name", key="docs_q", placeholder="e.g. agreement", icon=":material/search:"
    )
    chosen = status.selectbox(
        "Status", STATUSES, key="docs_status", format_func=lambda s: "All statuses" if s == "all" else s
    )
    polling = st.session_state.get("_docs_polling", False)
    st.fragment(run_every=2.0 if polling else None)(common.guarded(_listing))(q.strip(), chosen)
