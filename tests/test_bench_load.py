"""`longctx bench load`: the integrity checker on crafted observations (it must fail on a duplicated finding,
a lost job, ...), the generated documents, and a `--quick` run against a real `longctx serve`."""

from __future__ import annotations

import io
import json

import pypdf
import pytest

from longctx.bench import load


def _finding(doc: str, qi: int, rank: int) -> dict:
    return {"document_id": doc, "query_index": qi, "rank": rank, "answer": "x", "score": 1.0}


def _job(job_id: str, docs: list[str], questions: int = 2, top_k: int = 3, per: int = 2) -> dict:
    findings = [_finding(d, qi, r) for d in docs for qi in range(questions) for r in range(per)]
    outcomes = [{"document_id": d, "status": "ok", "findings": questions * per} for d in docs]
    return {
        "index": int(job_id.removeprefix("j")),
        "job_id": job_id,
        "document_ids": docs,
        "questions": questions,
        "top_k": top_k,
        "final": {"id": job_id, "status": "succeeded", "documents": outcomes},
        "findings": findings,
        "polls": 2,
        "not_found": False,
    }


def _upload(sha: str, doc_id: str, duplicate: bool, expected: bool = False) -> dict:
    return {
        "index": 0,
        "sha256": sha,
        "expected_duplicate": expected,
        "status_code": 202,
        "id": doc_id,
        "duplicate": duplicate,
    }


def good_observations() -> dict:
    return {
        "fresh": True,
        "uploads": [
            _upload("s1", "d1", False),
            _upload("s2", "d2", False),
            _upload("s1", "d1", True, expected=True),
        ],
        "jobs": [_job("j1", ["d1"]), _job("j2", ["d1", "d2"])],
        "listed_documents": [{"id": "d1", "sha256": "s1", "status": "ready"}, {"id": "d2", "sha256": "s2"}],
        "listed_jobs": ["j2", "j1"],
        "latency": {"upload": {"status": {"202": 3}}, "job_poll": {"status": {"200": 4}}},
        "client_errors": [],
    }


def failed(obs: dict) -> set[str]:
    return {c["name"] for c in load.check_integrity(obs) if not c["ok"]}


def test_checker_passes_consistent_observations():
    assert failed(good_observations()) == set()


def test_checker_fails_on_duplicated_finding():
    obs = good_observations()
    obs["jobs"][1]["findings"].append(_finding("d2", 1, 0))
    assert failed(obs) == {"no duplicated findings", "findings counts consistent"}
    # a duplicate that keeps the count right (one finding replaced by a copy of another) is still caught
    obs = good_observations()
    obs["jobs"][0]["findings"][1] = dict(obs["jobs"][0]["findings"][0])
    assert "no duplicated findings" in failed(obs)


def test_checker_fails_on_missing_or_unfinished_job():
    obs = good_observations()
    obs["listed_jobs"].remove("j1")  # submitted, accepted, but gone from the job list
    assert failed(obs) == {"no lost jobs"}
    obs = good_observations()
    obs["jobs"][0]["not_found"] = True  # a poll answered 404
    assert failed(obs) == {"no lost jobs"}
    obs = good_observations()
    obs["jobs"][1]["final"]["status"] = "running"  # never ended before the deadline
    assert failed(obs) == {"no lost jobs"}
    obs = good_observations()
    obs["listed_jobs"] = None  # the job list could not be read: nothing is proven
    assert "no lost jobs" in failed(obs)


def test_checker_fails_on_duplicated_job():
    obs = good_observations()
    obs["jobs"][1]["job_id"] = "j1"  # two submissions answered with the same id
    assert "no duplicated jobs" in failed(obs)
    obs = good_observations()
    obs["listed_jobs"].append("j1")
    assert failed(obs) == {"no duplicated jobs"}
    obs = good_observations()
    obs["listed_jobs"].append("j3")  # a job nobody asked for, on a tenant that only this run used
    assert failed(obs) == {"no duplicated jobs"}
    obs["fresh"] = False  # on a shared service other jobs are expected
    assert failed(obs) == set()


def test_checker_fails_on_findings_count_mismatch():
    obs = good_observations()
    obs["jobs"][0]["findings"].pop()  # the job reports 4 findings, 3 are served
    assert failed(obs) == {"findings counts consistent"}
    obs = good_observations()
    job = obs["jobs"][0]
    job["findings"] = [f for f in job["findings"] if f["query_index"] == 0]
    job["final"]["documents"][0]["findings"] = 2  # consistent count, but question 1 has no finding
    assert failed(obs) == {"findings counts consistent"}
    obs = good_observations()
    obs["jobs"][0]["findings"][0]["document_id"] = "d2"  # a finding on a document outside the job
    assert "findings counts consistent" in failed(obs)


def test_checker_fails_on_upload_problems():
    obs = good_observations()
    obs["uploads"][2].update(id="d3", duplicate=False)  # the same bytes stored as a second document
    obs["listed_documents"].append({"id": "d3", "sha256": "s1"})
    assert failed(obs) == {"uploads all present"}
    obs = good_observations()
    obs["listed_documents"].pop()  # an accepted upload is not listed
    assert failed(obs) == {"uploads all present"}
    obs = good_observations()
    obs["uploads"][1]["status_code"] = 500
    obs["latency"]["upload"]["status"] = {"202": 2, "500": 1}
    assert failed(obs) >= {"uploads all present", "no 5xx responses"}


def test_generated_documents_are_distinct_and_readable():
    docs = load.generate_documents(12, 0.25, seed=3, nonce="n0")
    assert len({d.sha256 for d in docs}) == 12
    pdfs = [d for d in docs if d.media_type == "application/pdf"]
    assert len(pdfs) == 3
    for d in pdfs:
        reader = pypdf.PdfReader(io.BytesIO(d.data))
        text = "".join(p.extract_text() for p in reader.pages)
        assert f"No. {d.index:05d}" in text and "Governing Law" in text
    again = load.generate_documents(12, 0.25, seed=3, nonce="n1")
    assert not {d.sha256 for d in docs} & {d.sha256 for d in again}  # each run sends new bytes
    specs = load.plan_jobs(load.LoadConfig(jobs=30, questions_per_job=4), len(docs))
    assert {i for s in specs for i in s.doc_indices} == set(range(12))  # every document is asked about
    assert all(len(set(s.doc_indices)) == len(s.doc_indices) and len(s.questions) == 4 for s in specs)


def test_percentile():
    assert load.percentile([], 50) == 0.0
    values = [float(i) for i in range(1, 101)]
    assert load.percentile(values, 50) == 50.0
    assert load.percentile(values, 99) == 99.0 and load.percentile(values, 100) == 100.0


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):  # noqa: ANN001, ANN201
    out = tmp_path_factory.mktemp("load") / "load.json"
    code = load.main(["--quick", "--out", str(out)])
    return code, json.loads(out.read_text())


def test_quick_run_against_serve(quick_run):  # noqa: ANN001
    _code, r = quick_run
    s, checks = r["summary"], {c["name"]: c for c in r["checks"]}
    assert r["service"] == {**r["service"], "started_here": True, "reader": "lexical", "database": "sqlite"}
    assert s["jobs_submitted"] == s["jobs_ended"] == load.QUICK["jobs"]
    assert s["questions_submitted"] == load.QUICK["jobs"] * load.QUICK["questions_per_job"]
    assert s["uploads"] == load.QUICK["uploads"] + load.QUICK["duplicates"]
    assert 0 < s["findings"] <= s["findings_upper_bound"]
    assert r["latency"]["upload"]["requests"] == s["uploads"]
    assert r["latency"]["job_poll"]["requests"] >= s["jobs_submitted"]
    for name in (
        "no lost jobs",
        "no duplicated jobs",
        "no duplicated findings",
        "findings counts consistent",
        "no 5xx responses",
        "answers well-formed",
    ):
        assert checks[name]["ok"], checks[name]


def test_quick_run_deduplicates_racing_uploads(quick_run):  # noqa: ANN001
    code, r = quick_run
    checks = {c["name"]: c for c in r["checks"]}
    assert checks["uploads all present"]["ok"], checks["uploads all present"]
    assert code == 0 and r["ok"]
