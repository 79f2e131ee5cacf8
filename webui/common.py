"""Session state, the API client of the signed-in user, and small display helpers shared by the pages."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import streamlit as st

from webui.client import (
    DEFAULT_API_URL,
    TERMINAL_JOB,
    ApiClient,
    ApiError,
    ApiUnavailable,
    Document,
    Unauthorized,
)

F = TypeVar("F", bound=Callable[..., Any])

KEY_STATE = "api_key"
PAGES: dict[str, Any] = {}  # page name -> st.Page, filled by app.py (for links between pages)
CLIENT_STATE = "_api_client"

STATUS_STYLE: dict[str, tuple[str, str]] = {
    # status: (badge colour, icon)
    "queued": ("gray", ":material/schedule:"),
    "uploading": ("blue", ":material/upload:"),
    "parsing": ("blue", ":material/hourglass_top:"),
    "running": ("blue", ":material/hourglass_top:"),
    "ready": ("green", ":material/check_circle:"),
    "succeeded": ("green", ":material/check_circle:"),
    "failed": ("red", ":material/error:"),
    "cancelled": ("gray", ":material/block:"),
    "deleting": ("orange", ":material/delete:"),
}
STATUS_TEXT = {"queued": "queued", "uploading": "uploading", "parsing": "parsing…", "running": "running…"}

CSS = """
<style>
mark.lc-answer { background: #ffe066; color: inherit; padding: 0 .15em; border-radius: 3px;
  box-shadow: 0 0 0 1px #e85d04; }
div.lc-passage { white-space: pre-wrap; font-family: Georgia, 'Times New Roman', serif; font-size: .95rem;
  line-height: 1.55; border-left: 4px solid #e85d04; background: rgba(127,127,127,.06);
  padding: .8rem 1rem; border-radius: 0 6px 6px 0; max-height: 460px; overflow-y: auto; }
div.lc-answer-text { font-size: 1.25rem; font-weight: 600; margin: .2rem 0 .6rem 0; }
div.lc-muted, span.lc-muted { color: #6b7280; font-size: .85rem; }
[data-testid="stAppDeployButton"] { display: none; }
[data-testid="stImage"] img { border: 1px solid rgba(127,127,127,.35); border-radius: 4px;
  box-shadow: 0 2px 8px rgba(0,0,0,.12); }
</style>
"""


def api_url() -> str:
    return os.environ.get("LONGCTX_API_URL", DEFAULT_API_URL).rstrip("/")


def signed_in() -> bool:
    return bool(st.session_state.get(KEY_STATE))


def client() -> ApiClient:
    """The signed-in user's API client (one per browser session, reused across reruns)."""
    key = st.session_state.get(KEY_STATE)
    if not key:
        raise Unauthorized("Not signed in.")
    current: ApiClient | None = st.session_state.get(CLIENT_STATE)
    if current is None or current.api_key != key or current.base_url != api_url():
        if current is not None:
            current.close()
        current = ApiClient(api_url(), key)
        st.session_state[CLIENT_STATE] = current
    return current


def sign_in(key: str) -> None:
    st.session_state[KEY_STATE] = key


def sign_out(message: str | None = None) -> None:
    current = st.session_state.pop(CLIENT_STATE, None)
    if current is not None:
        current.close()
    for name in list(st.session_state.keys()):
        del st.session_state[name]
    if message:
        st.session_state["_signin_message"] = message


def show_api_error(exc: ApiError) -> None:
    """One clear message per failure kind."""
    if isinstance(exc, ApiUnavailable):
        st.error(
            f"**The longctx API is not reachable.** {exc.detail}\n\nIs `longctx serve` running? "
            f"The UI expects it at `{api_url()}` (set `LONGCTX_API_URL` to change).",
            icon=":material/cloud_off:",
        )
    elif isinstance(exc, Unauthorized):
        st.error(f"**Your API key was not accepted:** {exc.detail}", icon=":material/key_off:")
    else:
        st.error(f"**The request failed:** {exc.detail}", icon=":material/error:")


def guarded(fn: F) -> F:
    """Run a page or fragment; API failures become messages, an invalid key signs the user out."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Unauthorized as exc:
            sign_out(f"Your API key was not accepted: {exc.detail}. Please sign in again.")
            st.rerun(scope="app")
        except ApiError as exc:
            show_api_error(exc)
            if isinstance(exc, ApiUnavailable) and st.button("Try again", key=f"retry_{fn.__name__}"):
                st.rerun(scope="app")
        return None

    return wrapper  # type: ignore[return-value]


def badge(status: str, label: str | None = None) -> None:
    color, icon = STATUS_STYLE.get(status, ("gray", None))
    st.badge(label or status, color=color, icon=icon)  # type: ignore[arg-type]


def status_text(status: str | None) -> str:
    return STATUS_TEXT.get(status or "", status or "")


def when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def human_bytes(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def job_still_running(job: dict, label: str, stage_fallback: str, polling_key: str) -> bool:
    """While `job` runs, show its progress bar (stage, ETA) and return True. Once it has ended, stop the
    page's polling with one full rerun, so the rest of the page sees the result, and return False."""
    if job["status"] not in TERMINAL_JOB:
        eta = f" · about {job['eta_seconds']:.0f}s left" if job.get("eta_seconds") else ""
        st.progress(
            float(job.get("progress") or 0.0), text=f"{label} — {job.get('stage') or stage_fallback}{eta}"
        )
        return True
    if st.session_state.get(polling_key):
        st.session_state[polling_key] = False
        st.rerun(scope="app")
    return False


def ready_documents() -> list[Document]:
    return client().all_documents(status="ready")


def document_label(doc: Document) -> str:
    pages = f" · {doc['pages']} p." if doc.get("pages") else ""
    return f"{doc['filename']}{pages}"


def document_labels(docs: list[Document]) -> dict[str, str]:
    """id -> a label unique among `docs` (select widgets tell options apart by their label)."""
    counts: dict[str, int] = {}
    for d in docs:
        counts[document_label(d)] = counts.get(document_label(d), 0) + 1
    return {
        d["id"]: document_label(d) + (f" · #{d['id'][:8]}" if counts[document_label(d)] > 1 else "")
        for d in docs
    }


def empty_state(message: str, page: str | None = None, label: str | None = None) -> None:
    st.info(message, icon=":material/inbox:")
    if page and page in PAGES:
        st.page_link(PAGES[page], label=label or "Go", icon=":material/arrow_forward:")
