"""Tables as structure (ingest/tables.py) and answers from their cells (analysis/table_facts.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from longctx.analysis.reader import ReaderDocument
from longctx.analysis.table_facts import TableFacts
from longctx.ingest.tables import (
    Table,
    _locate,
    _tables_on_page,
    _Word,
    parse_date,
    parse_duration_months,
    parse_number,
    rebase_tables,
)

RIGHT_EDGES = (360.0, 430.0, 500.0, 570.0)


def _line(top: float, label: str, values: list[str] = (), x0: float = 20.0) -> list[_Word]:
    words, x = [], x0
    for w in label.split():
        words.append(_Word(w, x, x + 6 * len(w), top))
        x += 6 * len(w) + 3
    for v, right in zip(values, RIGHT_EDGES, strict=False):
        words.append(_Word(v, right - 6 * len(v), right, top))
    return words


def _header(top: float, phrases: list[tuple[str, float]]) -> list[_Word]:
    out = []
    for text, centre in phrases:  # header type is small: 4 pt a character
        width = 4 * len(text)
        x = centre - width / 2
        for w in text.split():
            out.append(_Word(w, x, x + 4 * len(w), top))
            x += 4 * len(w) + 2
    return out


CENTRES = [r - 15 for r in RIGHT_EDGES]
STATEMENT = [
    ("ACME CORP", []),
    ("CONDENSED CONSOLIDATED STATEMENTS OF OPERATIONS (Unaudited)", []),
    ("(In millions, except per share amounts)", []),
    None,  # header: durations
    None,  # header: dates
    ("Net sales:", []),
    ("Products", ["60,584", "63,355", "230,901", "245,241"]),
    ("Services", ["21,213", "19,604", "62,886", "58,941"]),
    ("Total net sales", ["81,797", "82,959", "293,787", "304,182"]),
    ("Gross margin", ["36,413", "35,885", "128,721", "132,687"]),
    ("Research and development", ["7,442", "6,797", "22,608", "19,490"]),
    ("Other income/(expense), net", ["(265)", "(10)", "(594)", "(97)"]),
    ("Net income", ["19,881", "19,442", "74,039", "79,082"]),
    ("Earnings per share:", []),
    ("Diluted", ["1.26", "1.20", "4.67", "4.82"]),
]


def _statement_page() -> tuple[list[_Word], str]:
    words: list[_Word] = []
    text_lines: list[str] = []
    top = 50.0
    for item in STATEMENT:
        top += 12
        if item is None:
            if not any(w.text == "Three" for w in words):
                words += _header(
                    top,
                    [
                        ("Three Months Ended", (CENTRES[0] + CENTRES[1]) / 2),
                        ("Nine Months Ended", (CENTRES[2] + CENTRES[3]) / 2),
                    ],
                )
                text_lines.append("Three Months Ended Nine Months Ended")
            else:
                dates = ["July 1, 2023", "June 25, 2022", "July 1, 2023", "June 25, 2022"]
                words += _header(top, list(zip(dates, CENTRES, strict=True)))
                text_lines.append(" ".join(dates))
            continue
        label, values = item
        words += _line(top, label, values)
        text_lines.append(" ".join([label, *values]))
    return words, "\n".join(text_lines)


def _document() -> ReaderDocument:
    words, page_text = _statement_page()
    tables = _tables_on_page(words, 612.0)
    for t in tables:
        _locate(t, page_text, 0)
        t["page"], t["index"] = 2, 0
    doc = ReaderDocument.from_pages("acme", [(1, "ACME CORP quarterly report. Form 10-Q."), (2, page_text)])
    doc.tables = [Table.from_json(t) for t in rebase_tables(tables, {n: s for n, s, _ in doc.pages})]
    return doc


def test_numbers_dates_and_durations_parse():
    assert parse_number("(2,028)") == -2028.0
    assert parse_number("$ 60,584") == 60584.0
    assert parse_number("—") == 0.0
    assert parse_number("12.5%") == 12.5
    assert str(parse_date("Three Months Ended Sep 30, 2023")) == "2023-09-30"
    assert parse_duration_months("Nine Months Ended July 1, 2023") == 9
    assert parse_duration_months("26 weeks ended") == 6
    assert parse_duration_months("July 1, 2023") is None


def test_a_statement_page_becomes_rows_columns_periods_and_units():
    doc = _document()
    (t,) = doc.tables
    assert t.kind == "income" and t.scale == "millions"
    assert "STATEMENTS OF OPERATIONS" in t.title
    assert [(c.period_end, c.period_months) for c in t.columns] == [
        ("2023-07-01", 3),
        ("2022-06-25", 3),
        ("2023-07-01", 9),
        ("2022-06-25", 9),
    ]
    rows = {r.label: r for r in t.rows}
    assert rows["Products"].section == "Net sales"
    assert rows["Diluted"].unit == "USD/share" and rows["Diluted"].scale == "units"
    total = rows["Total net sales"]
    assert [c.text for c in total.cells] == ["81,797", "82,959", "293,787", "304,182"]
    assert total.value(total.cells[0]) == 81_797_000_000.0
    for cell in total.cells:  # every cell's span is exactly its characters in the document text
        assert doc.text[cell.start : cell.end] == cell.text
    assert doc.text[total.label_start : total.label_end] == "Total net sales"
    assert rows["Other income/(expense), net"].value(rows["Other income/(expense), net"].cells[0]) == -265e6


@pytest.mark.parametrize(
    ("question", "want_text", "want_period"),
    [
        (
            "What was ACME's total net sales for the three months ended July 1, 2023?",
            "81,797",
            ("2023-07-01", 3),
        ),
        ("How much revenue did ACME bring in during the latest quarter?", "81,797", ("2023-07-01", 3)),
        ("What were ACME's net sales in the same quarter a year ago?", "82,959", ("2022-06-25", 3)),
        ("ACME net income for the nine months ended June 25, 2022?", "79,082", ("2022-06-25", 9)),
        ("How much did ACME spend on R&D year to date?", "22,608", ("2023-07-01", 9)),
        ("What was ACME's diluted EPS for the quarter?", "1.26", ("2023-07-01", 3)),
        ("What were services net sales for the quarter ended July 1, 2023?", "21,213", ("2023-07-01", 3)),
    ],
)
def test_a_metric_for_a_period_is_answered_from_its_cell(question, want_text, want_period):
    doc = _document()
    (top, *_) = TableFacts(doc).answer(question)
    assert top.text == want_text and top.score >= 0.5
    d = top.detail
    assert (d["period_end"], d["period_months"]) == want_period
    assert d["computed"] is False and d["row_label"] and d["column_header"]
    assert doc.text[top.char_start : top.char_end] == want_text
    assert top.page == 2 and want_text in top.passage


@pytest.mark.parametrize(
    "question",
    [
        "What goodwill impairment did ACME record in the quarter?",
        "What was ACME's EBITDA for the quarter?",
        "What were ACME's total net sales for the three months ended March 31, 2020?",
        "What were ACME's net sales for the six months ended July 1, 2023?",
        "Why did ACME's net sales decline in the quarter?",
    ],
)
def test_a_fact_the_tables_do_not_hold_gets_no_table_answer(question):
    assert TableFacts(_document()).answer(question) is None


def test_derived_figures_are_computed_from_cited_cells_and_say_so():
    doc = _document()
    facts = TableFacts(doc)
    (growth,) = facts.answer(
        "By how much did ACME's total net sales grow year over year in the latest quarter?"
    )
    d = growth.detail
    assert d["computed"] is True and d["unit"] == "percent"
    assert d["value"] == pytest.approx(100 * (81797 - 82959) / 82959)
    assert [i["value_text"] for i in d["inputs"]] == ["81,797", "82,959"]
    assert all(doc.text[i["char_start"] : i["char_end"]] == i["value_text"] for i in d["inputs"])
    assert "computed" in growth.text
    (share,) = facts.answer(
        "What percentage of ACME's total net sales did Services contribute in the quarter?"
    )
    assert share.detail["value"] == pytest.approx(100 * 21213 / 81797)
    assert [i["row_label"] for i in share.detail["inputs"]] == ["Services", "Total net sales"]
    (margin,) = facts.answer("What was ACME's gross margin percentage for the quarter?")
    assert margin.detail["value"] == pytest.approx(100 * 36413 / 81797)


def test_findings_carry_the_cell_in_rest_and_exports():
    from longctx.jobs.export import FINDING_FIELDS, findings_csv, table_fields

    doc = _document()
    (top, *_) = TableFacts(doc).answer("What was ACME's net income for the quarter?")
    flat = table_fields(top.detail)
    assert flat["row_label"] == "Net income" and flat["value"] == 19_881_000_000.0 and flat["unit"] == "USD"
    assert "Three Months Ended" in flat["column_header"] and flat["computed"] is False
    csv_text = findings_csv([{**flat, "answer": top.text, "detail": top.detail}])
    header, row = csv_text.splitlines()[:2]
    assert header.split(",") == list(FINDING_FIELDS)
    assert "Net income" in row and "19881000000.0" in row


def _shared_10q() -> Path:
    from longctx.config import get_settings

    root = get_settings().data_root
    path = Path(root or "../shared/data") / "sec10q" / "docs" / "2023 Q3 AAPL.pdf"
    if not path.exists():
        pytest.skip("SEC 10-Q PDFs not found (../shared/data/sec10q; set LONGCTX_SHARED_DATA_DIR)")
    return path


def test_a_real_10q_statement_is_recovered_with_cell_spans():
    from longctx.ingest import parse_path_inprocess

    parsed = parse_path_inprocess(_shared_10q())
    doc = ReaderDocument.from_pages("aapl", parsed.pages)
    tables = [Table.from_json(t) for t in rebase_tables(parsed.tables, {n: s for n, s, _ in doc.pages})]
    income = next(t for t in tables if t.kind == "income")
    assert income.page == 4 and income.scale == "millions"
    row = next(r for r in income.rows if r.label == "Total net sales")
    first = row.cells[0]
    assert first.text == "81,797" and doc.text[first.start : first.end] == "81,797"
    assert (income.columns[0].period_end, income.columns[0].period_months) == ("2023-07-01", 3)
    assert any(t.kind == "balance" for t in tables) and any(t.kind == "cash_flow" for t in tables)


def test_the_reader_pipeline_routes_metric_questions_to_the_cells():
    from longctx.analysis.factory import get_reader
    from longctx.analysis.pipeline import ReaderPipeline
    from longctx.analysis.reader import Query
    from longctx.config import get_settings

    reader = get_reader(get_settings().model_copy(update={"reader": "neural", "state_cache_mb": 0}))
    assert isinstance(reader, ReaderPipeline)
    doc = _document()
    cell, absent, prose = reader.answer(
        doc,
        [
            Query("What was ACME's total net sales for the three months ended July 1, 2023?"),
            Query("What was ACME's EBITDA for the quarter ended July 1, 2023?"),
            Query("Which company filed this quarterly report?"),
        ],
        top_k=1,
    )
    assert cell[0].text == "81,797" and cell[0].detail["row_label"] == "Total net sales"
    assert absent[0].text is None  # a metric the statements do not hold: no nearby number
    assert prose[0].detail is None  # not a metric question: the span reader's answer, no table detail


def test_named_columns_with_periods_as_row_groups_answer_segment_questions():
    """NVIDIA's segment note: segments are the columns, periods head groups of rows."""
    page = (
        "Compute & Networking Graphics All Other Consolidated\n"
        "Three Months Ended October 29, 2023\n"
        "Revenue $ 14,645 $ 3,475 $ — $ 18,120\n"
        "Nine Months Ended October 29, 2023\n"
        "Revenue $ 29,507 $ 9,312 $ — $ 38,819\n"
    )
    headers = ["Compute & Networking", "Graphics", "All Other", "Consolidated"]
    rows = [
        {
            "label": "Revenue",
            "section": section,
            "unit": "USD",
            "scale": "millions",
            "cells": [{"column": j, "text": v, "number": parse_number(v)} for j, v in enumerate(values)],
        }
        for section, values in (
            ("Three Months Ended October 29, 2023", ["14,645", "3,475", "—", "18,120"]),
            ("Nine Months Ended October 29, 2023", ["29,507", "9,312", "—", "38,819"]),
        )
    ]
    raw = {
        "title": "Segment Information",
        "kind": "segment",
        "scale": "millions",
        "page": 1,
        "index": 0,
        "columns": [{"header": h, "period_end": None, "period_months": None} for h in headers],
        "rows": rows,
    }
    _locate(raw, page, 0)
    doc = ReaderDocument.from_pages("nv", [(1, page)])
    doc.tables = [Table.from_json(t) for t in rebase_tables([raw], {1: 0})]
    facts = TableFacts(doc)
    (top, *_) = facts.answer(
        "What was revenue of the Graphics segment for the nine months ended October 29, 2023?"
    )
    assert top.text == "9,312" and top.detail["period_months"] == 9
    assert "Graphics" in top.detail["column_header"]
    (total, *_) = facts.answer("What was total revenue for the three months ended October 29, 2023?")
    assert total.text == "18,120"
    assert (
        facts.answer(
            "What was revenue of the Automotive segment for the three months ended October 29, 2023?"
        )
        is None
    )
