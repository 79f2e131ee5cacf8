"""Streamlit pages run headless by streamlit.testing (no browser): sign-in errors, "no answer found"."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "webui" / "app.py")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sign_in_shows_api_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LONGCTX_API_URL", f"http://127.0.0.1:{_closed_port()}")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.text_input[0].label == "API key"
    at.text_input[0].input("lcx_some_key")
    at.button[0].click().run()
    errors = " ".join(e.value for e in at.error)
    assert "not reachable" in errors
    assert "api_key" not in at.session_state  # still signed out


def test_sign_in_requires_a_key() -> None:
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.button[0].click().run()
    assert any("Enter your API key" in e.value for e in at.error)


def _findings_page(findings: list) -> None:
    from webui.views.ask import show_findings

    show_findings(findings, key="t")


def test_no_answer_found_is_shown_as_such() -> None:
    nothing = [
        {
            "document_id": "d1",
            "filename": "a.pdf",
            "query_index": 0,
            "query": "q",
            "rank": 1,
            "answer": None,
            "score": 0.0,
            "page": None,
            "char_start": None,
            "char_end": None,
            "passage": None,
            "passage_start": None,
        }
    ]
    at = AppTest.from_function(_findings_page, args=(nothing,), default_timeout=30).run()
    assert not at.exception
    assert any("No answer found" in w.value for w in at.warning)
