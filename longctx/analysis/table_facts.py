"""Answers from statement tables: the cell at a row (the metric) and a column (the period), cited exactly.

A question about a metric for a period ("What was Intel's capex in the first nine months of 2023?") is
answered from the matching cell with its row label, column header, unit and scale; simple derived figures
(growth, share of a total, margins, current ratio, free cash flow, debt to equity) are computed from cited
cells and marked as computed, with the formula and every input. A metric the tables do not hold, or a period
they do not cover, gets no table answer: a nearby number is never offered in its place.

How a row is matched: its label names a concept the question names (`financial_terms.CONCEPTS`: "revenue"
meets "Total net sales"), or every word of its label is in the question (segment and product rows). Words of
the question that neither the row nor the period explain (an "impairment" the "Goodwill" row does not say)
count against the row, so a metric that is not there is not answered by its neighbour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from longctx.ingest.tables import Cell, Column, Row, Table

from ..text.terms import stem
from .financial_terms import (
    PeriodAsk,
    compute_kind,
    concept_of,
    concepts_in,
    content_stems,
    home_statement,
    is_narrative,
    parse_period,
)
from .reader import Answer, ReaderDocument

MIN_METRIC = 0.8  # a row must match at least this well to be offered
PRIMARY = ("income", "balance", "cash_flow")


@dataclass
class CellHit:
    table: Table
    row: Row
    cell: Cell
    column: Column
    metric: float
    period: float

    @property
    def score(self) -> float:
        return self.metric * self.period

    def detail(self) -> dict:
        end = self.column.period_end
        return {
            "kind": "table_cell",
            "table": {
                "page": self.table.page,
                "index": self.table.index,
                "title": self.table.title,
                "statement": self.table.kind,
            },
            "row_label": self.row.label,
            "section": self.row.section,
            "column_header": self.column.header,
            "period_end": end,
            "period_months": self.column.period_months,
            "period": describe_period(self.column),
            "value_text": self.cell.text,
            "number": self.cell.number,
            "value": self.row.value(self.cell),
            "unit": self.row.unit,
            "scale": self.row.scale,
            "page": self.table.page,
            "char_start": self.cell.start,
            "char_end": self.cell.end,
            "computed": False,
        }


def describe_period(col: Column) -> str:
    if col.period_months == 0 and col.period_end:
        return f"as of {col.period_end}"
    if col.period_months and col.period_end:
        return f"{col.period_months} months ended {col.period_end}"
    return col.header


def format_value(row: Row, cell: Cell) -> str:
    t = cell.text.strip()
    neg = t.startswith("(") and t.endswith(")")
    core = t.strip("()$ ")
    if row.unit == "percent":
        return f"{'-' if neg else ''}{core.rstrip('%')}%"
    if row.unit == "USD/share":
        return f"{'-' if neg else ''}${core} per share"
    scale = "" if row.scale == "units" else f" {row.scale[:-1] if row.scale.endswith('s') else row.scale}"
    if row.unit == "shares":
        return f"{'-' if neg else ''}{core}{scale} shares"
    return f"{'-' if neg else ''}${core}{scale}"


def _date(iso: str | None) -> date | None:
    if not iso:
        return None
    try:
        return date.fromisoformat(iso)
    except ValueError:
        return None


class TableFacts:
    """The cell-level reader over a document's tables (``ReaderDocument.tables``)."""

    def __init__(self, document: ReaderDocument) -> None:
        self.document = document
        self.tables: list[Table] = [t for t in (getattr(document, "tables", None) or []) if t.rows]
        # Names of the filer ("Apple", "NVIDIA") explain nothing about the row: the capitalised words of a
        # question that the report's opening names and that no row label uses.
        self._head = {stem(w.lower()) for w in re.findall(r"[A-Za-z][A-Za-z.&]+", document.text[:3000])}
        self._label_words = {w for t in self.tables for r in t.rows for w in content_stems(r.label)}
        self._entity: set[str] = set()
        self._vocabulary = content_stems(document.text)
        self.fy_end_month = self._fiscal_year_end_month()

    # -- document calendar ------------------------------------------------------------------------
    def _fiscal_year_end_month(self) -> int:
        """The fiscal year's last month: the prior balance-sheet column is the last fiscal year-end."""
        for t in self.tables:
            if t.kind == "balance":
                ends = sorted({d for c in t.columns if (d := _date(c.period_end))})
                if len(ends) >= 2:
                    d = ends[0]
                    return d.month if d.day > 15 else (d.month - 2) % 12 + 1
        m = re.search(
            r"fiscal year end(?:s|ed|ing)?(?: on)? (?:the last \w+ of )?([A-Z][a-z]+)", self.document.text
        )
        if m:
            from longctx.ingest.tables import _MONTHS

            return _MONTHS.get(m.group(1).lower(), 12)
        return 12

    def fiscal_year(self, d: date) -> int:
        return d.year if d.month <= self.fy_end_month or self.fy_end_month == 12 else d.year + 1

    def fiscal_quarter(self, d: date) -> int:
        return ((d.month - self.fy_end_month - 1) % 12) // 3 + 1

    # -- matching ---------------------------------------------------------------------------------
    def _row_concept(self, row: Row) -> str | None:
        c = concept_of(row.label)
        if row.unit == "USD/share":
            low = row.label.lower()
            if "diluted" in low:
                return "eps_diluted"
            if "basic" in low:
                return "eps_basic"
            return c or "eps"
        return c

    def metric_score(self, q_stems: set[str], q_concepts: set[str], row: Row, table: Table) -> float:
        if row.unit == "shares" and (
            "shar" not in q_stems
            or "eps" in q_concepts
            or "eps_diluted" in q_concepts
            or "eps_basic" in q_concepts
        ):
            return 0.0  # share counts answer only questions about numbers of shares, never per-share ones
        rc = self._row_concept(row)
        label_stems = content_stems(row.label)
        context_stems = content_stems(row.section) | content_stems(table.title)
        section_concept = concept_of(row.section) if row.section else None
        base = 0.0
        explained: set[str] = set(label_stems)
        if rc and (rc in q_concepts or (rc in ("eps_diluted", "eps_basic") and "eps" in q_concepts)):
            base = 1.0 if rc in q_concepts else (0.95 if rc == "eps_diluted" else 0.9)
            from .financial_terms import CONCEPTS

            for name in CONCEPTS[rc][0]:
                explained |= content_stems(name)
            if rc in ("eps_diluted", "eps_basic"):
                explained |= content_stems("earnings per share eps")
        elif label_stems and label_stems <= q_stems and rc is None:
            # a product, segment or region row ("iPhone", "Intelligent Cloud"): its words are in the question
            base = 0.95 if section_concept and section_concept in q_concepts else 0.9
            if section_concept:
                from .financial_terms import CONCEPTS

                for name in CONCEPTS[section_concept][0]:
                    explained |= content_stems(name)
        if base == 0.0:
            return 0.0
        for other in q_concepts:
            from .financial_terms import CONCEPTS

            for name in CONCEPTS[other][0]:
                explained |= content_stems(name)
        explained |= context_stems
        uncovered = q_stems - explained - self._entity
        extra = label_stems - q_stems - (explained - label_stems) if rc is None else set()
        # a word the document never uses names something it does not report (EBITDA, a segment it lacks)
        absent = {w for w in uncovered if w not in self._vocabulary}
        penalty = 0.2 * len(uncovered - absent) + 0.35 * len(absent) + 0.1 * len(extra)
        if rc and home_statement(rc) == table.kind:
            base += 0.02
        if row.label.lower().startswith("total"):
            base += 0.005  # "Total revenue" before a "Revenue" heading row of the same concept
        base += 0.01 * len(label_stems & q_stems)  # the more of the label the question says, the better
        return max(0.0, base - penalty)

    def period_score(self, ask: PeriodAsk, col: Column, table: Table) -> float:
        end = _date(col.period_end)
        months = col.period_months
        if end is None:
            return 0.0
        same = [d for c in table.columns if c.period_months == months and (d := _date(c.period_end))]
        latest = max(same) if same else end
        s = 1.0
        if ask.day and end != ask.day:
            return 0.0
        if ask.month_year:
            m, y = ask.month_year
            ok = (end.month, end.year) == (m, y) or (
                end.day <= 7 and ((end.month - 2) % 12 + 1, end.year) == (m, y)
            )
            if not ok:
                return 0.0
        if months == 0:  # balance sheet: any flow-period words are about "the end of" that period
            if ask.months not in (None, 0, 3):
                s *= 0.8
        elif ask.ytd:
            longest = max(
                ((c.period_months or 0) for c in table.columns if (c.period_months or 0) < 12), default=0
            )
            if months != longest:
                return 0.0
        elif ask.months is not None and ask.months != 0:
            if months != ask.months:
                return 0.0  # a quarter asked of a year-to-date column is another fact, not this one
        elif ask.months == 0:
            s *= 0.5
        else:
            s *= 1.0 if months == 3 else 0.85
        if ask.year:
            if ask.year not in (end.year, self.fiscal_year(end)):
                return 0.0
            if ask.fiscal and self.fiscal_year(end) != ask.year:
                s *= 0.7
        if (
            ask.quarter
            and months == 3
            and ask.quarter not in (self.fiscal_quarter(end), (end.month - 1) // 3 + 1)
        ):
            s *= 0.6
        if ask.prior:
            s *= 1.0 if end < latest else 0.5
        elif not ask.day and not ask.month_year and end != latest:
            s *= 0.6 if not ask.year else 0.9
        return s

    def _question_stems(self, question: str) -> set[str]:
        q = re.sub(r"['’]s\b", "", question)
        names = {stem(w.lower()) for w in re.findall(r"(?<!^)(?<![.?!]\s)\b[A-Z][A-Za-z.&]+", q)}
        self._entity = (names & self._head) - self._label_words
        return content_stems(q)

    def hits(self, question: str, ask: PeriodAsk | None = None) -> list[CellHit]:
        ask = ask or parse_period(question)
        q_stems = self._question_stems(question)
        q_concepts = {c for c, _ in concepts_in(question)}
        out: list[CellHit] = []
        for t in self.tables:
            by_section = not any(
                c.period_end for c in t.columns
            )  # segments as columns, periods as row groups
            for row in t.rows:
                if by_section:
                    out += self._section_hits(ask, q_stems, q_concepts, t, row)
                    continue
                m = self.metric_score(q_stems, q_concepts, row, t)
                if m < MIN_METRIC:
                    continue
                for cell in row.cells:
                    if cell.start is None or cell.column >= len(t.columns):
                        continue
                    p = self.period_score(ask, t.columns[cell.column], t)
                    if p > 0:
                        out.append(CellHit(t, row, cell, t.columns[cell.column], m, p))
        out.sort(key=lambda h: (-h.score, h.table.page, h.cell.start or 0))
        return out

    def _section_hits(self, ask, q_stems, q_concepts, t: Table, row: Row) -> list[CellHit]:
        """A table whose columns are named ("Compute & Networking | Graphics | Consolidated") and whose row
        groups are periods ("Three Months Ended October 29, 2023"): the period comes from the row's section,
        and the column's name is part of the metric ("Graphics" + "Revenue")."""
        from longctx.ingest.tables import parse_date, parse_duration_months

        end = parse_date(row.section)
        months = parse_duration_months(row.section)
        if end is None or months is None:
            return []
        out = []
        for cell in row.cells:
            if cell.start is None or cell.column >= len(t.columns):
                continue
            header = t.columns[cell.column].header
            header_stems = content_stems(header)
            total = bool(re.search(r"\b(consolidated|total)\b", header, re.I))
            if not total and not (header_stems and header_stems <= q_stems):
                continue  # a named column answers only questions that name it
            m = self.metric_score(q_stems - header_stems, q_concepts, row, t)
            if m < MIN_METRIC:
                continue
            col = Column(header=f"{header}, {row.section}", period_end=end.isoformat(), period_months=months)
            p = self.period_score(ask, col, Table(t.page, t.index, t.title, t.kind, t.scale, [col], []))
            if p > 0:
                out.append(CellHit(t, row, cell, col, m + (0.0 if total else 0.02), p))
        return out

    # -- answers ----------------------------------------------------------------------------------
    def _cite(self, hit: CellHit, score: float) -> Answer:
        row_start = hit.row.label_start if hit.row.label_start is not None else hit.cell.start
        row_end = max(c.end for c in hit.row.cells if c.end is not None)
        ans = Answer.cited(self.document, hit.cell.start, hit.cell.end, score, row_start, row_end)
        detail = hit.detail()
        detail["answer"] = format_value(hit.row, hit.cell)
        return Answer(**{**ans.__dict__, "detail": detail})

    def answer(self, question: str, top_k: int = 3) -> list[Answer] | None:
        """Ranked answers from the tables, or None when the tables do not answer the question."""
        if not self.tables or is_narrative(question):
            return None
        kind = compute_kind(question)
        if kind:
            computed = self.compute(kind, question)
            if computed is not None:
                return [computed]
        hits = self.hits(question)
        if not hits:
            return None
        out: list[Answer] = []
        seen: set[tuple[str, str | None, int | None]] = set()
        best = hits[0].score
        for h in hits:
            key = (h.row.label.lower(), h.column.period_end, h.column.period_months)
            if key in seen:
                continue
            seen.add(key)
            score = 0.5 + 0.45 * h.score * (h.score / best if best else 0)
            out.append(self._cite(h, min(score, 0.99)))
            if len(out) >= top_k:
                break
        return out

    def owns(self, question: str) -> bool:
        """Whether a question is the tables' to answer or decline: it names a financial metric, is not a
        narrative question, and the document has primary statements. Such a question the tables cannot answer
        gets "no answer" rather than a nearby number from the text."""
        if is_narrative(question) or not any(t.kind in PRIMARY for t in self.tables):
            return False
        named = {c for c, _ in concepts_in(question)}
        if named:
            # line items of the primary statements only: a rate or a figure told in prose (an effective tax
            # rate) may live in the text, and the span reader looks for it there
            return all(home_statement(c) in PRIMARY for c in named)
        return asks_for_a_figure(question)

    # -- computed figures -------------------------------------------------------------------------
    def _concept_hit(self, concept_question: str, ask: PeriodAsk) -> CellHit | None:
        hits = self.hits(concept_question, ask)
        return hits[0] if hits else None

    def _computed(self, formula: str, value: float, unit: str, inputs: list[CellHit], shown: str) -> Answer:
        main = inputs[0]
        starts = [h.cell.start for h in inputs]
        ends = [h.cell.end for h in inputs]
        same_page = [i for i, h in enumerate(inputs) if h.table.page == main.table.page]
        ps = min(starts[i] for i in same_page)
        pe = max(ends[i] for i in same_page)
        row_start = main.row.label_start if main.row.label_start is not None else ps
        ans = Answer.cited(self.document, main.cell.start, main.cell.end, 0.9, min(row_start, ps), pe)
        detail = {
            "kind": "computed",
            "computed": True,
            "formula": formula,
            "value": value,
            "unit": unit,
            "answer": shown,
            "period": describe_period(main.column),
            "period_end": main.column.period_end,
            "period_months": main.column.period_months,
            "page": main.table.page,
            "inputs": [h.detail() for h in inputs],
        }
        return Answer(**{**ans.__dict__, "text": shown, "detail": detail})

    def _quotient(self, a: CellHit | None, b: CellHit | None, unit: str) -> Answer | None:
        """a / b from two cited cells, as a ratio or a percentage; None if one is missing or b is 0."""
        if not (a and b and b.row.value(b.cell)):
            return None
        if unit == "percent":
            v = 100 * a.row.value(a.cell) / b.row.value(b.cell)
            shown = f"{v:.1f}% (computed)"
        else:
            v = a.row.value(a.cell) / b.row.value(b.cell)
            shown = f"{v:.2f} (computed)"
        formula = f"{a.row.label} / {b.row.label} = {a.cell.text} / {b.cell.text}"
        return self._computed(formula, v, unit, [a, b], shown)

    def compute(self, kind: str, question: str) -> Answer | None:
        ask = parse_period(question)
        from .financial_terms import COMPUTE

        asked = question
        question = COMPUTE[kind].sub(" ", question)  # the words asking for the computation match no row
        question = re.sub(
            r"\b(by how much|how much|what percent(?:age)?|contributed?|percent(?:age)?)\b",
            " ",
            question,
            flags=re.I,
        )
        if kind == "current_ratio":
            a = self._concept_hit("total current assets", PeriodAsk(months=0, latest=True, year=ask.year))
            b = self._concept_hit(
                "total current liabilities", PeriodAsk(months=0, latest=True, year=ask.year)
            )
            return self._quotient(a, b, "ratio")
        if kind == "debt_to_equity":
            a = self._concept_hit("long-term debt", PeriodAsk(months=0, year=ask.year))
            b = self._concept_hit("total shareholders' equity", PeriodAsk(months=0, year=ask.year))
            return self._quotient(a, b, "ratio")
        if kind == "free_cash_flow":
            a = self._concept_hit(f"operating cash flow {question}", ask)
            b = self._concept_hit(f"capital expenditures {question}", ask)
            if a and b and a.column.period_end == b.column.period_end:
                v = a.row.value(a.cell) - abs(b.row.value(b.cell))
                return self._computed(
                    f"{a.row.label} − {b.row.label} = {a.cell.text} − {b.cell.text.strip('()')}",
                    v,
                    "USD",
                    [a, b],
                    f"${v / 1e6:,.0f} million (computed)",
                )
            return None
        if kind == "margin":
            named = [
                c for c, _ in concepts_in(asked) if c in ("gross_profit", "operating_income", "net_income")
            ]
            if not named:
                return None
            from .financial_terms import CONCEPTS

            a = self._concept_hit(f"{CONCEPTS[named[0]][0][0]} {question}", ask)
            if a is None:
                return None
            return self._quotient(a, self._same_column(a, "revenue"), "percent")
        if kind == "share":
            m = re.search(
                r"(?:percentage|percent|share|portion|proportion) of "
                r"([\w\s'’&,-]+?)(?: did| was| came| is|\?|$)",
                asked,
                re.I,
            )
            whole_concepts = [c for c, _ in concepts_in(m.group(1))] if m else []
            whole_concept = whole_concepts[0] if whole_concepts else "revenue"
            part = [h for h in self.hits(question, ask) if self._row_concept(h.row) != whole_concept]
            if not part:
                return None
            a = part[0]
            b = self._same_column(a, whole_concept)
            return self._quotient(a, b, "percent") if b is not None and b.row is not a.row else None
        if kind == "growth":
            hits = self.hits(question, ask)
            if not hits:
                return None
            a = hits[0]
            prior = self._prior_cell(a)
            if prior is None or not prior.row.value(prior.cell):
                return None
            cur, old = a.row.value(a.cell), prior.row.value(prior.cell)
            v = 100 * (cur - old) / abs(old)
            return self._computed(
                f"({a.cell.text} − {prior.cell.text}) / {prior.cell.text} ({describe_period(a.column)} vs "
                f"{describe_period(prior.column)})",
                v,
                "percent",
                [a, prior],
                f"{v:+.1f}% ({format_value(a.row, a.cell)} vs "
                f"{format_value(prior.row, prior.cell)}; computed)",
            )
        return None

    def _same_column(self, hit: CellHit, concept: str) -> CellHit | None:
        """The row of ``concept`` in the same table and column as ``hit`` (else any table, same period)."""
        best = None
        for t in sorted(self.tables, key=lambda t: t is not hit.table):
            for row in t.rows:
                if self._row_concept(row) != concept:
                    continue
                for cell in row.cells:
                    if cell.start is None or cell.column >= len(t.columns):
                        continue
                    col = t.columns[cell.column]
                    if (col.period_end, col.period_months) == (
                        hit.column.period_end,
                        hit.column.period_months,
                    ):
                        total = row.label.lower().startswith("total")
                        cand = CellHit(t, row, cell, col, 1.0, 1.0)
                        if best is None or total:
                            best = cand
            if best is not None:
                return best
        return best

    def _prior_cell(self, hit: CellHit) -> CellHit | None:
        """Same row, the comparable earlier column: same duration a year before (or the prior year-end)."""
        end = _date(hit.column.period_end)
        cands = []
        for cell in hit.row.cells:
            if cell.start is None or cell.column >= len(hit.table.columns) or cell is hit.cell:
                continue
            col = hit.table.columns[cell.column]
            d = _date(col.period_end)
            if d and end and d < end and col.period_months == hit.column.period_months:
                cands.append((abs((end - d).days - 365), CellHit(hit.table, hit.row, cell, col, 1.0, 1.0)))
        if not cands:
            return None
        return min(cands, key=lambda x: x[0])[1]


def asks_for_a_figure(question: str) -> bool:
    """'What was X's EBITDA for the quarter?', 'How many GPUs did it ship in Q1?': one amount for one period,
    of a metric with no statement name (a figure the statements would hold if the filer reported it)."""
    q = question.strip().lower()
    if not re.match(r"(what|how much|how many|how large|how big)\b", q) or re.search(
        r"\b(how did|how does|"
        r"compare|relate)\b",
        q,
    ):
        return False
    ask = parse_period(question)
    return bool(ask.day or ask.month_year or ask.quarter or ask.months is not None or ask.ytd or ask.year)


__all__ = ["CellHit", "TableFacts", "asks_for_a_figure", "describe_period", "format_value"]
