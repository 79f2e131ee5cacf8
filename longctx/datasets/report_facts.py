"""Hand-labelled financial-statement facts from the 20 SEC 10-Q reports, to judge a table-fact extractor.

**Why.** The reader answers report questions ("What was Intel's capex in the first half of 2023?") from
statement tables, where one wrong column (prior year instead of current, nine months instead of three) gives
a plausible but wrong number. `qna_data.csv` has too few table questions to measure that, so this set gives
each report about ten cells of its primary statements (income statement, balance sheet, cash-flow statement),
its segment / geographic tables and a few other tables (revenue by product, dividends per share), spread over
the periods a 10-Q prints: the quarter, the same quarter a year earlier, year to date (six or nine months,
and Amazon's trailing twelve months), and the two balance-sheet dates. Every fact has two analyst questions,
one direct and one paraphrased (little word overlap with the row label, the period said differently).
``absent`` holds questions whose answer the report does not contain (no such metric, a segment that no
longer exists, a period the report does not present): the honest answer is "not in the document".

**How it was labelled.** By reading each report's page text (pypdf ``extract_text``) as an annotator would:
the column headers of each table were mapped by hand (Amazon prints the prior year first; NVIDIA's segment
note puts the segments in columns and the periods in row groups) and each value was copied as printed. No
table parser produced or checked the labels (that would make the evaluation circular); a checking script and
`tests/test_report_facts_data.py` verify only that each value and row label occur on the cited page, that
``value`` matches ``value_text`` and the scale, and that the key terms of the absent questions occur nowhere
in their report. ``page`` is the 1-based index of the PDF page as pypdf counts pages, not the printed page
number. Values are normalised to base units: ``81797000000.0`` for "81,797" in a table "in millions",
``-265000000.0`` for "(265)"; per-share amounts have scale ``units``.

**Licence.** The 10-Q PDFs are from docugami KG-RAG-datasets (MIT licence); the labels, questions and this
loader are part of this project. The reports themselves are not copied here: the facts cite them by file name
under ``../shared/data/sec10q/docs``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from importlib import resources

DATA_FILE = "sec10q_facts.json"
STATEMENTS = ("income", "balance", "cash_flow", "segment", "other")
UNITS = ("USD", "USD/share", "shares", "percent")
SCALES = {"units": 1, "thousands": 1_000, "millions": 1_000_000, "billions": 1_000_000_000}
PERIOD_MONTHS = (0, 3, 6, 9, 12)  # 0 = a point in time (balance sheet)


@dataclass(frozen=True)
class ReportFact:
    """One statement cell: the value at the intersection of `row_label` and the `period` column."""

    id: str  # "2023Q3-AAPL-001"
    doc: str  # file name under sec10q/docs, e.g. "2023 Q3 AAPL.pdf"
    statement: str  # one of STATEMENTS
    metric: str  # canonical short name, e.g. "total net sales"
    row_label: str  # as printed, e.g. "Total net sales"
    period: str  # as the column header says, e.g. "Three Months Ended July 1, 2023"
    period_end: dt.date
    period_months: int  # one of PERIOD_MONTHS
    value_text: str  # as printed, e.g. "81,797", "(265)", "1.26"
    value: float  # in base units: 81797000000.0, -265000000.0, 1.26
    unit: str  # one of UNITS
    scale: str  # one of SCALES, as the table header says
    page: int  # 1-based PDF page index (pypdf order)
    questions: tuple[str, ...]  # a direct question and a paraphrase


@dataclass(frozen=True)
class AbsentQuestion:
    """A question about a report whose answer the report does not contain."""

    id: str
    doc: str
    question: str
    why_absent: str
    key_terms: tuple[str, ...] = ()  # phrases that occur nowhere in the report (checked against its text)


_DASHES = {"—", "–", "-", "−"}


def normalise_value(text: str, scale: str) -> float:
    """The number a table cell means, in base units: "$ 81,797" in millions -> 81797000000.0.

    Handles "$", commas and spaces, parentheses as negative ("(265)", "(174 )"), a leading minus sign,
    dashes ("—", "–", "-") as zero, a trailing "%", and `scale` as a word ("millions", "In millions",
    "thousands", "billions", "units"); ValueError when the text is not a number or the scale is unknown.
    """
    s = text.strip().replace("$", "").replace(",", "").replace(" ", "").replace("\u00a0", "")
    if s in _DASHES or s == "":
        if s == "":
            raise ValueError(f"not a number: {text!r}")
        return 0.0
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1]
    if s.endswith("%"):
        s = s[:-1]
    if s[:1] in _DASHES and len(s) > 1:
        negative, s = not negative, s[1:]
    if not re.fullmatch(r"\d+(\.\d+)?|\.\d+", s):
        raise ValueError(f"not a number: {text!r}")
    factor = _scale_factor(scale)
    # integer cells stay exact: int * factor, then one rounding to float
    number = int(s) * factor if "." not in s else float(s) * factor
    return float(-number if negative else number)


def _scale_factor(scale: str) -> int:
    words = scale.lower()
    for name in ("billions", "millions", "thousands", "units"):
        if name in words or name.rstrip("s") in words.split():
            return SCALES[name]
    raise ValueError(f"unknown scale: {scale!r}")


def _fact(raw: dict) -> ReportFact:
    return ReportFact(
        id=raw["id"],
        doc=raw["doc"],
        statement=raw["statement"],
        metric=raw["metric"],
        row_label=raw["row_label"],
        period=raw["period"],
        period_end=dt.date.fromisoformat(raw["period_end"]),
        period_months=int(raw["period_months"]),
        value_text=raw["value_text"],
        value=float(raw["value"]),
        unit=raw["unit"],
        scale=raw["scale"],
        page=int(raw["page"]),
        questions=tuple(raw["questions"]),
    )


def load_report_facts_json() -> dict:
    """The packaged JSON as it is: {"version", "source", "facts", "absent"}."""
    text = resources.files("longctx.datasets").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def load_report_facts() -> tuple[list[ReportFact], list[AbsentQuestion]]:
    """The facts and the absent questions of the packaged set, in file order."""
    data = load_report_facts_json()
    facts = [_fact(f) for f in data["facts"]]
    absent = [
        AbsentQuestion(
            id=a["id"],
            doc=a["doc"],
            question=a["question"],
            why_absent=a["why_absent"],
            key_terms=tuple(a.get("key_terms", ())),
        )
        for a in data["absent"]
    ]
    return facts, absent
