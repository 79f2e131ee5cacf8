"""The hand-labelled SEC 10-Q fact set (`longctx/datasets/sec10q_facts.json`): schema checks that run
anywhere, and, when ../shared/data/sec10q/docs exists, checks of every fact against its cited PDF page and of
every absent question's key terms against its whole report (skipped with a reason otherwise)."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections import Counter
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from longctx.config import get_settings
from longctx.datasets.report_facts import (
    DATA_FILE,
    PERIOD_MONTHS,
    SCALES,
    STATEMENTS,
    UNITS,
    AbsentQuestion,
    ReportFact,
    load_report_facts,
    load_report_facts_json,
    normalise_value,
)

COMPANIES = {"AAPL": "Apple", "AMZN": "Amazon", "INTC": "Intel", "MSFT": "Microsoft", "NVDA": "NVIDIA"}
DOCS = {
    f"{period} {ticker}.pdf"
    for period in ("2022 Q3", "2023 Q1", "2023 Q2", "2023 Q3")
    for ticker in COMPANIES
}
FACT_FIELDS = {
    "id": str,
    "doc": str,
    "statement": str,
    "metric": str,
    "row_label": str,
    "period": str,
    "period_end": str,
    "period_months": int,
    "value_text": str,
    "value": float,
    "unit": str,
    "scale": str,
    "page": int,
    "questions": list,
}
ABSENT_FIELDS = {"id": str, "doc": str, "question": str, "why_absent": str, "key_terms": list}
MONTH_WORDS = {3: "Three", 6: "Six", 9: "Nine", 12: "Twelve"}


@pytest.fixture(scope="module")
def raw() -> dict:
    return load_report_facts_json()


@pytest.fixture(scope="module")
def loaded() -> tuple[list[ReportFact], list[AbsentQuestion]]:
    return load_report_facts()


# ---- normalise_value ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "scale", "expected"),
    [
        ("81,797", "millions", 81_797_000_000.0),
        ("$ 81,797", "In millions", 81_797_000_000.0),
        ("(265)", "millions", -265_000_000.0),
        ("(174 )", "millions", -174_000_000.0),
        ("$ (3,000)", "millions", -3_000_000_000.0),
        ("-5", "thousands", -5_000.0),
        ("—", "millions", 0.0),
        ("-", "millions", 0.0),
        ("1.26", "units", 1.26),
        ("(0.29)", "units", -0.29),
        ("12 %", "units", 12.0),
        ("2.5", "billions", 2_500_000_000.0),
    ],
)
def test_normalise_value(text, scale, expected):
    assert normalise_value(text, scale) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("text", "scale"), [("n/a", "millions"), ("", "millions"), ("12", "dozens")])
def test_normalise_value_rejects(text, scale):
    with pytest.raises(ValueError):
        normalise_value(text, scale)


# ---- schema (no shared data needed) ------------------------------------------------------------------------
def test_packaged_and_loadable(loaded):
    facts, absent = loaded
    assert all(isinstance(f, ReportFact) for f in facts) and all(
        isinstance(a, AbsentQuestion) for a in absent
    )
    with pytest.raises(FrozenInstanceError):
        facts[0].value = 0.0  # type: ignore[misc]
    assert DATA_FILE.endswith(".json")


def test_top_level(raw):
    assert raw["version"] == 1
    assert "KG-RAG" in raw["source"] and "MIT" in raw["source"]
    assert len(raw["facts"]) >= 170
    assert len(raw["absent"]) >= 60


def test_fields_present_and_typed(raw):
    for f in raw["facts"]:
        assert set(f) == set(FACT_FIELDS), f["id"]
        for name, kind in FACT_FIELDS.items():
            assert isinstance(f[name], kind) and not isinstance(f[name], bool), (f["id"], name)
            if kind is str:
                assert f[name].strip() == f[name] and f[name], (f["id"], name)
    for a in raw["absent"]:
        assert set(a) == set(ABSENT_FIELDS), a["id"]
        for name, kind in ABSENT_FIELDS.items():
            assert isinstance(a[name], kind), (a["id"], name)
        assert all(isinstance(t, str) and t.strip() for t in a["key_terms"]), a["id"]


def test_ids_unique_and_match_doc(raw):
    ids = [f["id"] for f in raw["facts"]] + [a["id"] for a in raw["absent"]]
    assert len(ids) == len(set(ids))
    for item in raw["facts"] + raw["absent"]:
        year, quarter, ticker = item["doc"].removesuffix(".pdf").split()
        assert item["doc"] in DOCS, item["id"]
        assert re.fullmatch(rf"{year}{quarter}-{ticker}-A?\d{{2,3}}", item["id"]), item["id"]


def test_enumerations(raw):
    for f in raw["facts"]:
        assert f["statement"] in STATEMENTS, f["id"]
        assert f["unit"] in UNITS, f["id"]
        assert f["scale"] in SCALES, f["id"]
        assert f["period_months"] in PERIOD_MONTHS, f["id"]
        assert f["page"] >= 1, f["id"]


def test_value_matches_text_and_unit(raw):
    for f in raw["facts"]:
        assert f["value"] == normalise_value(f["value_text"], f["scale"]), f["id"]
        if f["unit"] == "USD/share":
            assert f["scale"] == "units" and abs(f["value"]) < 1_000, f["id"]
            assert re.fullmatch(r"\(?\d+\.\d\d\)?", f["value_text"]), f["id"]
        elif f["unit"] == "USD":
            assert f["scale"] != "units", f["id"]
            assert f["value"] % SCALES[f["scale"]] == 0, f["id"]  # whole table units
            assert re.fullmatch(r"\(?\d{1,3}(,\d{3})*\)?|—", f["value_text"]), f["id"]


def _date_in(text: str, day: dt.date) -> bool:
    month = day.strftime("%B")
    names = {month, month[:3]}
    return str(day.year) in text and any(re.search(rf"\b{m}\.? {day.day},", text) for m in names)


def test_periods_parse_and_agree(raw):
    for f in raw["facts"]:
        end = dt.date.fromisoformat(f["period_end"])
        assert dt.date(2021, 1, 1) <= end <= dt.date(2023, 12, 31), f["id"]
        assert _date_in(f["period"], end), (f["id"], f["period"])
        if f["period_months"] == 0:
            assert f["period"].startswith("As of "), f["id"]
        else:
            assert f["period"].startswith(f"{MONTH_WORDS[f['period_months']]} Months Ended "), f["id"]


def test_periods_mixed(raw):
    months = Counter(f["period_months"] for f in raw["facts"])
    assert months[6] + months[9] + months[12] >= 30
    assert months[0] >= 30
    assert months[3] >= 30
    # prior-year comparatives, not only the current column: ends a year before the report's latest date
    latest: dict[str, str] = {}
    for f in raw["facts"]:
        latest[f["doc"]] = max(latest.get(f["doc"], ""), f["period_end"])
    ends = {d: dt.date.fromisoformat(e) for d, e in latest.items()}
    prior = [
        f
        for f in raw["facts"]
        if f["period_months"] > 0 and (ends[f["doc"]] - dt.date.fromisoformat(f["period_end"])).days > 300
    ]
    assert len(prior) >= 30


def test_coverage(raw):
    per_doc = Counter(f["doc"] for f in raw["facts"])
    assert set(per_doc) == DOCS
    assert min(per_doc.values()) >= 8
    assert set(a["doc"] for a in raw["absent"]) == DOCS
    assert min(Counter(a["doc"] for a in raw["absent"]).values()) >= 3
    kinds = Counter(f["statement"] for f in raw["facts"])
    assert len(kinds) >= 4
    assert all(kinds[k] >= 10 for k in ("income", "balance", "cash_flow", "segment"))
    for doc in DOCS:  # each report: at least its three primary statements
        assert {"income", "balance", "cash_flow"} <= {f["statement"] for f in raw["facts"] if f["doc"] == doc}
    assert len({f["metric"] for f in raw["facts"]}) >= 40  # varied metrics, not the same rows everywhere


def test_questions(raw):
    every = []
    for f in raw["facts"]:
        company = COMPANIES[f["doc"].removesuffix(".pdf").split()[2]]
        qs = f["questions"]
        assert len(qs) == 2 and qs[0] != qs[1], f["id"]
        for q in qs:
            assert company.lower() in q.lower(), (f["id"], q)
            assert q.endswith("?") and len(q) >= 30, (f["id"], q)
        every += qs
    for a in raw["absent"]:
        company = COMPANIES[a["doc"].removesuffix(".pdf").split()[2]]
        assert company.lower() in a["question"].lower() and a["question"].endswith("?"), a["id"]
        assert a["why_absent"], a["id"]
        every.append(a["question"])
    assert len(every) == len(set(every)), [q for q, n in Counter(every).items() if n > 1]
    with_terms = [a for a in raw["absent"] if a["key_terms"]]
    assert len(with_terms) >= 0.9 * len(raw["absent"])


# ---- against the PDFs (needs ../shared/data/sec10q/docs) ---------------------------------------------------
def _docs_dir() -> Path:
    root = get_settings().data_root
    if root is None or not (root / "sec10q" / "docs").is_dir():
        pytest.skip(
            "needs ../shared/data/sec10q/docs (set LONGCTX_SHARED_DATA_DIR); not present on this machine"
        )
    return root / "sec10q" / "docs"


def _norm(text: str) -> str:
    """Whitespace collapsed, and no space before ")" (pypdf prints "(5,644 )" for some Microsoft cells)."""
    return re.sub(r"\s+\)", ")", re.sub(r"\s+", " ", text))


def _cited_pages(path: Path, numbers: set[int]) -> dict[int, str]:
    """pypdf text of the given 1-based pages (the text the labels were read from)."""
    import pypdf

    # Some of these reports have arrays longer than pypdf's default safety limit (pypdf >= 6).
    configure = getattr(pypdf, "apply_configuration", None)
    ctx = (
        configure(array_maximum_element_count=10**8, dictionary_maximum_element_count=10**8)
        if configure
        else contextlib.nullcontext()
    )
    with ctx:
        reader = pypdf.PdfReader(path)
        count = len(reader.pages)
        return {n: _norm(reader.pages[n - 1].extract_text() or "") for n in sorted(numbers) if n <= count}


def _full_text(path: Path) -> str:
    """Every page of a report (pypdfium2: a second extractor, and ten times faster than pypdf over 20
    whole reports; the key terms were also checked absent from pypdf's text when the set was made)."""
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(path))
    try:
        return _norm(" ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf))))
    finally:
        pdf.close()


@pytest.fixture(scope="module")
def docs_dir() -> Path:
    docs = _docs_dir()
    missing = sorted(d for d in DOCS if not (docs / d).is_file())
    assert not missing, f"reports missing from {docs}: {missing}"
    return docs


@pytest.fixture(scope="module")
def report_pages(raw, docs_dir) -> dict[str, dict[int, str]]:
    wanted: dict[str, set[int]] = {}
    for f in raw["facts"]:
        wanted.setdefault(f["doc"], set()).add(f["page"])
    return {doc: _cited_pages(docs_dir / doc, pages) for doc, pages in sorted(wanted.items())}


def _has_number(page: str, value_text: str) -> bool:
    """`value_text` as a whole number on the page: "129" does not match inside "1,295" or "129.5"."""
    return re.search(rf"(?<![\d,.]){re.escape(value_text)}(?![\d]|[,.]\d)", page) is not None


@pytest.mark.data
def test_fact_cells_on_cited_page(raw, report_pages):
    problems = []
    for f in raw["facts"]:
        page = report_pages[f["doc"]].get(f["page"])
        if page is None:
            problems.append((f["id"], "page out of range"))
            continue
        if not _has_number(page, f["value_text"]):
            problems.append((f["id"], "value", f["value_text"]))
        label_start = _norm(f["row_label"])[:30]
        if label_start not in page:
            problems.append((f["id"], "row label", label_start))
        elif not re.search(re.escape(label_start) + r".{0,160}?" + re.escape(f["value_text"]), page):
            problems.append((f["id"], "value not after its row label", f["value_text"]))
    assert not problems, problems


@pytest.mark.data
def test_absent_key_terms_nowhere_in_report(raw, docs_dir):
    texts = {doc: _full_text(docs_dir / doc).lower() for doc in sorted(DOCS)}
    problems = []
    for a in raw["absent"]:
        text = texts[a["doc"]]
        assert len(text) > 50_000, a["doc"]  # the whole report was read, not an empty text layer
        problems += [(a["id"], t) for t in a["key_terms"] if _norm(t).lower() in text]
    assert not problems, problems
