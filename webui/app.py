"""longctx web UI (Streamlit). Started by `longctx serve` / `longctx ui`, or `streamlit run webui/app.py`.

It talks only to the REST API at $LONGCTX_API_URL (default http://127.0.0.1:8000) with the API key the user
signs in with; the key lives in this browser session's server-side state, never in the URL.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # `streamlit run webui/app.py` runs this file as a script
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)

import streamlit as st

from webui import common
from webui.client import ApiClient, ApiError, ApiUnavailable, Unauthorized
from webui.views import ask, documents, extract, jobs, upload


def sign_in_page() -> None:
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title(":material/menu_book: longctx")
        st.caption("Whole-document reading with citations to the page and characters they came from.")
        message = st.session_state.pop("_signin_message", None)
        if message:
            st.warning(message, icon=":material/key_off:")
        with st.form("sign_in", border=True):
            st.subheader("Sign in")
            key = st.text_input(
                "API key",
                type="password",
                placeholder="Paste your API key",
                help="Ask your administrator for a key (`longctx keys create TENANT`).",
            )
            submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
        st.caption(f"Service: `{common.api_url()}`")
        if submitted:
            key = key.strip()
            if not key:
                st.error("Enter your API key.", icon=":material/key:")
                return
            try:
                with ApiClient(common.api_url(), key) as probe:
                    probe.check_key()
            except Unauthorized as exc:
                st.error(f"**This API key was not accepted.** {exc.detail}", icon=":material/key_off:")
                return
            except ApiUnavailable as exc:
                common.show_api_error(exc)
                return
            except ApiError as exc:
                common.show_api_error(exc)
                return
            common.sign_in(key)
            st.rerun()


def sidebar() -> None:
    with st.sidebar:
        key = st.session_state.get(common.KEY_STATE, "")
        st.caption(f"Signed in with key `…{key[-4:]}`" if len(key) > 8 else "Signed in")
        st.caption(f"API: `{common.api_url()}`")
        if st.button("Sign out", icon=":material/logout:", key="sign_out"):
            common.sign_out("You are signed out.")
            st.rerun()


def main() -> None:
    st.set_page_config(page_title="longctx", page_icon="📑", layout="wide", initial_sidebar_state="expanded")
    st.markdown(common.CSS, unsafe_allow_html=True)
    if not common.signed_in():
        page = st.navigation(
            [st.Page(sign_in_page, title="Sign in", icon=":material/login:", url_path="signin")],
            position="hidden",
        )
        page.run()
        return
    pages = {
        "upload": st.Page(
            common.guarded(upload.render),
            title="Upload",
            icon=":material/upload_file:",
            url_path="upload",
            default=True,
        ),
        "documents": st.Page(
            common.guarded(documents.render),
            title="Documents",
            icon=":material/description:",
            url_path="documents",
        ),
        "ask": st.Page(
            common.guarded(ask.render), title="Ask", icon=":material/question_answer:", url_path="ask"
        ),
        "extract": st.Page(
            common.guarded(extract.render), title="Extract", icon=":material/table_view:", url_path="extract"
        ),
        "jobs": st.Page(
            common.guarded(jobs.render), title="Jobs & batches", icon=":material/monitoring:", url_path="jobs"
        ),
    }
    common.PAGES.clear()
    common.PAGES.update(pages)
    page = st.navigation({"longctx": list(pages.values())})
    sidebar()
    page.run()


main()
