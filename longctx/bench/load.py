"""`longctx bench load`: a bounded loopback load test of the REST API, with integrity checks.

It starts its own `longctx serve --no-ui` (a subprocess on a free port, fresh temporary data dir, the lexical
reader by default so the model is not what is measured), or targets a running service (`--url`,
`--api-key`), and drives it over HTTP only:

* uploads: N distinct generated documents (text and PDF) sent at once, plus duplicates of some of them, half
  racing their original and half sent after it was stored, to exercise deduplication;
* questions: many `POST /v1/questions` jobs (several questions over 1..D documents each), each submitted as
  soon as its documents are uploaded, then polled (`GET /v1/jobs/{id}`, backing off) until it ends, then its
  findings fetched;
* at the end the document and job lists are read back.

The report gives request counts, status codes, p50/p95/p99/max latency per route kind, wall time, jobs
submitted vs ended, and the integrity checks (`check_integrity`): no lost job, no duplicated job or finding,
findings counts consistent with each job's outcomes, every upload present once, no 5xx. The exit status is 1
when a check fails. Numbers in docs/reliability.md come from this command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

API_KEY_HEADER = "X-API-Key"
UP_LINE = "longctx is up: "
TERMINAL = ("succeeded", "failed", "cancelled")
ROUTE_KINDS = ("upload", "ask_submit", "job_poll", "findings", "list")
MARK = "<!-- {marker}:{label}:{edge} -->"  # a generated block of a page (`write_block`)


@dataclass
class LoadConfig:
    uploads: int = 240  # distinct documents
    duplicates: int = 12  # extra uploads of already-sent bytes (half racing the original, half after it)
    jobs: int = 300
    questions_per_job: int = 4
    max_docs_per_job: int = 3
    top_k: int = 3
    concurrency: int = 256  # requests in flight at most (>= uploads + duplicates: all uploads at once)
    pdf_fraction: float = 0.25
    poll_interval_s: float = 1.0
    poll_max_s: float = 5.0
    job_timeout_s: float = 1800.0  # from the start of the run; a job not ended by then "never ended"
    request_timeout_s: float = 120.0
    seed: int = 0

    @property
    def questions(self) -> int:
        return self.jobs * self.questions_per_job


QUICK = {
    "uploads": 16,
    "duplicates": 4,
    "jobs": 12,
    "questions_per_job": 3,
    "concurrency": 32,
    "job_timeout_s": 300.0,
}


# ---- generated documents ----------------------------------------------------------------------------------
STATES = ["Delaware", "New York", "California", "Texas", "Ontario", "Nevada", "Illinois", "Washington"]
CITIES = ["Boston", "Austin", "Denver", "Seattle", "Chicago", "Toronto", "Phoenix", "Atlanta"]
GOODS = ["industrial valves", "software licences", "laboratory reagents", "office furniture", "solar panels"]
WORDS = ["Acme", "Borealis", "Cobalt", "Delta", "Evergreen", "Fulcrum", "Granite", "Harbor", "Ion", "Juniper"]

QUESTIONS = [
    "What law governs this agreement?",
    "Who are the parties to this agreement?",
    "When does the agreement take effect?",
    "How long is the initial term?",
    "How many days of notice are required to terminate?",
    "What is the monthly fee?",
    "Where is the supplier located?",
    "What products does the supplier deliver?",
    "What is the cap on liability?",
    "How long do confidentiality obligations last?",
    "Which courts have jurisdiction over disputes?",
    "Who pays for insurance?",
]


@dataclass
class GeneratedDoc:
    index: int
    filename: str
    media_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _document_text(i: int, rng: random.Random, nonce: str) -> list[str]:
    """Paragraphs of a small supply agreement; every document differs (its number and the run nonce)."""
    a, b = rng.sample(WORDS, 2)
    state, city, goods = rng.choice(STATES), rng.choice(CITIES), rng.choice(GOODS)
    fee = rng.randrange(1_000, 90_000)
    days = rng.choice([15, 30, 45, 60, 90])
    years = rng.randrange(1, 8)
    cap = rng.randrange(2, 20) * 50_000
    return [
        f"SUPPLY AGREEMENT No. {i:05d} (reference {nonce}-{i})",
        f"This Supply Agreement is made between {a} Holdings Inc. (the Customer) and {b} Industries LLC "
        f"(the Supplier), located in {city}. It takes effect on {1 + i % 28} March 20{20 + i % 6}.",
        f"1. Products. The Supplier shall deliver {goods} to the Customer as set out in each purchase order.",
        f"2. Fees. The Customer shall pay a monthly fee of {fee:,} US dollars within thirty days of invoice.",
        f"3. Term. The initial term is {years} years and renews for successive one-year periods.",
        f"4. Termination. Either party may terminate this Agreement on {days} days written notice.",
        f"5. Liability. Each party's total liability under this Agreement is capped at {cap:,} US dollars.",
        f"6. Confidentiality. Confidential information shall be protected for {years + 2} years after "
        "termination.",
        "7. Insurance. The Supplier shall maintain product liability insurance at its own cost.",
        f"8. Governing Law. This Agreement is governed by the laws of the State of {state}, and the courts "
        f"of {state} have exclusive jurisdiction over any dispute.",
    ]


def _pdf_literal(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    out = bytearray(b"(")
    for c in raw:
        if c in (0x28, 0x29, 0x5C):
            out += b"\\" + bytes([c])
        elif c < 32 or c > 126:
            out += b"\\%03o" % c
        else:
            out.append(c)
    return bytes(out + b")")


def _wrap(paragraph: str, width: int = 88) -> list[str]:
    lines, line = [], ""
    for word in paragraph.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines


def pdf_bytes(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF (Helvetica, one text object per page, exact xref); `pages` are lines per page."""
    objs: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    }
    kids = []
    for i, lines in enumerate(pages):
        page_no, content_no = 4 + 2 * i, 5 + 2 * i
        kids.append(b"%d 0 R" % page_no)
        objs[page_no] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % content_no
        )
        ops = [b"BT", b"/F1 10 Tf", b"13 TL", b"60 740 Td"]
        for j, line in enumerate(lines):
            ops += [b"T*"] if j else []
            ops.append(_pdf_literal(line) + b" Tj")
        ops.append(b"ET")
        stream = b"\n".join(ops)
        objs[content_no] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    objs[2] = b"<< /Type /Pages /Kids [" + b" ".join(kids) + b"] /Count %d >>" % len(pages)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for n in sorted(objs):
        offsets[n] = len(out)
        out += b"%d 0 obj\n" % n + objs[n] + b"\nendobj\n"
    xref = len(out)
    count = max(objs) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % count
    for n in range(1, count):
        out += b"%010d 00000 n \n" % offsets[n]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count, xref)
    return bytes(out)


def generate_documents(n: int, pdf_fraction: float, seed: int, nonce: str) -> list[GeneratedDoc]:
    """`n` distinct small documents: about `pdf_fraction` PDFs (1 or 2 pages), the rest plain text."""
    rng = random.Random(seed)
    docs = []
    n_pdf = round(n * pdf_fraction)
    step = max(1, round(n / n_pdf)) if n_pdf else 0
    for i in range(n):
        paragraphs = _document_text(i, rng, nonce)
        if step and i % step == 0:
            lines = [line for p in paragraphs for line in [*_wrap(p), ""]]
            pages = [lines[:14], lines[14:]] if (i // step) % 2 else [lines]
            docs.append(GeneratedDoc(i, f"agreement-{i:05d}.pdf", "application/pdf", pdf_bytes(pages)))
        else:
            text = "\n\n".join(paragraphs) + "\n"
            docs.append(GeneratedDoc(i, f"agreement-{i:05d}.txt", "text/plain", text.encode()))
    return docs


@dataclass
class JobSpec:
    index: int
    doc_indices: list[int]
    questions: list[str]


def plan_jobs(cfg: LoadConfig, n_docs: int) -> list[JobSpec]:
    """Jobs over the documents; job i includes document i mod n, so every document is asked about."""
    rng = random.Random(cfg.seed + 1)
    specs = []
    for i in range(cfg.jobs):
        k = rng.randint(1, max(1, min(cfg.max_docs_per_job, n_docs)))
        picked = [i % n_docs] + [d for d in rng.sample(range(n_docs), k) if d != i % n_docs][: k - 1]
        qs = rng.sample(QUESTIONS, min(cfg.questions_per_job, len(QUESTIONS)))
        while len(qs) < cfg.questions_per_job:
            qs.append(f"{rng.choice(QUESTIONS)} (variant {len(qs)})")
        specs.append(JobSpec(i, picked, qs))
    return specs


# ---- the local service ------------------------------------------------------------------------------------
@dataclass
class Service:
    url: str
    api_key: str
    info: dict[str, Any] = field(default_factory=dict)
    log_path: Path | None = None
    data_dir: Path | None = None
    fresh: bool = False  # started by us: its tenant holds only what this run sends
    log_summary: dict = field(default_factory=dict)  # filled when a service started here has stopped


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def local_service(
    reader: str = "lexical",
    cpu_concurrency: int = 2,
    start_timeout_s: float = 180.0,
    keep: bool = False,
) -> Iterator[Service]:
    """`python -m longctx.cli serve --no-ui` on a free port with a fresh temp data dir; stopped on exit.

    The environment is passed on (so LONGCTX_BROKER_URL / LONGCTX_DATABASE_URL select Redis / PostgreSQL),
    except the data dir, ports and metrics dir, which belong to this run.
    """
    root = Path(tempfile.mkdtemp(prefix="longctx-load-"))
    data_dir, log_path = root / "data", root / "serve.log"
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "LONGCTX_DATA_DIR",
            "LONGCTX_API_HOST",
            "LONGCTX_API_PORT",
            "LONGCTX_API_URL",
            "LONGCTX_UI_PORT",
            "PROMETHEUS_MULTIPROC_DIR",
        )
    }
    env["LONGCTX_READER"] = reader
    env.setdefault("PYTHONUNBUFFERED", "1")
    cmd = [
        sys.executable, "-m", "longctx.cli", "serve", "--no-ui", "--port", str(port),
        "--data-dir", str(data_dir), "--cpu-concurrency", str(cpu_concurrency),
    ]  # fmt: skip
    log = open(log_path, "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    ok = False
    service_log: dict = {}
    try:
        info = _wait_up(proc, log_path, start_timeout_s)
        key_file = info.get("api_key_file")
        if not key_file:
            raise RuntimeError(
                "the service made no API key (its database already has keys); use --url with --api-key"
            )
        key = Path(key_file).read_text().strip()
        service = Service(info["api"], key, info, log_path, data_dir, fresh=True)
        service_log = service.log_summary
        yield service
        ok = True
    finally:
        stop(proc)
        log.close()
        service_log.update(server_log_summary(log_path))
        if keep or not ok:
            print(f"service data and log kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


def _wait_up(proc: subprocess.Popen, log_path: Path, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        for line in text.splitlines():
            if line.startswith(UP_LINE):
                return json.loads(line[len(UP_LINE) :])
        if proc.poll() is not None:
            raise RuntimeError(f"longctx serve exited with {proc.returncode}:\n{text[-3000:]}")
        time.sleep(0.3)
    raise RuntimeError(f"longctx serve did not come up in {timeout_s:.0f}s:\n{text[-3000:]}")


def stop(proc: subprocess.Popen, grace_s: float = 60.0) -> None:
    """SIGTERM (the supervisor stops its children), then SIGKILL to the group after `grace_s`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def server_log_summary(log_path: Path | None) -> dict:
    """Tracebacks and ERROR lines in the service log (the first few of each, to report a bug)."""
    if log_path is None or not log_path.is_file():
        return {}
    lines = log_path.read_text(errors="replace").splitlines()
    errors = [ln for ln in lines if " ERROR " in ln or "CRITICAL" in ln]
    tracebacks = [i for i, ln in enumerate(lines) if ln.startswith("Traceback")]
    return {
        "log": str(log_path),
        "error_lines": len(errors),
        "tracebacks": len(tracebacks),
        "first_errors": errors[:5],
        "first_traceback": lines[tracebacks[0] : tracebacks[0] + 30] if tracebacks else [],
    }


# ---- the client -------------------------------------------------------------------------------------------
class Recorder:
    """Latency and status code of every request, per route kind; the semaphore bounds requests in flight."""

    def __init__(self, client: httpx.AsyncClient, concurrency: int):
        self.client = client
        self.sem = asyncio.Semaphore(concurrency)
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.codes: dict[str, Counter] = defaultdict(Counter)
        self.examples: list[dict] = []
        self.in_flight = 0
        self.peak: dict[str, int] = Counter()
        self._kind_in_flight: dict[str, int] = Counter()

    async def request(self, kind: str, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        async with self.sem:
            self._kind_in_flight[kind] += 1
            self.peak[kind] = max(self.peak[kind], self._kind_in_flight[kind])
            t0 = time.perf_counter()
            try:
                r = await self.client.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                self.latency[kind].append(time.perf_counter() - t0)
                self.codes[kind][type(exc).__name__] += 1
                self._example(kind, method, url, type(exc).__name__, str(exc))
                return None
            finally:
                self._kind_in_flight[kind] -= 1
            self.latency[kind].append(time.perf_counter() - t0)
            self.codes[kind][str(r.status_code)] += 1
            if r.status_code >= 400:
                self._example(kind, method, url, str(r.status_code), r.text[:300])
            return r

    def _example(self, kind: str, method: str, url: str, status: str, detail: str) -> None:
        if len(self.examples) < 20:
            self.examples.append(
                {"kind": kind, "request": f"{method} {url}", "status": status, "detail": detail}
            )


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def latency_table(rec: Recorder) -> dict[str, dict]:
    out = {}
    for kind in ROUTE_KINDS:
        values = rec.latency.get(kind, [])
        codes = rec.codes.get(kind, Counter())
        out[kind] = {
            "requests": len(values),
            "errors": sum(n for c, n in codes.items() if not c.startswith("2")),
            "status": dict(sorted(codes.items())),
            "peak_in_flight": rec.peak.get(kind, 0),
            "p50_ms": percentile(values, 50) * 1000,
            "p95_ms": percentile(values, 95) * 1000,
            "p99_ms": percentile(values, 99) * 1000,
            "max_ms": max(values, default=0.0) * 1000,
        }
    return out


async def _paged(rec: Recorder, path: str) -> list[dict] | None:
    items: list[dict] = []
    offset = 0
    while True:
        r = await rec.request("list", "GET", path, params={"limit": 500, "offset": offset})
        if r is None or r.status_code != 200:
            return None
        body = r.json()
        items += body["items"]
        offset += len(body["items"])
        if not body["items"] or offset >= body["total"]:
            return items


async def drive(service: Service, cfg: LoadConfig, docs: list[GeneratedDoc], specs: list[JobSpec]) -> dict:
    """Send everything, wait for every job, read back; returns the observations `check_integrity` reads."""
    limits = httpx.Limits(max_connections=cfg.concurrency, max_keepalive_connections=cfg.concurrency)
    timeout = httpx.Timeout(cfg.request_timeout_s, pool=None)
    headers = {API_KEY_HEADER: service.api_key}
    t_start = time.monotonic()
    deadline = t_start + cfg.job_timeout_s
    marks: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=service.url, headers=headers, limits=limits, timeout=timeout) as c:
        rec = Recorder(c, cfg.concurrency)
        loop = asyncio.get_running_loop()
        originals: dict[int, asyncio.Future] = {d.index: loop.create_future() for d in docs}
        uploads: list[dict] = []

        async def upload(doc: GeneratedDoc, duplicate_of: int | None, after: asyncio.Future | None) -> None:
            row: dict[str, Any] = {
                "index": doc.index,
                "sha256": doc.sha256,
                "expected_duplicate": duplicate_of is not None,
                "status_code": None,
            }
            uploads.append(row)
            try:
                if after is not None:
                    await after
                r = await rec.request(
                    "upload",
                    "POST",
                    "/v1/documents",
                    files={"file": (doc.filename, doc.data, doc.media_type)},
                )
                row["status_code"] = r.status_code if r is not None else None
                if r is not None and r.status_code == 202:
                    body = r.json()
                    row.update(id=body["id"], duplicate=body["duplicate"], server_sha256=body["sha256"])
            finally:  # the jobs over this document go on (or give up) whatever happened
                fut = originals[doc.index]
                if duplicate_of is None and not fut.done():
                    fut.set_result(row.get("id"))

        # Duplicates: the first half race their original (sent right behind it), the rest go after it.
        rng = random.Random(cfg.seed + 2)
        dup_targets = rng.sample(range(len(docs)), min(cfg.duplicates, len(docs)))
        racing = set(dup_targets[: (len(dup_targets) + 1) // 2])
        upload_tasks = []
        for doc in docs:
            upload_tasks.append(asyncio.create_task(upload(doc, None, None)))
            if doc.index in racing:
                upload_tasks.append(asyncio.create_task(upload(doc, doc.index, None)))
        for i in dup_targets:
            if i not in racing:
                renamed = GeneratedDoc(i, "copy-of-" + docs[i].filename, docs[i].media_type, docs[i].data)
                upload_tasks.append(asyncio.create_task(upload(renamed, i, originals[i])))

        jobs: list[dict] = []

        async def run_job(spec: JobSpec) -> None:
            ids = [await originals[i] for i in spec.doc_indices]
            row: dict[str, Any] = {
                "index": spec.index,
                "document_ids": ids,
                "questions": len(spec.questions),
                "top_k": cfg.top_k,
                "job_id": None,
                "submit_status": None,
                "final": None,
                "findings": None,
                "polls": 0,
                "not_found": False,
            }
            jobs.append(row)
            if any(i is None for i in ids):
                row["submit_status"] = "skipped: a document upload failed"
                return
            r = await rec.request(
                "ask_submit",
                "POST",
                "/v1/questions",
                json={"document_ids": ids, "questions": spec.questions, "top_k": cfg.top_k},
            )
            row["submit_status"] = r.status_code if r is not None else "transport error"
            if r is None or r.status_code != 202:
                return
            job_id = row["job_id"] = r.json()["job_id"]
            delay = cfg.poll_interval_s
            while True:
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 1.5, cfg.poll_max_s)
                r = await rec.request("job_poll", "GET", f"/v1/jobs/{job_id}")
                row["polls"] += 1
                if r is not None and r.status_code == 200:
                    row["final"] = r.json()
                    if row["final"]["status"] in TERMINAL:
                        break
                elif r is not None and r.status_code == 404:
                    row["not_found"] = True
                if time.monotonic() > deadline:
                    break
            r = await rec.request("findings", "GET", f"/v1/jobs/{job_id}/findings")
            if r is not None and r.status_code == 200:
                row["findings"] = r.json()["items"]

        job_tasks = [asyncio.create_task(run_job(s)) for s in specs]
        crashed = [e for e in await asyncio.gather(*upload_tasks, return_exceptions=True) if e is not None]
        marks["uploads_done_s"] = time.monotonic() - t_start
        crashed += [e for e in await asyncio.gather(*job_tasks, return_exceptions=True) if e is not None]
        marks["jobs_done_s"] = time.monotonic() - t_start
        listed_documents = await _paged(rec, "/v1/documents")
        listed_jobs = await _paged(rec, "/v1/jobs")
        marks["wall_s"] = time.monotonic() - t_start
    return {
        "fresh": service.fresh,
        "uploads": uploads,
        "jobs": sorted(jobs, key=lambda j: j["index"]),
        "listed_documents": listed_documents,
        "listed_jobs": [j["id"] for j in listed_jobs] if listed_jobs is not None else None,
        "latency": latency_table(rec),
        "error_examples": rec.examples,
        "client_errors": [repr(e)[:300] for e in crashed],  # an answer the client could not read
        "timing": marks,
    }


# ---- the checks -------------------------------------------------------------------------------------------
def _check(name: str, ok: bool, detail: str) -> dict:
    return {"name": name, "ok": bool(ok), "detail": detail}


def findings_problems(job: dict) -> list[str]:
    """What is wrong with one ended job's findings (empty when consistent)."""
    final, items = job.get("final") or {}, job.get("findings")
    if items is None:
        return ["findings could not be read"]
    problems = []
    keys = Counter((job["job_id"], f["document_id"], f["query_index"], f["rank"]) for f in items)
    dups = [k for k, n in keys.items() if n > 1]
    if dups:
        problems.append(f"{len(dups)} duplicated (job, document, query_index, rank), e.g. {dups[0]}")
    outcomes = final.get("documents") or []
    reported = sum(o.get("findings") or 0 for o in outcomes)
    if len(items) != reported:
        problems.append(f"{len(items)} findings but the job reports {reported}")
    doc_ids, nq, top_k = set(job["document_ids"]), job["questions"], job["top_k"]
    per: dict[tuple[str, int], list[int]] = defaultdict(list)
    for f in items:
        if f["document_id"] not in doc_ids or not 0 <= f["query_index"] < nq:
            problems.append(
                f"a finding outside the job: document {f['document_id']} query {f['query_index']}"
            )
            break
        per[(f["document_id"], f["query_index"])].append(f["rank"])
    for (doc, qi), ranks in per.items():
        if len(ranks) > top_k or sorted(ranks) != list(range(len(ranks))):
            problems.append(f"document {doc} query {qi}: ranks {sorted(ranks)} (top_k {top_k})")
            break
    if final.get("status") == "succeeded":
        for o in outcomes:
            if o.get("status") == "ok" and any((o["document_id"], qi) not in per for qi in range(nq)):
                problems.append(f"document {o['document_id']} is ok but a question has no finding")
                break
    return problems


def check_integrity(obs: dict) -> list[dict]:
    """The integrity checks over the observations of a run (see `drive`); each {name, ok, detail}."""
    jobs = obs["jobs"]
    submitted = [j for j in jobs if j.get("job_id")]
    ids = [j["job_id"] for j in submitted]
    listed = obs.get("listed_jobs")
    listed_set = set(listed or ())
    checks = []

    # 0 lost jobs: every submitted job exists (polls and the job list) and ended.
    missing = [
        j["job_id"]
        for j in submitted
        if j.get("not_found") or (listed is not None and j["job_id"] not in listed_set)
    ]
    never_ended = [j["job_id"] for j in submitted if (j.get("final") or {}).get("status") not in TERMINAL]
    unsubmitted = [j for j in jobs if not j.get("job_id")]
    checks.append(
        _check(
            "no lost jobs",
            listed is not None and not missing and not never_ended and not unsubmitted,
            f"{len(submitted)} submitted, {len(missing)} missing, {len(never_ended)} never ended, "
            f"{len(unsubmitted)} not accepted" + ("" if listed is not None else "; job list unreadable"),
        )
    )

    # 0 duplicated jobs: distinct ids from the submissions and in the list; a fresh tenant lists only ours.
    dup_submitted = len(ids) - len(set(ids))
    dup_listed = len(listed or ()) - len(listed_set)
    extra = len(listed_set - set(ids)) if obs.get("fresh") else 0
    checks.append(
        _check(
            "no duplicated jobs",
            dup_submitted == 0 and dup_listed == 0 and extra == 0,
            f"{dup_submitted} job ids returned twice, {dup_listed} listed twice, "
            f"{extra} unexpected jobs listed",
        )
    )

    # 0 duplicated findings, counts consistent with each job's outcomes.
    bad = {
        j["job_id"]: p
        for j in submitted
        if (j.get("final") or {}).get("status") in TERMINAL and (p := findings_problems(j))
    }
    dup_jobs = [k for k, p in bad.items() if any("duplicated" in x for x in p)]
    checks.append(
        _check(
            "no duplicated findings",
            not dup_jobs,
            f"{len(dup_jobs)} jobs with a duplicated (job, document, query_index, rank)"
            + (f", e.g. {dup_jobs[0]}: {bad[dup_jobs[0]][0]}" if dup_jobs else ""),
        )
    )
    other = {k: [x for x in p if "duplicated" not in x] for k, p in bad.items()}
    other = {k: p for k, p in other.items() if p}
    first = next(iter(other.items()), None)
    checks.append(
        _check(
            "findings counts consistent",
            not other,
            f"{len(other)} jobs whose findings disagree with their outcomes"
            + (f", e.g. {first[0]}: {first[1][0]}" if first else ""),
        )
    )

    # Every upload present once: duplicates answered with the original's id, one document per distinct sha.
    ups = obs["uploads"]
    failed_ups = [u for u in ups if u.get("status_code") != 202]
    by_sha: dict[str, set] = defaultdict(set)
    for u in ups:
        if u.get("id"):
            by_sha[u["sha256"]].add(u["id"])
    split = [sha for sha, s in by_sha.items() if len(s) > 1]
    # Exactly one accepted upload per content is the one that created it (racing copies: either may win).
    created = Counter(u["sha256"] for u in ups if u.get("id") and u.get("duplicate") is False)
    wrong_flag = [sha for sha in by_sha if created[sha] != 1]
    distinct = len({u["sha256"] for u in ups})
    docs = obs.get("listed_documents")
    listed_ids = [d["id"] for d in docs or ()]
    absent = [i for s in by_sha.values() for i in s if i not in set(listed_ids)]
    listed_sha = Counter(d["sha256"] for d in docs or ())
    twice = [sha for sha, n in listed_sha.items() if n > 1 and sha in by_sha]
    count_ok = len(listed_ids) == distinct if obs.get("fresh") else True
    checks.append(
        _check(
            "uploads all present",
            docs is not None
            and not failed_ups
            and not split
            and not wrong_flag
            and not absent
            and not twice
            and count_ok,
            f"{len(ups)} uploads of {distinct} distinct documents; {len(listed_ids)} documents listed; "
            f"{len(failed_ups)} uploads not accepted, {len(split)} contents stored under two ids, "
            f"{len(wrong_flag)} contents not created exactly once, {len(absent)} accepted ids not listed",
        )
    )

    server_errors = sum(
        n for k in obs.get("latency", {}).values() for c, n in k["status"].items() if c.startswith("5")
    )
    checks.append(
        _check("no 5xx responses", server_errors == 0, f"{server_errors} responses with a 5xx status")
    )
    client = obs.get("client_errors") or []
    checks.append(
        _check(
            "answers well-formed",
            not client,
            f"{len(client)} answers the client could not read" + (f", e.g. {client[0]}" if client else ""),
        )
    )
    return checks


def summarize(obs: dict) -> dict:
    jobs = obs["jobs"]
    status = Counter((j.get("final") or {}).get("status") or "never ended" for j in jobs if j.get("job_id"))
    findings = sum(len(j["findings"] or ()) for j in jobs if j.get("findings") is not None)
    bound = sum(j["questions"] * len(j["document_ids"]) * j["top_k"] for j in jobs if j.get("job_id"))
    docs = obs.get("listed_documents") or []
    return {
        "uploads": len(obs["uploads"]),
        "distinct_uploads": len({u["sha256"] for u in obs["uploads"]}),
        "documents_listed": len(docs),
        "documents_by_status": dict(Counter(d["status"] for d in docs)),
        "jobs_planned": len(jobs),
        "jobs_submitted": sum(1 for j in jobs if j.get("job_id")),
        "jobs_ended": sum(n for s, n in status.items() if s in TERMINAL),
        "jobs_by_status": dict(status),
        "questions_submitted": sum(j["questions"] for j in jobs if j.get("job_id")),
        "findings": findings,
        "findings_upper_bound": bound,  # questions x documents x top_k
        "job_polls": sum(j["polls"] for j in jobs),
    }


# ---- run and report ---------------------------------------------------------------------------------------
def run(
    cfg: LoadConfig,
    *,
    url: str | None = None,
    api_key: str | None = None,
    reader: str = "lexical",
    cpu_concurrency: int = 2,
    keep: bool = False,
    command: str = "",
) -> dict:
    nonce = secrets.token_hex(4)
    docs = generate_documents(cfg.uploads, cfg.pdf_fraction, cfg.seed, nonce)
    specs = plan_jobs(cfg, len(docs))
    if url:
        if not api_key:
            raise SystemExit("--url needs --api-key (or LONGCTX_API_KEY)")
        service_cm: contextlib.AbstractContextManager[Service] = contextlib.nullcontext(
            Service(url.rstrip("/"), api_key)
        )
    else:
        service_cm = local_service(reader, cpu_concurrency, keep=keep)
    with service_cm as service:
        print(
            f"load: {cfg.uploads} documents (+{cfg.duplicates} duplicates), {cfg.jobs} jobs x "
            f"{cfg.questions_per_job} questions -> {service.url}",
            file=sys.stderr,
            flush=True,
        )
        obs = asyncio.run(drive(service, cfg, docs, specs))
    obs["server_log"] = service.log_summary
    checks = check_integrity(obs)
    return {
        "command": command,
        "machine": _machine(),
        "service": {
            "url": service.url,
            "started_here": service.fresh,
            "reader": reader if service.fresh else "(as configured)",
            "broker": _kind(service.info.get("broker")),
            "database": _kind(service.info.get("database")),
            "cpu_concurrency": cpu_concurrency if service.fresh else None,
        },
        "config": asdict(cfg),
        "timing": obs["timing"],
        "summary": summarize(obs),
        "latency": obs["latency"],
        "checks": checks,
        "ok": all(c["ok"] for c in checks),
        "error_examples": obs["error_examples"],
        "server_log": obs["server_log"],
        "client_errors": obs["client_errors"],
        "observations": {k: obs[k] for k in ("uploads", "listed_jobs")},
    }


def _kind(url: str | None) -> str | None:
    if not url:
        return None
    for name in ("redis", "postgresql", "sqlite"):
        if name in url:
            return name
    return url.split(":", 1)[0]


def _machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def markdown(r: dict) -> str:
    s, t, m, svc = r["summary"], r["timing"], r["machine"], r["service"]
    lines = [
        "Command:",
        "",
        "```",
        r["command"],
        "```",
        "",
        f"Machine: {m['cpus']} CPU cores, Python {m['python']}, {m['platform']}; load average at the end "
        f"{m['load_average'][0]}. Service: database {svc['database'] or '?'}, broker {svc['broker'] or '?'}, "
        f"reader {svc['reader']}, started by the bench: {'yes' if svc['started_here'] else 'no'}.",
        "",
        "| uploads (distinct) | documents listed | jobs submitted | ended | succeeded | failed | never ended "
        "| questions | findings (bound q x d x k) | wall |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {s['uploads']} ({s['distinct_uploads']}) | {s['documents_listed']} | {s['jobs_submitted']} "
        f"| {s['jobs_ended']} | {s['jobs_by_status'].get('succeeded', 0)} "
        f"| {s['jobs_by_status'].get('failed', 0)} | {s['jobs_by_status'].get('never ended', 0)} "
        f"| {s['questions_submitted']} | {s['findings']} ({s['findings_upper_bound']}) "
        f"| {t.get('wall_s', 0):.1f} s |",
        "",
        f"All uploads answered after {t.get('uploads_done_s', 0):.1f} s; all jobs ended after "
        f"{t.get('jobs_done_s', 0):.1f} s "
        f"({s['questions_submitted'] / max(t.get('jobs_done_s', 0), 1e-9):.1f} questions/s end to end).",
        "",
        "| route kind | requests | peak in flight | non-2xx | status codes "
        "| p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for kind, row in r["latency"].items():
        codes = ", ".join(f"{c}: {n}" for c, n in row["status"].items()) or "-"
        lines.append(
            f"| {kind} | {row['requests']} | {row['peak_in_flight']} | {row['errors']} | {codes} "
            f"| {row['p50_ms']:.0f} | {row['p95_ms']:.0f} | {row['p99_ms']:.0f} | {row['max_ms']:.0f} |"
        )
    log = r.get("server_log") or {}
    if log:
        lines += ["", f"Service log: {log['error_lines']} ERROR lines, {log['tracebacks']} tracebacks."]
    lines += ["", "| integrity check | result | detail |", "|---|---|---|"]
    for c in r["checks"]:
        lines.append(f"| {c['name']} | {'pass' if c['ok'] else '**FAIL**'} | {c['detail']} |")
    return "\n".join(lines) + "\n"


def write_block(
    path: Path, label: str, body: str, *, marker: str = "longctx-bench-load", title: str = "# Reliability"
) -> None:
    """Replace this label's generated block in `path`, or append it (a new file gets `title`); `marker`
    names the command that owns the block (the other `bench` commands reuse this)."""
    start = MARK.format(marker=marker, label=label, edge="start")
    end = MARK.format(marker=marker, label=label, edge="end")
    block = f"{start}\n{body.rstrip()}\n{end}\n"
    text = path.read_text(encoding="utf-8") if path.exists() else f"{title}\n\n"
    if start in text and end in text:
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(end)
        text = head + block.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="longctx bench load", description=__doc__.splitlines()[0])
    d = LoadConfig()
    parser.add_argument("--quick", action="store_true", help="a small run (tests): " + json.dumps(QUICK))
    parser.add_argument("--uploads", type=int, default=None, help=f"distinct documents (default {d.uploads})")
    parser.add_argument("--duplicates", type=int, default=None, help=f"duplicate uploads ({d.duplicates})")
    parser.add_argument("--jobs", type=int, default=None, help=f"question jobs ({d.jobs})")
    parser.add_argument("--questions-per-job", type=int, default=None, help=f"({d.questions_per_job})")
    parser.add_argument("--max-docs-per-job", type=int, default=None, help=f"({d.max_docs_per_job})")
    parser.add_argument("--top-k", type=int, default=None, help=f"({d.top_k})")
    parser.add_argument("--concurrency", type=int, default=None, help=f"requests in flight ({d.concurrency})")
    parser.add_argument("--timeout", type=float, default=None, help="seconds for every job to end")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--url", default=None, help="a running service instead of starting one")
    parser.add_argument("--api-key", default=os.environ.get("LONGCTX_API_KEY"), help="with --url")
    parser.add_argument("--reader", default="lexical", choices=["lexical", "auto", "neural"])
    parser.add_argument("--cpu-concurrency", type=int, default=2, help="of the started service")
    parser.add_argument("--keep", action="store_true", help="keep the started service's data dir and log")
    parser.add_argument("--out", type=Path, default=None, help="JSON results file")
    parser.add_argument("--markdown", type=Path, default=None, help="page to write the table block to")
    parser.add_argument("--label", default="sqlite", help="name of the block in --markdown")
    args = parser.parse_args(argv)

    cfg = LoadConfig(**(QUICK if args.quick else {}))
    for name, value in (
        ("uploads", args.uploads),
        ("duplicates", args.duplicates),
        ("jobs", args.jobs),
        ("questions_per_job", args.questions_per_job),
        ("max_docs_per_job", args.max_docs_per_job),
        ("top_k", args.top_k),
        ("concurrency", args.concurrency),
        ("job_timeout_s", args.timeout),
    ):
        if value is not None:
            setattr(cfg, name, value)
    cfg.seed = args.seed
    shown = [a for a in (sys.argv[1:] if argv is None else argv)]
    if "--api-key" in shown:
        shown[shown.index("--api-key") + 1 : shown.index("--api-key") + 2] = ["***"]
    command = ("longctx bench load " + " ".join(shown)).strip()
    try:
        result = run(
            cfg,
            url=args.url,
            api_key=args.api_key,
            reader=args.reader,
            cpu_concurrency=args.cpu_concurrency,
            keep=args.keep,
            command=command,
        )
    except RuntimeError as exc:  # the service did not start
        print(f"longctx bench load: {exc}", file=sys.stderr)
        return 2
    text = markdown(result)
    print(text)
    if result["server_log"].get("tracebacks"):
        print(f"service log: {result['server_log']['tracebacks']} tracebacks; see --out", file=sys.stderr)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, default=str))
    if args.markdown:
        write_block(args.markdown, args.label, text)
    if not result["ok"]:
        print("integrity check FAILED: " + ", ".join(c["name"] for c in result["checks"] if not c["ok"]))
    return 0 if result["ok"] else 1
