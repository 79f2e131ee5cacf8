"""End to end: `longctx serve` as a subprocess (API + real Celery workers + embedded SQLite broker),
driven over HTTP: upload a contract PDF, ask the governing-law question, poll the job, check the citation
against the cited page. Then SIGTERM must stop every process. The `integration` variant runs the same code
with Redis as broker and PostgreSQL as database (skipped with a reason when they are not reachable)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.pdfgen import make_pdf
from tests.test_api import CONTRACT_PAGES, GOV_LAW

CUAD_FILE = "LUCIDINC_04_15_2011-EX-10.9-DISTRIBUTOR AGREEMENT.PDF"
START_TIMEOUT_S = 90.0
JOB_TIMEOUT_S = 90.0


def cuad_pdf() -> Path | None:
    from longctx.config import get_settings

    root = get_settings().data_root
    if root is None:
        return None
    path = root / "cuad" / "pdf" / CUAD_FILE
    if path.is_file():
        return path
    pdfs = sorted((root / "cuad" / "pdf").glob("*.[pP][dD][fF]")) if (root / "cuad" / "pdf").is_dir() else []
    return pdfs[0] if pdfs else None


@contextmanager
def running_serve(data_dir: Path, extra_env: dict[str, str] | None = None):  # noqa: ANN201
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("LONGCTX_") or k == "LONGCTX_SHARED_DATA_DIR"
    }
    env.update(extra_env or {})
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "serve.log"
    log = open(log_path, "wb")  # noqa: SIM115
    cmd = [
        sys.executable,
        "-m",
        "longctx.cli",
        "serve",
        "--no-ui",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--cpu-concurrency",
        "1",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        ready = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    ready = True
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        if not ready:
            pytest.fail(f"serve did not become ready:\n{log_path.read_text()[-4000:]}")
        key = (data_dir / "api-key").read_text().strip()
        yield base, {"X-API-Key": key}, proc, log_path
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def child_pids(log_path: Path) -> list[int]:
    return [int(m) for m in re.findall(r"started [\w-]+ \(pid (\d+)\)", log_path.read_text())]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def poll(url: str, headers: dict, until: tuple[str, ...], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = httpx.get(url, headers=headers, timeout=10).json()
        if body["status"] in until or time.monotonic() > deadline:
            return body
        time.sleep(0.25)


def ask_over_http(base: str, headers: dict, data: bytes, filename: str) -> tuple[dict, list[dict]]:
    """Upload, ask, poll; returns (job, findings) after checking each cited answer against its page."""
    r = httpx.post(
        f"{base}/v1/documents",
        files={"file": (filename, data, "application/pdf")},
        headers=headers,
        timeout=60,
    )
    assert r.status_code == 202, r.text
    doc_id = r.json()["id"]
    # Ask right away: the job waits for the document to be parsed.
    r = httpx.post(
        f"{base}/v1/questions",
        json={"document_ids": [doc_id], "questions": [GOV_LAW]},
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 202, r.text
    job = poll(f"{base}/v1/jobs/{r.json()['job_id']}", headers, ("succeeded", "failed"), JOB_TIMEOUT_S)
    assert job["status"] == "succeeded", job
    assert job["progress"] == 1.0 and {"queue_wait_s", "parse_s", "analyze_s"} <= set(job["timings"])
    doc = httpx.get(f"{base}/v1/documents/{doc_id}", headers=headers).json()
    assert doc["status"] == "ready" and doc["pages"] >= 1
    items = httpx.get(f"{base}/v1/jobs/{job['id']}/findings", headers=headers).json()["items"]
    answered = [f for f in items if f["answer"] is not None]
    assert answered, items
    pages = {}
    for f in answered:
        n = f["page"]
        if n not in pages:
            pages[n] = httpx.get(f"{base}/v1/documents/{doc_id}/pages/{n}", headers=headers).json()
        page = pages[n]
        assert page["char_start"] <= f["char_start"] < f["char_end"] <= page["char_end"] + 1
        local = f["char_start"] - page["char_start"]
        assert page["text"][local : local + len(f["answer"])] == f["answer"]
        assert f["answer"] in f["passage"]
        if f["char_end"] <= page["char_end"]:  # an answer inside one page is cited with its whole passage
            local_p = f["passage_start"] - page["char_start"]
            assert page["text"][local_p : local_p + len(f["passage"])] == f["passage"]
    return job, answered


def _assert_stopped(proc: subprocess.Popen, log_path: Path) -> None:
    pids = child_pids(log_path)
    assert len(pids) >= 3, log_path.read_text()[-3000:]
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=40) == 0, log_path.read_text()[-3000:]
    assert time.monotonic() - t0 < 30
    time.sleep(0.2)
    assert [p for p in pids if alive(p)] == []


@pytest.fixture(scope="module")
def serve_sqlite(tmp_path_factory):  # noqa: ANN001, ANN201
    """One embedded `longctx serve` (SQLite database + SQLite broker) shared by the tests below."""
    with running_serve(tmp_path_factory.mktemp("serve") / "data") as running:
        yield running


def test_serve_generated_pdf(serve_sqlite):  # noqa: ANN001
    base, headers, _proc, _log = serve_sqlite
    assert httpx.get(f"{base}/readyz").json()["checks"] == {"database": "ok", "broker": "ok"}
    _job, found = ask_over_http(base, headers, make_pdf(CONTRACT_PAGES), "generated.pdf")
    top = found[0]
    assert "Delaware" in top["answer"] and top["page"] == 2
    page = httpx.get(f"{base}/v1/documents/{top['document_id']}/pages/2", headers=headers).json()
    assert top["passage"] in page["text"]


def test_serve_cuad_contract(serve_sqlite):  # noqa: ANN001
    cuad = cuad_pdf()
    if cuad is None:
        pytest.skip("no CUAD PDFs under get_settings().data_root/cuad/pdf (shared data absent)")
    base, headers, _proc, _log = serve_sqlite
    _job, found = ask_over_http(base, headers, cuad.read_bytes(), cuad.name)
    if cuad.name == CUAD_FILE:
        top = found[0]
        assert "New York" in top["answer"] and top["page"] == 7
        page = httpx.get(f"{base}/v1/documents/{top['document_id']}/pages/7", headers=headers).json()
        assert top["answer"] in page["text"] and top["passage"] in page["text"]


def test_serve_metrics_aggregate_workers(serve_sqlite):  # noqa: ANN001
    base, headers, _proc, _log = serve_sqlite
    text = httpx.get(f"{base}/metrics").text
    assert 'longctx_uploads_total{outcome="accepted"}' in text
    assert 'task="analyze"' in text and 'task="ingest"' in text  # observed in the worker processes


def test_serve_sigterm_stops_everything(serve_sqlite):  # noqa: ANN001
    _base, _headers, proc, log_path = serve_sqlite
    _assert_stopped(proc, log_path)


@pytest.mark.integration
def test_serve_end_to_end_redis_postgres(tmp_path, fresh_pg_database, redis_broker):  # noqa: ANN001
    broker_url, prefix = redis_broker
    env = {
        "LONGCTX_DATABASE_URL": fresh_pg_database,
        "LONGCTX_BROKER_URL": broker_url,
        "LONGCTX_BROKER_PREFIX": prefix,
    }
    with running_serve(tmp_path / "data", env) as (base, headers, proc, log_path):
        assert "redis://" in log_path.read_text() and "postgresql" in log_path.read_text()
        job, found = ask_over_http(base, headers, make_pdf(CONTRACT_PAGES), "generated.pdf")
        assert "Delaware" in found[0]["answer"]
        cuad = cuad_pdf()
        if cuad is not None:
            ask_over_http(base, headers, cuad.read_bytes(), cuad.name)
        _assert_stopped(proc, log_path)
    # the data landed in PostgreSQL, not in a SQLite file
    assert not (tmp_path / "data" / "longctx.db").exists()
    import psycopg

    with psycopg.connect(fresh_pg_database) as conn:
        assert conn.execute("SELECT count(*) FROM findings").fetchone()[0] > 0
