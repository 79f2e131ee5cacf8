"""Findings -> tables (all findings, key terms side by side) and an Excel workbook. Pure, no Streamlit.

The CSV and JSON exports are not made here: the UI serves the files the API makes
(`GET /v1/jobs/{id}/findings?format=csv|export`, one server module), so every client gets the same columns.
The Excel workbook, with its side-by-side sheet, is the UI's own.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

FINDING_COLUMNS = [
    "document_id",
    "filename",
    "query_index",
    "query_key",
    "query",
    "rank",
    "answer",
    "score",
    "page",
    "char_start",
    "char_end",
    "passage",
    "passage_start",
]
NO_ANSWER = "(no answer found)"


def findings_frame(findings: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """All findings as one table with the contract's columns, in a stable order."""
    frame = pd.DataFrame(list(findings))
    for col in FINDING_COLUMNS:
        if col not in frame.columns:
            frame[col] = None
    frame = frame[FINDING_COLUMNS + [c for c in frame.columns if c not in FINDING_COLUMNS]]
    if not frame.empty:
        frame = frame.sort_values(["filename", "query_index", "rank"], kind="stable").reset_index(drop=True)
    return frame


def best_findings(findings: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The top-ranked finding for each (document, query)."""
    best: dict[tuple[str, int], dict[str, Any]] = {}
    for f in findings:
        key = (f.get("document_id"), f.get("query_index"))
        if key not in best or (f.get("rank") or 0) < (best[key].get("rank") or 0):
            best[key] = f
    return list(best.values())


def field_label(f: dict[str, Any]) -> str:
    return f.get("query_key") or f.get("query") or f"query {f.get('query_index')}"


def comparison_frame(
    findings: Iterable[dict[str, Any]], documents: Sequence[str] | None = None
) -> pd.DataFrame:
    """Key terms side by side: one row per field, one column per document (the best answer, with its page)."""
    top = best_findings(findings)
    fields: dict[int, str] = {}
    names: dict[str, str] = {}
    cells: dict[tuple[str, str], str] = {}
    for f in sorted(top, key=lambda f: f.get("query_index") or 0):
        label = field_label(f)
        fields.setdefault(f.get("query_index") or 0, label)
        doc = f.get("document_id")
        names.setdefault(doc, f.get("filename") or doc)
        if f.get("answer"):
            cell = f["answer"] + (f"  [p. {f['page']}]" if f.get("page") else "")
        else:
            cell = NO_ANSWER
        cells[(label, doc)] = cell
    order = [d for d in (documents or names) if d in names]
    columns = _unique([names[d] for d in order])
    rows = [fields[i] for i in sorted(fields)]
    data = {col: [cells.get((row, d), "") for row in rows] for col, d in zip(columns, order, strict=True)}
    return pd.DataFrame(data, index=pd.Index(rows, name="field"))


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def to_excel(findings: Iterable[dict[str, Any]]) -> bytes:
    """A workbook with a 'Comparison' sheet (fields x documents) and a 'Findings' sheet (every citation)."""
    findings = list(findings)
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        comparison_frame(findings).to_excel(writer, sheet_name="Comparison")
        findings_frame(findings).to_excel(writer, sheet_name="Findings", index=False)
        for sheet in writer.sheets.values():
            for column in sheet.columns:
                width = max((len(str(c.value)) for c in column if c.value is not None), default=8)
                sheet.column_dimensions[column[0].column_letter].width = min(60, max(10, width + 2))
    return buffer.getvalue()
