"""Tables recovered from PDF pages as structure: rows with their label, columns with their header (period),
the unit and scale, and each cell's character span in the stored page text.

Financial statements are laid out with whitespace, not ruling lines. pdfplumber (pdfminer.six underneath)
gives every word with its box; its own text-strategy table finder splits header words on these filings
(measured on the 10-Q set: "Three Mont" | "hs En" | "ded"), so rows and columns are assembled here from its
word boxes: numbers are right-aligned, so their right edges cluster into columns; the header phrases above
the first numeric row are assigned to the columns they stand over; a row's label is the text left of the
first column.

Cells are then located in the page text the service stored (pypdf's, or pdfium's), searching each row's label
and then its values in reading order, so a cited number highlights exactly those characters. A cell that
cannot be located keeps its value but no span (and is never cited).

Everything here is plain JSON (``Table.to_json``) so it crosses the sandbox boundary and is stored in SQL.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

# -- numbers --------------------------------------------------------------------------------------
_NUMBER = re.compile(r"^\(?-?\$?\(?\d[\d,]*(?:\.\d+)?\)?%?\)?$")
_DASHES = {"—", "–", "-", "—%", "*"}
_SCALE_WORDS = {"thousands": 1e3, "millions": 1e6, "billions": 1e9}
SCALES = {"units": 1.0, **_SCALE_WORDS}


def is_number_token(tok: str) -> bool:
    return bool(_NUMBER.match(tok)) and any(c.isdigit() for c in tok)


def parse_number(text: str) -> float | None:
    """'(2,028)' -> -2028.0, '$ 60,584' -> 60584.0, '—' -> 0.0, '12.5%' -> 12.5; None when not a number."""
    t = text.replace("$", "").replace(" ", "").strip()
    if t in _DASHES or t in {"", "—", "–"}:
        return 0.0 if t else None
    neg = t.startswith("(") and t.endswith(")") or t.startswith("-")
    t = t.strip("()").lstrip("-").rstrip("%").replace(",", "")
    try:
        v = float(t)
    except ValueError:
        return None
    return -v if neg else v


# -- periods -------------------------------------------------------------------------------------
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for m in names
}
_DATE = re.compile(r"\b([A-Za-z]{3,9})\.?\s+(\d{1,2}),?\s+((?:19|20)\d\d)\b")
_DURATION = re.compile(
    r"\b(three|six|nine|twelve|3|6|9|12|thirteen|twenty-six|thirty-nine|fifty-two|13|26|39|52)"
    r"[\s-]+(months?|weeks?)\b",
    re.I,
)
_WORD_N = {
    "three": 3,
    "six": 6,
    "nine": 9,
    "twelve": 12,
    "thirteen": 13,
    "twenty-six": 26,
    "thirty-nine": 39,
    "fifty-two": 52,
}


def parse_date(text: str) -> date | None:
    """The first 'Month D, YYYY' in ``text`` (full or abbreviated month names)."""
    for m in _DATE.finditer(text):
        month = _MONTHS.get(m.group(1).lower())
        if month:
            try:
                return date(int(m.group(3)), month, int(m.group(2)))
            except ValueError:
                continue
    return None


def parse_duration_months(text: str) -> int | None:
    """3/6/9/12 for 'Three Months Ended', '26 weeks ended', 'Quarter Ended', 'Year Ended'; None if unsaid."""
    m = _DURATION.search(text)
    if m:
        raw = m.group(1).lower()
        n = int(raw) if raw.isdigit() else _WORD_N[raw]
        if m.group(2).lower().startswith("week"):
            n = round(n / 13) * 3
        return n if n in (3, 6, 9, 12) else None
    low = text.lower()
    if "quarter ended" in low or "quarter ending" in low:
        return 3
    if re.search(r"\b(fiscal )?year (ended|ending)\b", low):
        return 12
    return None


# -- data model ----------------------------------------------------------------------------------
@dataclass
class Column:
    header: str
    period_end: str | None = None  # ISO date
    period_months: int | None = None  # 0: a point in time (balance sheet); None: unknown


@dataclass
class Cell:
    column: int
    text: str
    number: float | None  # as printed, in the row's scale
    start: int | None = None  # char span in the document text
    end: int | None = None


@dataclass
class Row:
    label: str
    section: str = ""
    unit: str = "USD"
    scale: str = "units"
    label_start: int | None = None
    label_end: int | None = None
    cells: list[Cell] = field(default_factory=list)

    def value(self, cell: Cell) -> float | None:
        """The cell in base units (dollars, shares): the printed number times the row's scale."""
        if cell.number is None:
            return None
        return cell.number * SCALES.get(self.scale, 1.0)


@dataclass
class Table:
    page: int
    index: int
    title: str
    kind: str  # income | balance | cash_flow | segment | equity | other
    scale: str
    columns: list[Column]
    rows: list[Row]
    char_start: int | None = None
    char_end: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Table:
        cols = [Column(**c) for c in data.get("columns", [])]
        rows = []
        for r in data.get("rows", []):
            cells = [Cell(**c) for c in r.get("cells", [])]
            rows.append(Row(**{**{k: v for k, v in r.items() if k != "cells"}, "cells": cells}))
        known = {"page", "index", "title", "kind", "scale", "char_start", "char_end"}
        base = {k: v for k, v in data.items() if k in known}
        return cls(**base, columns=cols, rows=rows)


# -- which pages to look at ----------------------------------------------------------------------
_NUMERIC_LINE = re.compile(r"(?:\(?\$?\s?\d[\d,]*(?:\.\d+)?\)?%?\s+){1,}\(?\$?\s?\d[\d,]*(?:\.\d+)?\)?%?\s*$")


def looks_tabular(page_text: str, min_lines: int = 4) -> bool:
    """A page worth a layout pass: at least ``min_lines`` lines ending in two or more numbers."""
    n = 0
    for line in page_text.splitlines():
        if _NUMERIC_LINE.search(line):
            n += 1
            if n >= min_lines:
                return True
    return False


# -- layout --------------------------------------------------------------------------------------
@dataclass
class _Word:
    text: str
    x0: float
    x1: float
    top: float


def _lines(words: list[_Word], tol: float = 2.5) -> list[list[_Word]]:
    out: list[list[_Word]] = []
    for w in sorted(words, key=lambda w: (round(w.top, 1), w.x0)):
        if out and abs(out[-1][0].top - w.top) <= tol:
            out[-1].append(w)
        else:
            out.append([w])
    return [sorted(line, key=lambda w: w.x0) for line in out]


def _is_value_token(t: str) -> bool:
    return is_number_token(t) or t in _DASHES or t in {"$", "%", ")"}


_YEAR = re.compile(r"^(?:19|20)\d\d$")


def _trailing_values(line: list[_Word]) -> list[_Word]:
    """The numeric tokens at the right end of a line (with '$' and '%' tokens); none for a header line of
    years or dates ('2023 2022', 'July 1,')."""
    i = len(line)
    while i > 0 and _is_value_token(line[i - 1].text):
        i -= 1
    vals = [w for w in line[i:] if w.text not in {"$", "%", ")"}]
    if vals and all(_YEAR.match(w.text) or w.text.endswith(",") for w in vals):
        return []
    if any(w.text.lower().rstrip(".,") in _MONTHS for w in line[max(0, i - 1) : i]):
        return []  # 'July 1, 2023' style
    return vals


def _cluster_columns(lines: list[list[_Word]]) -> list[tuple[float, float]]:
    """Column bands (x0, x1) from the right edges of trailing numbers, which are right-aligned."""
    vals = [w for line in lines for w in _trailing_values(line)]
    if not vals:
        return []
    vals.sort(key=lambda w: w.x1)
    groups: list[list[_Word]] = [[vals[0]]]
    for w in vals[1:]:
        if w.x1 - groups[-1][-1].x1 > 10:
            groups.append([w])
        else:
            groups[-1].append(w)
    numeric_lines = sum(1 for line in lines if _trailing_values(line))
    need = max(2, int(0.2 * numeric_lines))
    bands = [(min(w.x0 for w in g), max(w.x1 for w in g)) for g in groups if len(g) >= need]
    return bands


def _phrases(words: list[_Word], gap: float = 9.0) -> list[list[_Word]]:
    out: list[list[_Word]] = []
    for w in words:
        if out and w.x0 - out[-1][-1].x1 <= gap:
            out[-1].append(w)
        else:
            out.append([w])
    return out


_SCALE_RE = re.compile(r"\b(?:in|amounts in|dollars in|\$ in)\s+(thousands|millions|billions)\b", re.I)
_SHARES_SCALE_RE = re.compile(
    r"shares[^)]{0,60}?\bin (thousands|millions)\b|shares which are reflected in "
    r"(thousands|millions)",
    re.I,
)
_KINDS = [
    ("cash_flow", ("cash flow",)),
    ("balance", ("balance sheet", "financial position", "financial condition")),
    (
        "equity",
        (
            "stockholders' equity statement",
            "shareholders' equity statement",
            "statements of stockholders",
            "statements of shareholders",
            "changes in equity",
            "stockholders’ equity statement",
            "statements of stockholders’",
            "statements of shareholders’",
        ),
    ),
    (
        "income",
        (
            "statements of operations",
            "statement of operations",
            "income statement",
            "statements of income",
            "statement of income",
            "statements of earnings",
            "statement of earnings",
            "comprehensive income statement",
        ),
    ),
    ("segment", ("segment",)),
]


def classify(title: str, context: str = "") -> str:
    low = title.lower().replace("’", "'")
    for kind, keys in _KINDS:
        if any(k.replace("’", "'") in low for k in keys):
            return kind
    if "segment" in context.lower():
        return "segment"
    return "other"


def _row_unit(
    label: str, section: str, table_scale: str, shares_scale: str | None, text: str
) -> tuple[str, str]:
    low = f"{section} {label}".lower()
    if any(k in low for k in ("shares used", "weighted", "number of shares", "weighted-average shares")):
        return "shares", shares_scale or table_scale
    if text.endswith("%") or "percent" in label.lower() or label.strip().endswith("%"):
        return "percent", "units"
    if (
        "per share" in low
        or "per common share" in low
        or re.search(r"\b(basic|diluted)\b", label.lower())
        and ("per share" in section.lower() or "earnings" in section.lower() and "share" in section.lower())
    ):
        return "USD/share", "units"
    counts = ("weighted", "used in comput", "outstanding", "shares used", "number of shares")
    if re.search(r"\bshares\b", label.lower()) and any(k in low for k in counts):
        return "shares", shares_scale or table_scale
    return "USD", table_scale


_PERIOD_WORDS = re.compile(
    r"\b(ended|ending|months|weeks|quarter|year|as of|balance at|(?:19|20)\d\d)\b", re.I
)
_SKIP_TITLE = re.compile(r"^(table of contents|part i\b|item \d|\(unaudited\)|unaudited)", re.I)
_TITLE_WORDS = re.compile(r"statement|balance sheet|cash flow|operations|income|segment|revenue", re.I)


def _is_period_line(line: list[_Word]) -> bool:
    text = " ".join(w.text for w in line)
    if _PERIOD_WORDS.search(text) or any(w.text.lower().rstrip(".,") in _MONTHS for w in line):
        return not _TITLE_WORDS.search(text) or bool(re.search(r"months|weeks|ended", text, re.I))
    return False


def _covers(phrase: list[_Word], x: float) -> bool:
    """A header phrase stands over column centre ``x``: spanning headers reach half their width further."""
    margin = max(30.0, 0.6 * (phrase[-1].x1 - phrase[0].x0))
    return phrase[0].x0 - margin <= x <= phrase[-1].x1 + margin


def _complete_periods(columns: list[dict[str, Any]]) -> None:
    """Fill what a spanning header left out: a column with a date but no duration takes the duration of the
    nearest column on its left that has one; a column with only a year takes a neighbour's month and day."""
    for j, c in enumerate(columns):
        if c["period_end"] is None:
            years = re.findall(r"\b((?:19|20)\d\d)\b", c["header"])
            if years:
                for k in sorted(range(len(columns)), key=lambda k: abs(k - j)):
                    other = columns[k]["period_end"]
                    if k != j and other and columns[k]["period_months"] == c["period_months"]:
                        try:
                            c["period_end"] = date(
                                int(years[-1]), int(other[5:7]), int(other[8:10])
                            ).isoformat()
                        except ValueError:
                            continue
                        break
    for j, c in enumerate(columns):
        if c["period_months"] is None and c["period_end"]:
            for k in range(j - 1, -1, -1):
                if columns[k]["period_months"]:
                    c["period_months"] = columns[k]["period_months"]
                    break


def _title(lines: list[str]) -> str:
    """The table's title: the line naming a statement if any, else the last heading line above it."""
    keep = [
        t.strip() for t in lines if t.strip() and not _SKIP_TITLE.match(t.strip()) and not _SCALE_RE.search(t)
    ]
    named = [t for t in keep if _TITLE_WORDS.search(t)]
    if named:
        return named[-1][:200]
    return keep[-1][:200] if keep else ""


def _tables_on_page(words: list[_Word], page_width: float) -> list[dict[str, Any]]:
    """Raw tables (before char spans) from one page's words."""
    lines = _lines(words)
    # Runs of lines, broken at prose (long lines without trailing numbers).
    runs: list[list[list[_Word]]] = [[]]
    for line in lines:
        text = " ".join(w.text for w in line)
        prose = (
            not _trailing_values(line)
            and len(line) > 14
            and not (text.startswith("(") or _SCALE_RE.search(text))
        )
        if prose:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append(line)
    out = []
    for run in runs:
        numeric_idx = [i for i, line in enumerate(run) if _trailing_values(line)]
        if len(numeric_idx) < 3:
            continue
        multi = [run[i] for i in numeric_idx if len(_trailing_values(run[i])) >= 2]
        bands = _cluster_columns(multi if len(multi) >= 2 else [run[i] for i in numeric_idx])
        if not bands or len(bands) > 12:
            continue
        # Lines whose numbers stand in no column ("Item 1", a page number) are not rows.
        numeric_idx = [
            i
            for i in numeric_idx
            if any(b[0] - 4 <= w.x1 <= b[1] + 6 for w in _trailing_values(run[i]) for b in bands)
        ]
        if len(numeric_idx) < 3:
            continue
        first_x0 = min(b[0] for b in bands)
        centers = [(b[0] + b[1]) / 2 for b in bands]
        head = run[: numeric_idx[0]]
        # Header lines: periods over the value columns; above them the title and scale lines; between the
        # last header line and the first number, section headings that belong to the body.
        is_header = [_is_period_line(ln) and any(w.x1 > first_x0 - 25 for w in ln) for ln in head]
        last_header = max((i for i, h in enumerate(is_header) if h), default=-1)
        header_lines = [ln for ln, h in zip(head, is_header, strict=True) if h][-6:]
        title_lines = [ln for i, ln in enumerate(head) if i < last_header and not is_header[i]]
        if last_header < 0:
            # no period over the columns: the columns are named ("Compute & Networking | Graphics |
            # Consolidated") and periods in the label area start row groups, which belong to the body
            def said(ln: list[_Word]) -> str:
                return " ".join(w.text for w in ln)

            def over(ln: list[_Word], first_x0: float = first_x0) -> bool:
                return any(w.x1 > first_x0 - 25 for w in ln)

            k = len(head)
            while k > 0 and not over(head[k - 1]) and parse_date(said(head[k - 1])):
                k -= 1
            header_lines = [
                ln
                for ln in head[:k][-3:]
                if over(ln) and not _TITLE_WORDS.search(said(ln)) and not _SCALE_RE.search(said(ln))
            ]
            title_lines = [ln for ln in head[:k] if ln not in header_lines and not said(ln).endswith(":")]
            body = run[k:]
        else:
            body = run[last_header + 1 :]
        col_parts: list[list[str]] = [[] for _ in bands]
        for ln in header_lines:
            # a period said in the label area ("Three Months Ended September 30," left, years over the
            # columns) qualifies every column
            stub = " ".join(w.text for w in ln if w.x1 <= first_x0 - 25)
            if stub and (parse_duration_months(stub) or re.search(r"[A-Za-z]{3,9}\.? \d{1,2},?$", stub)):
                for parts in col_parts:
                    parts.append(stub)
            ph = _phrases([w for w in ln if w.x1 > first_x0 - 25])
            if not ph:
                continue
            for j, c in enumerate(centers):
                covering = [p for p in ph if _covers(p, c)]
                if covering:
                    best = min(covering, key=lambda p: abs((p[0].x0 + p[-1].x1) / 2 - c))
                    col_parts[j].append(" ".join(w.text for w in best))
        head_text = " ".join(" ".join(w.text for w in ln) for ln in head)
        title = _title([" ".join(w.text for w in ln) for ln in title_lines])
        scale_m = _SCALE_RE.search(head_text)
        scale = scale_m.group(1).lower() if scale_m else "units"
        sh = _SHARES_SCALE_RE.search(head_text)
        shares_scale = (sh.group(1) or sh.group(2)).lower() if sh else None
        columns = []
        for parts in col_parts:
            header = " ".join(parts).strip()
            d = parse_date(header)
            months = parse_duration_months(header)
            columns.append(
                {"header": header, "period_end": d.isoformat() if d else None, "period_months": months}
            )
        _complete_periods(columns)
        rows = []
        section = ""
        pending = ""
        for ln in body:
            vals = [w for w in _trailing_values(ln) if w.x1 >= first_x0 - 2]
            label_words = [w for w in ln if w.x1 < first_x0 - 2 and w not in vals]
            label = " ".join(w.text for w in label_words if w.text != "$").strip()
            if not vals:
                if label.endswith(":") or (label.isupper() and len(label) > 3):
                    section, pending = label.rstrip(":").strip(), ""
                else:
                    if pending:  # two valueless lines: the first was a heading
                        section = pending
                    pending = label
                continue
            if pending:
                if not label or label[:1].islower():
                    label = f"{pending} {label}".strip()
                else:
                    section = pending
            pending = ""
            if not label:
                continue
            cells = []
            for w in vals:
                cx = (w.x0 + w.x1) / 2
                j = min(
                    range(len(bands)),
                    key=lambda k: (
                        abs(bands[k][1] - w.x1) if w.x1 <= bands[k][1] + 12 else 1e9 + abs(centers[k] - cx)
                    ),
                )
                cells.append({"column": j, "text": w.text, "number": parse_number(w.text)})
            unit, rscale = _row_unit(label, section, scale, shares_scale, vals[-1].text)
            rows.append({"label": label, "section": section, "unit": unit, "scale": rscale, "cells": cells})
        many = bool(rows) and sorted(len(r["cells"]) for r in rows)[len(rows) // 2] >= 2
        while rows and many and len(rows[-1]["cells"]) == 1:
            rows.pop()  # a page number or footer under a multi-column table
        if len(rows) < 3:
            continue
        # Balance sheets: date-only columns are points in time.
        kind = classify(title, head_text)
        for c in columns:
            if (
                c["period_months"] is None
                and c["period_end"]
                and (kind == "balance" or "as of" in c["header"].lower())
            ):
                c["period_months"] = 0
        out.append(
            {
                "title": title,
                "kind": kind,
                "scale": scale,
                "columns": columns,
                "rows": rows,
                "scale_said": bool(scale_m),
            }
        )
    return out


# -- char spans ----------------------------------------------------------------------------------
def _word_pattern(text: str) -> re.Pattern[str] | None:
    words = [re.escape(w) for w in text.split() if w]
    if not words:
        return None
    return re.compile(r"\s*".join(words))


def _locate(table: dict[str, Any], page_text: str, page_start: int) -> None:
    """Fill label and cell spans (document offsets) by searching the page text in reading order."""
    cursor = 0
    first = last = None
    for row in table["rows"]:
        pat = _word_pattern(row["label"])
        m = pat.search(page_text, cursor) if pat else None
        if m is None and pat is not None:
            m = pat.search(page_text)
        pos = cursor
        if m is not None:
            row["label_start"], row["label_end"] = page_start + m.start(), page_start + m.end()
            pos = m.end()
            first = m.start() if first is None else min(first, m.start())
        for cell in row["cells"]:
            t = cell["text"]
            window = page_text[pos : pos + 400]
            k = window.find(t)
            if k < 0 and t.startswith("(") and t.endswith(")"):
                k = window.find(t.strip("()"))
                t = t.strip("()") if k >= 0 else t
            if k >= 0:
                s = pos + k
                cell["start"], cell["end"] = page_start + s, page_start + s + len(t)
                pos = s + len(t)
                last = pos if last is None else max(last, pos)
        if m is not None or any(c.get("start") is not None for c in row["cells"]):
            cursor = pos
    if first is not None and last is not None:
        table["char_start"], table["char_end"] = page_start + first, page_start + last


def extract_tables(path: str, pages: list[tuple[int, int, str]], max_pages: int = 400) -> list[Table]:
    """Tables of a PDF's tabular pages. ``pages``: (number, char_start, text) of the stored page texts."""
    import pdfplumber

    candidates = [p for p in pages if looks_tabular(p[2])][:max_pages]
    if not candidates:
        return []
    tables: list[Table] = []
    with pdfplumber.open(path) as pdf:
        n = len(pdf.pages)
        for number, _start, text in candidates:
            if number > n:
                continue
            page = pdf.pages[number - 1]
            try:
                raw = page.extract_words(keep_blank_chars=False, x_tolerance=1.5)
            except Exception:  # noqa: BLE001 - one unreadable page loses its tables only
                continue
            words = [_Word(w["text"], float(w["x0"]), float(w["x1"]), float(w["top"])) for w in raw]
            for t in _tables_on_page(words, float(page.width)):
                if not t.pop("scale_said", True) and tables:
                    # no "(In millions)" over this table: the filing's convention, as the table before it said
                    t["scale"] = tables[-1].scale
                    for r in t["rows"]:
                        if r["unit"] in ("USD", "shares") and r["scale"] == "units":
                            r["scale"] = t["scale"]
                _locate(t, text, 0)  # page-relative: OCR may insert text before this page later
                t["page"] = number
                t["index"] = len(tables)
                tables.append(Table.from_json(t))
            page.flush_cache()
    return tables


def rebase_tables(tables: list[dict[str, Any]], page_starts: dict[int, int]) -> list[dict[str, Any]]:
    """Page-relative spans (as the parse leaves them) -> offsets into the final document text."""
    out = []
    for t in tables:
        base = page_starts.get(int(t["page"]))
        if base is None:
            continue
        t = {**t, "rows": [dict(r) for r in t["rows"]]}

        def shift(v, base=base):
            return None if v is None else v + base

        t["char_start"], t["char_end"] = shift(t.get("char_start")), shift(t.get("char_end"))
        for r in t["rows"]:
            r["label_start"], r["label_end"] = shift(r.get("label_start")), shift(r.get("label_end"))
            r["cells"] = [
                {**c, "start": shift(c.get("start")), "end": shift(c.get("end"))} for c in r["cells"]
            ]
        out.append(t)
    return out


def find_tables(path, parsed) -> list[dict[str, Any]]:
    """The tables of a parsed PDF as JSON, for `ParsedDocument.tables`. Table recovery is an extra: a file
    the layout pass cannot read keeps its text and gets a warning, never a failed parse. (Encrypted files got
    here only when they open with the empty user password, which pdfminer tries too.)"""
    pages = [(p.number, p.char_start, p.text) for p in parsed.pages]
    try:
        tables = extract_tables(str(path), pages)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - pdfminer raises many types on damaged files
        parsed.metadata.setdefault("warnings", []).append(f"tables not recovered: {type(exc).__name__}")
        return []
    return [t.to_json() for t in tables]


__all__ = [
    "find_tables",
    "rebase_tables",
    "Cell",
    "Column",
    "Row",
    "SCALES",
    "Table",
    "classify",
    "extract_tables",
    "looks_tabular",
    "parse_date",
    "parse_duration_months",
    "parse_number",
]
