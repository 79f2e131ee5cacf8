"""webui.export: findings -> comparison table and Excel (the CSV and JSON files come from the API)."""

from __future__ import annotations

import io

import openpyxl

from webui import export
from webui.export import NO_ANSWER, comparison_frame, findings_frame, to_excel


def _f(doc: str, name: str, qi: int, key: str, rank: int, answer: str | None, page: int | None) -> dict:
    return {
        "document_id": doc,
        "filename": name,
        "query_index": qi,
        "query_key": key,
        "query": f"q {key}",
        "rank": rank,
        "answer": answer,
        "score": 0.5 if answer else 0.0,
        "page": page,
        "char_start": 1,
        "char_end": 2,
        "passage": "ctx",
        "passage_start": 0,
    }


FINDINGS = [
    _f("a", "alpha.pdf", 0, "governing_law", 2, "New York", 3),
    _f("a", "alpha.pdf", 0, "governing_law", 1, "Delaware", 9),
    _f("a", "alpha.pdf", 1, "parties", 1, "Acme and Beta", 1),
    _f("b", "beta.pdf", 0, "governing_law", 1, None, None),
    _f("b", "beta.pdf", 1, "parties", 1, "Gamma Inc", 1),
]


def test_comparison_side_by_side_best_rank() -> None:
    table = comparison_frame(FINDINGS, ["a", "b"])
    assert list(table.columns) == ["alpha.pdf", "beta.pdf"]
    assert list(table.index) == ["governing_law", "parties"]
    assert table.loc["governing_law", "alpha.pdf"] == "Delaware  [p. 9]"
    assert table.loc["governing_law", "beta.pdf"] == NO_ANSWER
    assert table.loc["parties", "beta.pdf"] == "Gamma Inc  [p. 1]"


def test_same_filename_gets_distinct_columns() -> None:
    twins = [_f("a", "same.pdf", 0, "k", 1, "x", 1), _f("b", "same.pdf", 0, "k", 1, "y", 1)]
    assert list(comparison_frame(twins).columns) == ["same.pdf", "same.pdf (2)"]


def test_findings_frame_sorted_with_contract_columns() -> None:
    frame = findings_frame(FINDINGS)
    assert len(frame) == 5 and frame.columns[0] == "document_id"
    assert list(frame["rank"][:2]) == [1, 2]  # sorted by file, query, rank


def test_excel_round_trip() -> None:
    book = openpyxl.load_workbook(io.BytesIO(to_excel(FINDINGS)))
    assert book.sheetnames == ["Comparison", "Findings"]
    rows = list(book["Comparison"].iter_rows(values_only=True))
    assert rows[0] == ("field", "alpha.pdf", "beta.pdf")
    assert rows[1] == ("governing_law", "Delaware  [p. 9]", NO_ANSWER)
    assert book["Findings"].max_row == 6


def test_empty_findings() -> None:
    assert findings_frame([]).empty
    assert comparison_frame([]).empty
    assert openpyxl.load_workbook(io.BytesIO(to_excel([]))).sheetnames == ["Comparison", "Findings"]


def test_csv_and_json_are_not_built_in_the_ui() -> None:
    """One server module makes those files; the UI serves the API's bytes (`ApiClient.findings_export`)."""
    assert not hasattr(export, "to_csv") and not hasattr(export, "to_json")
