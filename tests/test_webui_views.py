"""Streamlit pages run headless by streamlit.testing (no browser): sign-in errors, "no answer found"."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
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


def _table_finding(**extra: object) -> dict:
    return {
        "document_id": "d1",
        "filename": "10q.pdf",
        "query_index": 0,
        "query": "What was total net sales for the quarter?",
        "rank": 0,
        "answer": "81,797",
        "score": 0.94,
        "page": None,  # no page: the card alone, without rendering a PDF
        "char_start": 10,
        "char_end": 16,
        "passage": "Total net sales 81,797 82,959",
        "passage_start": 0,
        "row_label": "Total net sales",
        "column_header": "Three Months Ended July 1, 2023",
        "period": "3 months ended 2023-07-01",
        "value": 81797000000.0,
        "unit": "USD",
        "scale": "millions",
        "computed": False,
        "formula": None,
        "detail": {"answer": "$81,797 million", "table": {"title": "STATEMENTS OF OPERATIONS", "page": 4}},
        **extra,
    }


def test_a_table_answer_shows_its_row_column_and_period() -> None:
    at = AppTest.from_function(_findings_page, args=([_table_finding()],), default_timeout=30).run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Total net sales" in text and "Three Months Ended July 1, 2023" in text
    assert "$81,797 million" in text and "STATEMENTS OF OPERATIONS" in text


def test_a_computed_figure_shows_its_formula_and_inputs() -> None:
    inputs = [
        {
            "row_label": "Total net sales",
            "column_header": "Three Months Ended July 1, 2023",
            "value_text": "81,797",
            "page": 4,
        },
        {
            "row_label": "Total net sales",
            "column_header": "Three Months Ended June 25, 2022",
            "value_text": "82,959",
            "page": 4,
        },
    ]
    finding = _table_finding(
        answer="-1.4% ($81,797 million vs $82,959 million; computed)",
        computed=True,
        formula="(81,797 − 82,959) / 82,959",
        detail={"computed": True, "inputs": inputs},
    )
    at = AppTest.from_function(_findings_page, args=([finding],), default_timeout=30).run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Computed" in text and "(81,797 − 82,959) / 82,959" in text
    frame = at.dataframe[0].value
    assert list(frame["Value"]) == ["81,797", "82,959"]


# ---- job views against a fake API: cancel, retry, per-document outcomes, the API's export files ---------
KEY = "lcx_view_key"
CSV_FILE = "document_id,filename,answer\nd1,a.pdf,Delaware — USA\n".encode()
JSON_FILE = b'{"job_id": "jok", "status": "succeeded", "fields": ["answer"], "findings": []}'


def _outcome(doc: str, status: str, findings: int = 0, error: str | None = None) -> dict:
    return {
        "document_id": doc,
        "filename": f"{doc}.pdf",
        "status": status,
        "error": error,
        "findings": findings,
        "analyze_seconds": 1.0 if status in ("ok", "failed") else None,
    }


def _job(job_id: str, status: str, **extra: object) -> dict:
    return {
        "id": job_id,
        "kind": "extraction",
        "status": status,
        "stage": "reading" if status == "running" else status,
        "progress": 0.4 if status == "running" else 1.0,
        "eta_seconds": None,
        "error": None,
        "error_code": None,
        "attempts": 1,
        "documents": [],
        "timings": {},
        "params": {"schema": "contract"},
        "batch_id": None,
        "callback_status": None,
        "created_at": "2025-01-01T00:00:00Z",
        "started_at": None,
        "finished_at": None,
        **extra,
    }


class FakeJobsApi:
    """The job routes of the v1 API, with state: cancel and retry change the job they name."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []  # (method, path, format)
        self.finish_before_cancel: set[str] = set()  # jobs that end just as their cancel arrives
        self.jobs = {
            "jrun": _job(
                "jrun", "running", documents=[_outcome("alpha", "ok", 3), _outcome("beta", "waiting")]
            ),
            "jfail": _job(
                "jfail",
                "failed",
                error="the worker running this job stopped",
                error_code="worker_lost",
                attempts=3,
                documents=[_outcome("gamma", "failed", error="could not parse page 2")],
            ),
            "jok": _job(
                "jok",
                "succeeded",
                documents=[_outcome("alpha", "ok", 1), _outcome("broken", "failed", error="no text layer")],
            ),
        }
        self.findings = [
            {
                "document_id": "alpha",
                "filename": "alpha.pdf",
                "query_index": 0,
                "query_key": "governing_law",
                "query": "Which law governs?",
                "rank": 1,
                "answer": "Delaware",
                "score": 0.9,
                "page": None,
                "char_start": None,
                "char_end": None,
                "passage": "governed by the laws of Delaware",
                "passage_start": None,
            }
        ]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        self.calls.append((method, path, request.url.params.get("format", "")))
        if request.headers.get("X-API-Key") != KEY:
            return httpx.Response(401, json={"detail": "invalid API key"})
        parts = path.strip("/").split("/")
        if path == "/v1/jobs":
            items = list(self.jobs.values())
            return httpx.Response(200, json={"items": items, "total": len(items), "limit": 100, "offset": 0})
        if path == "/v1/documents":
            return httpx.Response(200, json={"items": [], "total": 0, "limit": 200, "offset": 0})
        if path == "/v1/schemas":
            return httpx.Response(200, json={"items": []})
        if parts[:2] == ["v1", "jobs"] and parts[2] in self.jobs:
            job = self.jobs[parts[2]]
            action = parts[3] if len(parts) > 3 else ""
            if action == "" and method == "GET":
                return httpx.Response(200, json=job)
            if action == "cancel" and method == "POST":
                if job["id"] in self.finish_before_cancel:
                    job.update(status="succeeded", progress=1.0)
                if job["status"] not in ("queued", "running"):
                    return httpx.Response(409, json={"detail": f"job {job['id']} is {job['status']}"})
                job.update(status="cancelled", error="cancelled by user", error_code="cancelled")
                return httpx.Response(200, json=job)
            if action == "retry" and method == "POST":
                if job["status"] not in ("failed", "cancelled"):
                    return httpx.Response(409, json={"detail": f"job {job['id']} is {job['status']}"})
                job.update(status="queued", error=None, error_code=None, documents=[])
                return httpx.Response(202, json=job)
            if action == "findings":
                fmt = request.url.params.get("format", "json")
                if fmt == "csv":
                    return httpx.Response(200, content=CSV_FILE, headers={"content-type": "text/csv"})
                if fmt == "export":
                    return httpx.Response(
                        200, content=JSON_FILE, headers={"content-type": "application/json"}
                    )
                return httpx.Response(200, json={"job_id": job["id"], "items": self.findings})
        return httpx.Response(404, json={"detail": f"no route {method} {path}"})

    def count(self, method: str, path: str, fmt: str = "") -> int:
        return sum(1 for c in self.calls if c == (method, path, fmt))


def _job_page(fake: "FakeJobsApi", view: str, job_ref: "dict | None", box: dict) -> None:  # noqa: UP037
    """A page run by AppTest: signs in with a client routed to `fake`, then shows one job view.
    (AppTest runs this function's source as a script, without this module's imports.)"""
    import httpx
    import streamlit as st
    from streamlit.runtime import Runtime

    from webui import common
    from webui.client import ApiClient

    box["media"] = Runtime.instance().media_file_mgr  # to read the download buttons' files back
    if common.CLIENT_STATE not in st.session_state:
        common.sign_in("lcx_view_key")
        st.session_state[common.CLIENT_STATE] = ApiClient(
            common.api_url(), "lcx_view_key", transport=httpx.MockTransport(fake)
        )
    if view == "jobs":
        from webui.views import jobs

        jobs.render()
    elif view == "extract":
        from webui.views import extract

        st.session_state[extract.JOB] = job_ref
        common.guarded(extract._job_panel)()
    else:
        from webui.views import ask

        st.session_state[ask.JOB] = job_ref
        common.guarded(ask._job_panel)()


def _app(fake: FakeJobsApi, view: str, job_ref: dict | None = None) -> tuple[AppTest, dict]:
    box: dict = {}
    at = AppTest.from_function(_job_page, args=(fake, view, job_ref, box), default_timeout=30)
    return at, box


def _texts(at: AppTest) -> str:
    return " ".join(
        [m.value for m in at.markdown] + [e.value for e in at.error] + [w.value for w in at.warning]
    )


def _frames(at: AppTest, column: str) -> list:
    """The tables shown with `column` (AppTest does not expose a dataframe's key)."""
    return [d.value for d in at.dataframe if column in d.value.columns]


def _outcome_table(at: AppTest, filename: str):  # noqa: ANN202
    return next(f for f in _frames(at, "File") if filename in set(f["File"]))


@pytest.fixture
def no_api_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LONGCTX_API_URL", raising=False)


def test_jobs_page_cancel_retry_and_document_outcomes(no_api_url: None) -> None:
    fake = FakeJobsApi()
    at, _ = _app(fake, "jobs")
    at.run()
    assert not at.exception
    keys = {b.key for b in at.button}
    assert {"cancel_jrun", "retry_jfail"} <= keys
    assert "cancel_jfail" not in keys and "retry_jrun" not in keys and "cancel_jok" not in keys
    text = _texts(at)
    assert "worker_lost" in text and "3 attempts" in text  # error with its code, attempt count
    assert "1 of 1 document(s) failed" in text and "1 of 2 document(s) failed" in text
    failed = _outcome_table(at, "gamma.pdf")
    assert list(failed.columns) == ["File", "Status", "Findings", "Error"]
    assert failed.iloc[0].to_dict() == {
        "File": "gamma.pdf",
        "Status": "❌ failed",
        "Findings": 0,
        "Error": "could not parse page 2",
    }
    partial = _outcome_table(at, "broken.pdf")
    assert list(partial["File"]) == ["broken.pdf", "alpha.pdf"]  # failed documents first
    table = _frames(at, "Job")[0].set_index("Job")
    assert table.loc["jok", "Documents"] == "1 failed · 1 ok"
    assert table.loc["jfail", "Error"] == "the worker running this job stopped (`worker_lost`)"

    at.button(key="cancel_jrun").click().run()
    assert not at.exception
    assert fake.count("POST", "/v1/jobs/jrun/cancel") == 1
    assert fake.jobs["jrun"]["status"] == "cancelled"
    assert "cancel_jrun" not in {b.key for b in at.button}
    assert "retry_jrun" in {b.key for b in at.button}  # a cancelled job can run again

    at.button(key="retry_jfail").click().run()
    assert fake.count("POST", "/v1/jobs/jfail/retry") == 1
    assert fake.jobs["jfail"]["status"] == "queued"
    assert "cancel_jfail" in {b.key for b in at.button}


def test_running_extraction_shows_cancel_that_calls_the_api(no_api_url: None) -> None:
    fake = FakeJobsApi()
    fake.jobs["jrun"]["attempts"] = 2  # a worker stopped, another one took the job over
    at, _ = _app(fake, "extract", {"id": "jrun", "schema": "contract", "documents": ["alpha", "beta"]})
    at.run()
    assert not at.exception
    assert any(c.value.startswith("2 attempts") for c in at.caption)
    assert at.button(key="extract_cancel").label == "Cancel"
    outcomes = _outcome_table(at, "beta.pdf")
    assert list(outcomes["Status"]) == ["⏳ waiting (parsing)", "✅ ok"]
    at.button(key="extract_cancel").click().run()
    assert not at.exception
    assert fake.count("POST", "/v1/jobs/jrun/cancel") == 1
    assert "extract_cancel" not in {b.key for b in at.button}
    assert any("The extraction was cancelled" in e.value and "`cancelled`" in e.value for e in at.error)
    assert at.button(key="extract_retry").label == "Retry"


def test_cancel_of_a_job_that_just_finished_is_a_message(no_api_url: None) -> None:
    fake = FakeJobsApi()
    at, _ = _app(fake, "ask", {"id": "jrun", "question": "Which law governs?", "documents": ["alpha"]})
    at.run()
    fake.finish_before_cancel.add("jrun")
    at.button(key="ask_cancel").click().run()
    assert not at.exception
    assert fake.count("POST", "/v1/jobs/jrun/cancel") == 1
    assert any("is succeeded" in t.value for t in at.toast)  # the API's 409, not a traceback
    assert "ask_cancel" not in {b.key for b in at.button}


def test_downloads_serve_the_api_files_fetched_once(no_api_url: None) -> None:
    fake = FakeJobsApi()
    at, box = _app(fake, "ask", {"id": "jok", "question": "Which law governs?", "documents": ["alpha"]})
    at.run()
    assert not at.exception
    files = {}
    for key in ("ask_csv", "ask_json"):
        url = at.get("download_button")[[b.key for b in at.get("download_button")].index(key)].proto.url
        files[key] = box["media"].read_file(url.rsplit("/", 1)[1]).content
    assert files == {"ask_csv": CSV_FILE, "ask_json": JSON_FILE}
    assert any("broken.pdf" in w.value for w in at.warning)  # a document of the job failed
    at.run()  # a rerun reuses the files
    assert fake.count("GET", "/v1/jobs/jok/findings", "csv") == 1
    assert fake.count("GET", "/v1/jobs/jok/findings", "export") == 1
    assert fake.count("GET", "/v1/jobs/jok/findings", "json") == 1

    fake2 = FakeJobsApi()
    at, box = _app(fake2, "extract", {"id": "jok", "schema": "contract", "documents": ["alpha"]})
    at.run()
    assert not at.exception
    buttons = {b.key: b for b in at.get("download_button")}
    assert set(buttons) == {"extract_csv", "extract_json", "extract_xlsx"}
    read = box["media"].read_file
    assert read(buttons["extract_csv"].proto.url.rsplit("/", 1)[1]).content == CSV_FILE
    assert read(buttons["extract_json"].proto.url.rsplit("/", 1)[1]).content == JSON_FILE
    at.run()
    assert fake2.count("GET", "/v1/jobs/jok/findings", "csv") == 1
    assert fake2.count("GET", "/v1/jobs/jok/findings", "export") == 1
