"""What a financial question asks for: the metric (a concept with its many names), the period, and whether a
figure must be computed from others.

Analysts and filings name the same line differently ("revenue" / "net sales", "capex" / "purchases of property
and equipment", "cash on hand" / "cash and cash equivalents"). `CONCEPTS` maps each concept to the names used
on statements and in questions; a statement row and a question meet on a concept, or on the words of the row's
own label (segment and product rows: "iPhone", "Intelligent Cloud", "Data Center").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from longctx.ingest.tables import _MONTHS

from ..text.terms import STOP_WORDS, stem

# concept -> (names, statement the concept lives on). Longer names are tried first.
CONCEPTS: dict[str, tuple[tuple[str, ...], str]] = {
    "revenue": (
        (
            "total net sales",
            "net sales",
            "total revenue",
            "total revenues",
            "net revenue",
            "net revenues",
            "revenue",
            "revenues",
            "sales",
            "top line",
            "turnover",
            "total net revenue",
            "sell",
            "sold",
            "bring in",
            "brought in",
            "take in",
            "took in",
        ),
        "income",
    ),
    "cost_of_revenue": (
        (
            "total cost of sales",
            "cost of sales",
            "total cost of revenue",
            "cost of revenue",
            "cost of revenues",
            "cost of goods sold",
            "cogs",
        ),
        "income",
    ),
    "gross_profit": (("gross margin", "gross profit"), "income"),
    "rnd": (("research and development", "r&d", "research & development", "research spending"), "income"),
    "sga": (
        (
            "selling, general and administrative",
            "selling general and administrative",
            "sg&a",
            "general and administrative",
            "marketing, general and administrative",
            "sales, general and administrative",
            "g&a",
        ),
        "income",
    ),
    "sales_marketing": (("sales and marketing", "selling and marketing", "marketing expenses"), "income"),
    "operating_expenses": (("total operating expenses", "operating expenses", "opex"), "income"),
    "operating_income": (
        (
            "operating income",
            "income from operations",
            "operating profit",
            "operating income (loss)",
            "operating loss",
            "operating line",
            "earn from operations",
            "earned from operations",
        ),
        "income",
    ),
    "pretax_income": (
        (
            "income before provision for income taxes",
            "income before income taxes",
            "pretax income",
            "pre-tax income",
            "income (loss) before income taxes",
            "earnings before taxes",
        ),
        "income",
    ),
    "income_tax": (
        (
            "provision for income taxes",
            "provision for (benefit from) income taxes",
            "income tax expense",
            "income taxes",
            "tax expense",
            "tax provision",
            "benefit from income taxes",
        ),
        "income",
    ),
    "net_income": (
        (
            "net income",
            "net income (loss)",
            "net earnings",
            "net profit",
            "profit",
            "bottom line",
            "net loss",
            "earnings",
            "earn after tax",
            "earned after tax",
            "after-tax profit",
            "after tax",
        ),
        "income",
    ),
    "eps_diluted": (
        (
            "diluted earnings per share",
            "diluted eps",
            "diluted net income per share",
            "per diluted share",
            "earnings per diluted share",
            "diluted per share",
            "diluted per-share",
        ),
        "income",
    ),
    "eps_basic": (
        (
            "basic earnings per share",
            "basic eps",
            "basic net income per share",
            "undiluted",
            "before dilution",
        ),
        "income",
    ),
    "eps": (
        ("earnings per share", "eps", "net income per share", "per share", "per-share", "each share"),
        "income",
    ),
    "cash": (
        (
            "cash and cash equivalents",
            "cash & cash equivalents",
            "cash on hand",
            "cash balance",
            "cash position",
        ),
        "balance",
    ),
    "total_assets": (("total assets",), "balance"),
    "current_assets": (("total current assets", "current assets"), "balance"),
    "total_liabilities": (("total liabilities",), "balance"),
    "current_liabilities": (("total current liabilities", "current liabilities"), "balance"),
    "inventory": (("inventories", "inventory"), "balance"),
    "receivables": (("accounts receivable", "receivables", "trade receivables"), "balance"),
    "payables": (("accounts payable", "payables"), "balance"),
    "long_term_debt": (
        (
            "long-term debt",
            "long term debt",
            "term debt",
            "long-term borrowings",
            "notes payable",
            "non-current debt",
            "noncurrent debt",
        ),
        "balance",
    ),
    "equity": (
        (
            "total shareholders' equity",
            "total stockholders' equity",
            "shareholders' equity",
            "stockholders' equity",
            "total equity",
            "book value",
            "net worth",
        ),
        "balance",
    ),
    "goodwill": (("goodwill",), "balance"),
    "retained_earnings": (
        ("retained earnings", "accumulated profit", "undistributed profit", "accumulated deficit"),
        "balance",
    ),
    "short_term_debt": (
        ("short-term debt", "short term debt", "commercial paper", "current portion of long-term debt"),
        "balance",
    ),
    "other_income": (
        (
            "other income (expense), net",
            "other income, net",
            "other income/(expense), net",
            "interest and other, net",
            "other income",
            "non-operating income",
        ),
        "income",
    ),
    "deferred_revenue": (("deferred revenue", "unearned revenue"), "balance"),
    "operating_cash_flow": (
        (
            "net cash provided by operating activities",
            "net cash provided by (used in) operating activities",
            "cash generated by operating activities",
            "net cash from operations",
            "net cash from operating activities",
            "cash from operations",
            "operating cash flow",
            "cash flow from operating activities",
            "cash flows from operating activities",
            "net cash provided by (used for) operating activities",
        ),
        "cash_flow",
    ),
    "capex": (
        (
            "purchases of property and equipment",
            "payments for acquisition of property, plant and equipment",
            "additions to property, plant, and equipment",
            "additions to property, plant and equipment",
            "additions to property and equipment",
            "purchases related to property and equipment and intangible assets",
            "capital expenditures",
            "capital expenditure",
            "capex",
            "capital spending",
            "purchases of property, plant and equipment",
        ),
        "cash_flow",
    ),
    "depreciation": (
        ("depreciation and amortization", "depreciation, amortization, and other", "depreciation", "d&a"),
        "cash_flow",
    ),
    "buybacks": (
        (
            "repurchases of common stock",
            "common stock repurchased",
            "share repurchases",
            "stock repurchases",
            "buybacks",
            "buyback",
            "share repurchase",
            "stock repurchase",
            "repurchase of common stock",
            "payments related to repurchases of common stock",
        ),
        "cash_flow",
    ),
    "dividends": (
        (
            "payments for dividends and dividend equivalents",
            "common stock cash dividends paid",
            "dividends paid",
            "cash dividends",
            "dividends",
        ),
        "cash_flow",
    ),
    "stock_comp": (
        ("share-based compensation", "stock-based compensation", "stock-based compensation expense"),
        "cash_flow",
    ),
    "interest_expense": (("interest expense",), "income"),
    "effective_tax_rate": (("effective tax rate", "effective income tax rate"), "other"),
}

# Words that say nothing about which line is asked for.
_GENERIC_WORDS = """
what was were is are the a an of for in on at to by from its their company company's report
reported reports quarter quarterly period fiscal year years month months three six nine twelve
ended ending end total amount figure value much how many did does do during as latest most
recent current this that 10-q 10q form filing statement statements consolidated condensed
million millions billion billions usd dollars dollar q1 q2 q3 q4 first second third fourth half
ytd year-to-date date give tell me please show which net according based shown reflected
reflect level levels number approximately approx about over under compared comparison prior
previous last same ago mention mentioned disclose disclosed record recorded generate generated
bring brought spend spent make made post posted see saw at q state stated reveal revealed per
figures data information detail details provide provided shows segment segments business
businesses division divisions activity activities scale magnitude size extent any if so and or
it they report's relative compare against versus vs measure stack up attributed attributable
invest invested pay paid incur incurred hold held carry carried keep kept earn earned book
booked recognise recognize recognised recognized produce produced owe owed have had show showed
close closing year-end quarter-end calendar like such similar excluding including counting
expense expenses january february march april may june july august september october november
december jan feb mar apr jun jul aug sep sept oct nov dec
"""
GENERIC = frozenset(stem(w) for w in _GENERIC_WORDS.split())


def norm(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").replace("–", "-").split())


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z&'\-]*|\d+", norm(text))


def content_stems(text: str) -> set[str]:
    return {
        stem(w) for w in _words(text) if w not in STOP_WORDS and stem(w) not in GENERIC and not w.isdigit()
    }


def concept_of(label: str) -> str | None:
    """The concept a statement row's label names (its whole label, or the label without 'total'/'net')."""
    low = norm(label).rstrip(":").strip()
    low = re.sub(r"\s*\((?:loss|unaudited|gain|benefit)\)", "", low)
    best, best_len = None, 0
    for concept, (names, _) in CONCEPTS.items():
        for n in names:
            named = low in (n, f"total {n}") or (
                low.startswith(n) and len(low) - len(n) <= 12 and "," not in low[len(n) :]
            )
            if named and len(n) > best_len:
                best, best_len = concept, len(n)
    return best


def stem_seq(text: str) -> str:
    """Words stemmed and joined: 'share repurchases' and 'share repurchase' meet."""
    return " ".join(stem(w) for w in _words(text))


def concepts_in(question: str) -> list[tuple[str, str]]:
    """(concept, name) for each concept named in the question, longest names first, non-overlapping."""
    q = f" {stem_seq(question)} "
    found: list[tuple[str, str]] = []
    taken: list[tuple[int, int]] = []
    pairs = sorted(((n, c) for c, (names, _) in CONCEPTS.items() for n in names), key=lambda p: -len(p[0]))
    for name, concept in pairs:
        for m in re.finditer(rf"(?<=\s){re.escape(stem_seq(name))}(?=\s)", q):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append((concept, name))
    return found


def home_statement(concept: str) -> str:
    return CONCEPTS[concept][1]


# -- periods ----------------------------------------------------------------------------------------------
@dataclass
class PeriodAsk:
    """What a question says about the period; every part optional."""

    months: int | None = None  # 3, 6, 9, 12; 0 point in time
    ytd: bool = False
    day: date | None = None  # an exact date
    month_year: tuple[int, int] | None = None
    year: int | None = None
    quarter: int | None = None  # Q1..Q4 as said
    fiscal: bool = False
    prior: bool = False  # "a year ago", "prior year", "last year's"
    latest: bool = False


_Q = re.compile(r"\b(?:q([1-4])|([1-4])q|(first|second|third|fourth) (?:fiscal )?quarter)\b")
_ORD = {"first": 1, "second": 2, "third": 3, "fourth": 4}


def parse_period(question: str) -> PeriodAsk:
    q = norm(question)
    ask = PeriodAsk()
    # "the Q3 2022 10-Q" names the report, not a three-month period
    report_named = re.search(r"\b(?:q[1-4]|[1-4]q) (?:fy)?(?:19|20)?\d\d (?:10-?q|report|filing|form)", q)
    if report_named:
        ask.latest = True
        q = q.replace(report_named.group(0), " ")
    from longctx.ingest.tables import parse_date

    d = parse_date(question)
    if d:
        ask.day = d
    else:
        m = re.search(r"\b([a-z]{3,9})\.? ((?:19|20)\d\d)\b", q)
        if m and m.group(1) in _MONTHS:
            ask.month_year = (_MONTHS[m.group(1)], int(m.group(2)))
    years = [] if report_named else re.findall(r"\b(?:fy ?|fiscal (?:year )?)?((?:19|20)\d\d)\b", q)
    if years:
        ask.year = int(years[0])
    fy = re.search(r"\bfy ?(\d\d)\b", q)
    if fy and not ask.year:
        ask.year = 2000 + int(fy.group(1))
    ask.fiscal = bool(re.search(r"\bfiscal\b|\bfy", q))
    qm = _Q.search(q)
    if qm:
        ask.quarter = int(qm.group(1) or qm.group(2) or _ORD[qm.group(3)])
    if re.search(r"\b(six months|first half|h1|half[- ]year|two quarters)\b", q):
        ask.months = 6
    elif re.search(r"\b(nine months|first three quarters|three quarters|9 months)\b", q):
        ask.months = 9
    elif re.search(
        r"\b(twelve months|trailing|ttm|12 months|full year|full-year|annual|fiscal year \d{4} as a whole)\b",
        q,
    ):
        ask.months = 12
    elif re.search(r"\b(three months|quarter|quarterly|3 months|q[1-4]|[1-4]q)\b", q):
        ask.months = 3
    if re.search(
        r"\b(year[- ]to[- ]date|ytd|so far|to date|through (?:the end of |its )?(?:the )?"
        r"(?:first|second|third|fourth|q[1-4]|[a-z]+ quarter|january|february|march|april|may|june|july|"
        r"august|september|october|november|december))\b",
        q,
    ):
        ask.ytd = True
    span = re.search(r"\b([a-z]{3,9})\.?\s*(?:-|–|through|to|and)\s*([a-z]{3,9})\b", q)
    if span and span.group(1) in _MONTHS and span.group(2) in _MONTHS:
        n = (_MONTHS[span.group(2)] - _MONTHS[span.group(1)]) % 12 + 1
        if n in (3, 6, 9, 12):
            ask.months, ask.ytd = n, False
    point = r"\b(as of|at the end of|balance at|on hand|ended the quarter with|at quarter[- ]end|held at)\b"
    end_of_quarter = r"at the end of|quarter[- ]end|ended the quarter"
    if re.search(point, q) and (ask.months is None or (ask.months == 3 and re.search(end_of_quarter, q))):
        ask.months = 0
    ask.prior = bool(
        re.search(
            r"\b(prior[- ]year|previous year|last year|a year ago|year earlier|year-ago|"
            r"same (?:quarter|period) (?:of |in )?(?:the )?(?:prior|previous|last) year|"
            r"comparable (?:prior )?period)\b",
            q,
        )
    )
    ask.latest = ask.latest or bool(re.search(r"\b(latest|most recent|current|this quarter|recent)\b", q))
    return ask


def is_narrative(question: str) -> bool:
    """Questions answered by prose (causes, risks, policies), not by one figure."""
    q = norm(question)
    if re.search(r"^(why|explain|describe|discuss|summari[sz]e)\b", q):
        return True
    return bool(
        re.search(
            r"\b(why|reason|reasons|driver|drivers|factor|factors|risk|risks|strategy|strategic|impact of|"
            r"affect|affected|legal|lawsuit|litigation|proceedings|policy|policies|guidance|outlook|"
            r"auditor|auditors|"
            r"priorities|focus|explain|describe|discussion|commentary|how does .* relate|significant changes|"
            r"relationship|correlat\w*|connection|correspond\w*|insights?|suggest\w*|reflect\w*|details|"
            r"changes in|breakdown|distribution|compare\w*|contributors?|influences?|"
            r"how (?:does|do|did|have|has)|"
            r"relative to|stack up|measure up|analy[sz]e|examine|align|adapt\w*|significant|"
            r"accounting (?:practices|policies|standards))\b",
            q,
        )
    )


COMPUTE = {
    "growth": re.compile(
        r"\b(grow|grew|growth|increase|increased|decrease|decreased|decline|declined|change|changed|"
        r"year[- ]over[- ]year|yoy|compared (?:to|with) the (?:same|prior))\b"
    ),
    "share": re.compile(
        r"\b(percentage of|percent of|share of|portion of|proportion of|as a percent(?:age)? of|"
        r"what percent(?:age)?|contribute)\b"
    ),
    "margin": re.compile(
        r"\b(margin (?:percentage|percent|ratio|rate)|(?:gross|operating|net|profit) margin "
        r"(?:as a percent(?:age)?|in percent|%)|margin %|percentage margin)\b"
    ),
    "current_ratio": re.compile(r"\bcurrent ratio\b"),
    "free_cash_flow": re.compile(r"\bfree cash flow\b"),
    "debt_to_equity": re.compile(r"\bdebt[- ]to[- ]equity\b"),
}


def compute_kind(question: str) -> str | None:
    q = norm(question)
    for kind in ("current_ratio", "free_cash_flow", "debt_to_equity", "margin", "share", "growth"):
        if COMPUTE[kind].search(q):
            return kind
    return None
