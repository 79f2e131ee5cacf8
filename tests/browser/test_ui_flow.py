"""The Streamlit UI in headless Chromium against a real `longctx serve` (API + workers + UI) started here.

Flow: sign in (a wrong key is refused first), upload a generated contract, a CUAD contract (when the shared
data is present) and a broken PDF at once, wait until they are ready / failed with a reason, ask a question
and see a cited answer with its page rendered, extract key terms with the contract schema, look at the jobs.

Screenshots of every page go to docs/screenshots/ when LONGCTX_SCREENSHOTS is set ("1"; or a folder path),
otherwise to the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.pdfgen import garbage_pdf, make_pdf

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
QUESTION = "Which state's law governs this agreement?"
CUAD_NAME = "TICKETSCOMINC_06_22_1999-EX-10.22-SPONSORSHIP AGREEMENT.PDF"  # 2 pages, California law
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTH, HEIGHT = 1440, 2400  # one tall viewport: no resizes before screenshots
SLOW = 120_000  # ms: parsing and answering on a CPU-only CI machine

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(420),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)"
    ),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package")
expect = playwright_api.expect

CONTRACT_PAGES = [
    "MASTER SERVICES AGREEMENT\n"
    "This Master Services Agreement is made on March 1, 2024 between\n"
    "Northwind Analytics Inc. and Contoso Legal LLP.\n"
    "1. Services. Northwind shall provide document review services.\n"
    "2. Fees. Contoso shall pay the fees within thirty days of each invoice.",
    "3. Term. This Agreement has an initial term of two years.\n"
    "4. Governing Law. This Agreement shall be governed by and construed in\n"
    "accordance with the laws of the State of Delaware.\n"
    "5. Assignment. Neither party may assign this Agreement without consent.",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "longctx.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"longctx {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"longctx serve exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {timeout:.0f}s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`longctx serve` on free ports with its own data dir, and an API key for a fresh tenant.

    LONGCTX_UI_TEST_URL + LONGCTX_UI_TEST_KEY point the test at a UI that is already running instead.
    """
    if os.environ.get("LONGCTX_UI_TEST_URL"):
        yield {"ui": os.environ["LONGCTX_UI_TEST_URL"], "key": os.environ.get("LONGCTX_UI_TEST_KEY", "")}
        return
    help_text = subprocess.run(
        [sys.executable, "-m", "longctx.cli", "--help"], capture_output=True, text=True, cwd=REPO
    ).stdout
    if not re.search(r"\bserve\b", help_text):
        pytest.skip("`longctx serve` is not available in this checkout")
    data = tmp_path_factory.mktemp("serve-data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGCTX_")}
    shared = os.environ.get("LONGCTX_SHARED_DATA_DIR")
    env.update(LONGCTX_DATA_DIR=str(data), PYTHONUNBUFFERED="1")
    if shared:
        env["LONGCTX_SHARED_DATA_DIR"] = shared
    _cli("tenants", "create", "ui-test", env=env)
    key = json.loads(_cli("keys", "create", "ui-test", env=env))["key"]
    api_port, ui_port = _free_port(), _free_port()
    log = data / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "longctx.cli",
                "serve",
                "--data-dir",
                str(data),
                "--port",
                str(api_port),
                "--ui-port",
                str(ui_port),
            ],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_http(f"http://127.0.0.1:{api_port}/readyz", proc, log, 120)
        _wait_http(f"http://127.0.0.1:{ui_port}/_stcore/health", proc, log, 120)
        yield {
            "api": f"http://127.0.0.1:{api_port}",
            "ui": f"http://127.0.0.1:{ui_port}",
            "key": key,
            "log": str(log),
        }
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the serve process group started above
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = os.environ.get("LONGCTX_SCREENSHOTS")
    if target:
        folder = REPO / "docs/screenshots" if target.lower() in {"1", "true", "yes"} else Path(target)
    else:
        folder = tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | None]:
    folder = tmp_path_factory.mktemp("uploads")
    contract = folder / "northwind-msa.pdf"
    contract.write_bytes(make_pdf(CONTRACT_PAGES, title="Northwind MSA"))
    broken = folder / "broken-scan.pdf"
    broken.write_bytes(garbage_pdf(4096, seed=7))
    cuad = None
    try:
        from longctx.config import get_settings

        root = get_settings().data_root
    except Exception:  # settings unreadable: run without the shared data
        root = None
    if root is not None and (root / "cuad/pdf" / CUAD_NAME).is_file():
        cuad = folder / CUAD_NAME
        shutil.copyfile(root / "cuad/pdf" / CUAD_NAME, cuad)
    return {"contract": contract, "broken": broken, "cuad": cuad}


@pytest.fixture(scope="module")
def page(service: dict[str, str]) -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        yield tab
        context.close()
        browser.close()


def snap(page, folder: Path, name: str, until: str | None = None) -> None:  # noqa: ANN001
    """Screenshot the app down to the end of its content (the viewport is tall; no resize)."""
    page.wait_for_timeout(800)
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(
        0, timeout=20_000
    )  # no run in flight
    bottom = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=stMainBlockContainer]');"
        " return m ? m.getBoundingClientRect().bottom : document.body.scrollHeight }"
    )
    if until is not None:  # stop below this element (e.g. the first answer) to keep the image readable
        box = page.locator(until).first.bounding_box()
        if box:
            bottom = box["y"] + box["height"]
    height = int(min(max(bottom + 40, 900), HEIGHT))
    page.screenshot(path=str(folder / f"{name}.png"), clip={"x": 0, "y": 0, "width": WIDTH, "height": height})


def go(page, title: str, heading: str) -> None:  # noqa: ANN001
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=heading)).to_be_visible()


def choose(page, label: str, texts: list[str]) -> None:  # noqa: ANN001
    """Replace a multiselect's choice with the options containing `texts`."""
    box = page.get_by_test_id("stMultiSelect").filter(has=page.get_by_text(label, exact=True))
    expect(box.get_by_role("combobox")).to_be_visible()
    page.wait_for_timeout(300)
    clear = box.get_by_role("button", name="Clear all")
    if clear.count():
        clear.click()
    expect(box.get_by_role("button", name=re.compile("^Remove "))).to_have_count(0)
    for text in texts:
        field = box.get_by_role("combobox")
        field.click()
        field.press_sequentially(text, delay=10)
        page.get_by_role("option", name=re.compile(re.escape(text))).first.click()
    page.keyboard.press("Escape")


def test_wrong_key_is_refused(page, service: dict[str, str], shots: Path) -> None:  # noqa: ANN001
    page.goto(service["ui"])
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=60_000)
    page.get_by_label("API key", exact=True).fill("lcx_not_a_real_key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("This API key was not accepted")).to_be_visible()
    page.get_by_label("API key", exact=True).fill("")
    snap(page, shots, "signin")


def test_upload_ask_extract(
    page,
    service: dict[str, str],
    files: dict[str, Path | None],  # noqa: ANN001
    shots: Path,
) -> None:
    # sign in
    page.get_by_label("API key", exact=True).fill(service["key"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Upload documents")).to_be_visible()
    expect(page.get_by_text("No uploads in this session yet")).to_be_visible()
    assert service["key"] not in page.url

    # upload several files at once: one generated contract, one CUAD contract (when present), one broken PDF
    uploads = [p for p in (files["broken"], files["contract"], files["cuad"]) if p is not None]
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(p) for p in uploads])
    page.get_by_role("button", name=f"Upload {len(uploads)} file(s)").click()
    good = len(uploads) - 1
    expect(page.get_by_text(re.compile(r"^Ready — \d+ pages"))).to_have_count(good, timeout=SLOW)
    failure = page.get_by_test_id("stAlertContentError").filter(has_text="broken-scan.pdf:")
    expect(failure).to_be_visible(timeout=SLOW)
    reason = failure.inner_text().split("broken-scan.pdf:", 1)[1].strip()
    assert len(reason) > 5, f"the failed upload shows no reason: {failure.inner_text()!r}"
    snap(page, shots, "upload")

    # documents table
    go(page, "Documents", "Documents")
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    total = page.get_by_test_id("stMetric").filter(has_text="Documents").get_by_test_id("stMetricValue")
    assert int(re.sub(r"\D", "", total.inner_text())) >= len(uploads)
    snap(page, shots, "documents")

    # ask: the generated contract first (always there), then the CUAD one for the screenshot
    go(page, "Ask", "Ask a question")
    targets = [("northwind-msa.pdf", "Delaware", 2)]
    if files["cuad"] is not None:
        targets.append((CUAD_NAME[:30], None, None))
    for name, expected_answer, expected_page in targets:
        choose(page, "Documents", [name])
        page.get_by_label("Question", exact=True).fill(QUESTION)
        page.get_by_role("button", name="Ask", exact=True).click()
        first = page.get_by_role("heading", name=re.compile(rf"^#1 · {re.escape(name)}.* · page \d+$", re.I))
        expect(first).to_be_visible(timeout=SLOW)
        heading = first.inner_text()
        assert name.lower()[:20] in heading.lower(), heading
        answer = page.locator(".lc-answer-text").first
        expect(answer).not_to_be_empty()
        expect(page.locator("mark.lc-answer").first).to_be_visible()  # marked inside the page text
        expect(page.get_by_test_id("stImage").first).to_be_visible()  # the rendered PDF page
        if expected_answer:
            assert (
                expected_answer in answer.inner_text()
                or expected_answer in page.locator("mark.lc-answer").first.inner_text()
            ), answer.inner_text()
            assert heading.endswith(f"page {expected_page}"), heading
        expect(
            page.get_by_text(re.compile(r"answer is highlighted|cited passage is highlighted")).first
        ).to_be_visible()
        snap(page, shots, "ask", until=".st-key-ask_answer_1")

    # extract key terms with the contract schema, side by side
    go(page, "Extract", "Extract key terms")
    schema = page.get_by_role("combobox", name="Schema")
    schema.click()
    page.get_by_role("option", name=re.compile(r"^contract")).click()
    choose(page, "Documents", [t[0] for t in targets])
    page.get_by_role("button", name="Extract key terms").click()
    expect(page.get_by_role("heading", name="Key terms side by side")).to_be_visible(timeout=SLOW)
    for label in ("Export CSV", "Export JSON", "Export Excel"):
        expect(page.get_by_role("button", name=label)).to_be_visible()
    snap(page, shots, "extract")

    # jobs: every job listed with its status
    go(page, "Jobs & batches", "Jobs & batches")
    expect(page.get_by_test_id("stMetric").filter(has_text="Succeeded")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    snap(page, shots, "jobs")


def _api(service: dict[str, str], method: str, path: str, **kw) -> dict:  # noqa: ANN003
    r = httpx.request(method, service["api"] + path, headers={"X-API-Key": service["key"]}, timeout=60, **kw)
    assert r.status_code < 300, r.text
    return r.json()


def _ready(service: dict[str, str], doc_id: str, timeout: float = SLOW / 1000) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = _api(service, "GET", f"/v1/documents/{doc_id}")
        if doc["status"] in ("ready", "failed"):
            return doc
        time.sleep(1)
    pytest.fail(f"document {doc_id} not parsed within {timeout:.0f}s")


def _answer(service: dict[str, str], doc_id: str) -> dict:
    job = _api(service, "POST", "/v1/questions", json={"document_ids": [doc_id], "questions": [QUESTION]})
    deadline = time.monotonic() + SLOW / 1000
    while _api(service, "GET", f"/v1/jobs/{job['job_id']}")["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, "the question was not answered in time"
        time.sleep(1)
    items = _api(service, "GET", f"/v1/jobs/{job['job_id']}/findings")["items"]
    return max((f for f in items if f["answer"]), key=lambda f: f["score"])


def _folded(text: str) -> str:
    return "".join(ch.lower() for ch in text if ch.isalnum())


def test_scanned_contract_highlight(page, service: dict[str, str], shots: Path, tmp_path: Path) -> None:  # noqa: ANN001
    """A text-layer contract rasterised to image-only PDFs (200 and 300 dpi): parsed with OCR, the
    governing-law answer is the digital PDF's clause on the same page, and the Ask page boxes it on the scan
    (screenshot `ocr-highlight`)."""
    from longctx.bench.ocr import rasterize_pdf
    from longctx.config import get_settings
    from longctx.ingest.ocr import engine_status

    if engine_status().problem:
        pytest.skip(f"needs Tesseract for OCR ({engine_status().problem})")
    if "api" not in service:
        pytest.skip("needs the REST API of the service started here")
    root = get_settings().data_root
    source = root / "cuad/pdf" / CUAD_NAME if root is not None else None
    digital = tmp_path / "digital.pdf"
    if source is not None and source.is_file():
        shutil.copyfile(source, digital)
        stem = "tickets"
    else:  # no shared data: the generated contract, typed onto an image-only PDF
        digital.write_bytes(make_pdf(CONTRACT_PAGES, title="Northwind MSA"))
        stem = "northwind"
    scans = {dpi: rasterize_pdf(digital, tmp_path / f"{stem}-scan-{dpi}dpi.pdf", dpi) for dpi in (200, 300)}

    ids = {}
    for name, path in (("digital", digital), *((dpi, p) for dpi, p in scans.items())):
        with path.open("rb") as fh:
            up = _api(service, "POST", "/v1/documents", files={"file": (path.name, fh, "application/pdf")})
        ids[name] = up["id"]
    docs = {name: _ready(service, doc_id) for name, doc_id in ids.items()}
    for dpi in scans:
        assert docs[dpi]["status"] == "ready", docs[dpi]
        assert docs[dpi]["ocr"]["pages"] == list(range(1, docs[dpi]["pages"] + 1))
    answers = {name: _answer(service, doc_id) for name, doc_id in ids.items()}
    for dpi in scans:
        scan, ref = answers[dpi], answers["digital"]
        assert scan["page"] == ref["page"], (scan, ref)
        assert _folded(scan["answer"]) == _folded(ref["answer"]), (scan["answer"], ref["answer"])
        assert scan["ocr_confidence"] is not None and ref["ocr_confidence"] is None
        # the answer's words have boxes on that page: the UI draws these
        words = _api(service, "GET", f"/v1/documents/{ids[dpi]}/pages/{scan['page']}/words")
        start = (
            scan["char_start"]
            - _api(service, "GET", f"/v1/documents/{ids[dpi]}/pages/{scan['page']}")["char_start"]
        )
        covered = [w for w in words["words"] if w["start"] < start + len(scan["answer"]) and w["end"] > start]
        assert covered and all(0 <= w["box"][0] < w["box"][2] <= 1 for w in covered)

    # the Ask page on the 300 dpi scan: the clause boxed on the rendered scan
    page.goto(service["ui"])
    expect(page.get_by_role("heading", name=re.compile("Sign in|Upload documents"))).to_be_visible(
        timeout=60_000
    )
    if page.get_by_role("heading", name="Sign in").count():
        page.get_by_label("API key", exact=True).fill(service["key"])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Upload documents")).to_be_visible()
    go(page, "Ask", "Ask a question")
    name = scans[300].name
    choose(page, "Documents", [name])
    page.get_by_label("Question", exact=True).fill(QUESTION)
    page.get_by_role("button", name="Ask", exact=True).click()
    first = page.get_by_role("heading", name=re.compile(rf"^#1 · {re.escape(name)} · page \d+$"))
    expect(first).to_be_visible(timeout=SLOW)
    assert first.inner_text().endswith(f"page {answers[300]['page']}")
    expect(page.get_by_text(re.compile(r"Read by OCR from the scanned page")).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"the answer is highlighted")).first).to_be_visible()
    expect(page.locator("mark.lc-answer").first).to_be_visible()
    snap(page, shots, "ocr-highlight", until=".st-key-ask_answer_1")
