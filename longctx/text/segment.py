"""Sentence and clause segmentation for contracts and reports, with exact character offsets.

Text from PDFs arrives line-broken (a sentence wrapped over several lines, sometimes over a page break),
or flattened (paragraphs separated by runs of spaces instead of newlines), and contracts are full of
section numbers ("1.1.", "(a)", "Section 12"), all-caps headings, and abbreviations ("Inc.", "U.S.",
"No. 5") whose full stops do not end a sentence. The rules below handle those cases; every segment is a
slice `text[start:end]` trimmed of surrounding whitespace, so offsets map back to pages exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Long sentences are cut into clauses (at ";" and inline enumerations) past this length.
CLAUSE_SPLIT_CHARS = 320
# Clause pieces shorter than this are glued to their neighbour (an "(a)" alone answers nothing).
MIN_CLAUSE_CHARS = 40
# Headings: at most this many characters / words.
HEADING_MAX_CHARS = 100
HEADING_MAX_WORDS = 12

ABBREVIATIONS = frozenset(
    [
        "inc",
        "corp",
        "co",
        "ltd",
        "llc",
        "lp",
        "llp",
        "plc",
        "no",
        "nos",
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "sr",
        "jr",
        "messrs",
        "sec",
        "secs",
        "art",
        "arts",
        "para",
        "paras",
        "e.g",
        "i.e",
        "cf",
        "viz",
        "vs",
        "v",
        "approx",
        "fig",
        "figs",
        "ref",
        "refs",
        "pp",
        "p",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "u.s.a",
        "n.a",
        "s.a",
        "b.v",
        "n.v",
        "a.g",
        "s.p.a",
        "ave",
        "blvd",
        "rd",
        "dept",
        "govt",
        "intl",
        "assoc",
        "bros",
        "mfg",
        "ph.d",
        "et",
        "al",
        "id",
        "ex",
        "exh",
        "sch",
        "min",
        "max",
        "est",
        "incl",
    ]
)

# A line break or a run of three or more spaces/tabs separates lines (flattened PDF text uses the latter).
_LINE_BREAK = re.compile(r"[ \t\f\v]*\n[ \t\f\v]*|[ \t\f\v]{3,}")
_ENUM = (
    r"(?:\(?\d{1,3}(?:\.\d{1,3})*[.)]"  # 1.  1.1.  2)  (3)
    r"|\d{1,3}(?:\.\d{1,3})+"  # 1.1  (section number without trailing stop)
    r"|\([a-zA-Z]{1,2}\)|[a-z]\)"  # (a)  (aa)  a)
    r"|\(?[ivxlcIVXLC]{1,6}[.)]"  # (iv)  iv.  IV.
    r"|[A-Z]\."  # A.
    r"|[•▪●◦\-–—*])"  # bullets
)
_ENUM_START = re.compile(
    r"^(?:" + _ENUM + r"|(?:section|article|schedule|exhibit|annex)\s+[\dIVXLC]+(?:\.\d+)*\.?)(?=\s|$)", re.I
)
_ENUM_ONLY = re.compile(r"^\s*(?:" + _ENUM + r"|(?:section|article)\s+[\dIVXLC]+(?:\.\d+)*\.?)\s*$", re.I)
_PAGE_NUMBER = re.compile(r"(?:page\s+)?[-–]?\s*\d{1,4}\s*[-–]?(?:\s+of\s+\d{1,4})?\s*$", re.I)
# Sentence end: terminal punctuation, closing quotes/brackets, whitespace, then what can start a sentence.
_SENT_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_LAST_WORD = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")
_TERMINAL = re.compile(r"[.!?:;][\"'”’)\]]*$")
# Clause boundaries inside a long sentence: after ";", or before an inline enumeration "(b)" / "(ii)".
_CLAUSE = re.compile(
    r";\s+|(?<=[:,;])\s+(?=\((?:[a-z]{1,2}|[ivx]{1,5}|\d{1,2})\)\s)|\s+(?=(?:and|or)\s+\([a-z]\)\s)"
)


@dataclass(frozen=True)
class Segment:
    """One sentence or clause: `text[start:end]`; `heading` marks section titles (used as context)."""

    start: int
    end: int
    heading: bool = False


def _is_upper_title(s: str) -> bool:
    letters = [c for c in s if c.isalpha()]
    return len(letters) >= 3 and not any(c.islower() for c in letters)


def is_heading(s: str) -> bool:
    """A short title line: all capitals ("GOVERNING LAW"), or a numbered Title Case line ("12. Notices")."""
    s = s.strip()
    if not s or len(s) > HEADING_MAX_CHARS:
        return False
    words = s.split()
    if len(words) > HEADING_MAX_WORDS:
        return False
    if _is_upper_title(s):
        return True
    m = _ENUM_START.match(s)
    body = s[m.end() :].strip() if m else s
    body = body.rstrip(".:")
    if not body or not m:
        return False
    body_words = [w for w in body.split() if w[0].isalpha()]
    small = {"of", "and", "or", "the", "to", "for", "in", "on", "a", "an", "by", "with"}
    return (
        0 < len(body_words) <= 8
        and all(w[0].isupper() or w in small for w in body_words)
        and not _TERMINAL.search(body.rstrip(".:"))
    )


def _lines(text: str, lo: int, hi: int) -> list[tuple[int, int, bool]]:
    """Non-blank lines of text[lo:hi] as (start, end, after_blank): after_blank marks a paragraph break."""
    out: list[tuple[int, int, bool]] = []
    pos = lo
    after_page_number = False
    for m in [*_LINE_BREAK.finditer(text, lo, hi), None]:
        end = m.start() if m else hi
        if end > pos and not text[pos:end].isspace():
            if out and _PAGE_NUMBER.match(text, pos, end):
                # A page number or running footer between two halves of a sentence: not a unit of its own.
                after_page_number = True
            else:
                gap_start = out[-1][1] if out else lo
                blank = not out or (text.count("\n", gap_start, pos) >= 2 and not after_page_number)
                out.append((pos, end, blank))
                after_page_number = False
        if m:
            pos = m.end()
    return out


def _ends_with_abbreviation(s: str) -> bool:
    m = _LAST_WORD.search(s)
    if not m:
        return False
    word = m.group(1).lower()
    return word in ABBREVIATIONS or len(word) == 1 or (len(word) <= 5 and "." in word)


def _breaks_between(text: str, prev: tuple[int, int, bool], cur: tuple[int, int, bool]) -> bool:
    """Whether two consecutive lines belong to different units (else the first one was soft-wrapped)."""
    if cur[2]:
        return True
    a = text[prev[0] : prev[1]].rstrip()
    b = text[cur[0] : cur[1]].lstrip()
    if _ENUM_ONLY.match(a):
        return False  # "1." on its own line: the heading/clause follows on the next line
    if _TERMINAL.search(a) and not (a.endswith(".") and _ends_with_abbreviation(a)):
        return True
    if _ENUM_START.match(b):
        return True
    if is_heading(a) and (len(a) < 60 or _is_upper_title(a)):
        return True
    return bool(_is_upper_title(b) and len(b) <= HEADING_MAX_CHARS and not _is_upper_title(a))


def _units(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """Paragraph-like units: lines joined across soft wraps, split at paragraph breaks and headings."""
    units: list[tuple[int, int]] = []
    lines = _lines(text, lo, hi)
    for i, line in enumerate(lines):
        if i == 0 or _breaks_between(text, lines[i - 1], line):
            units.append((line[0], line[1]))
        else:
            units[-1] = (units[-1][0], line[1])
    return units


def _sentences(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """Sentence spans of one unit; stops after abbreviations, initials and section numbers don't count."""
    out = []
    start = lo
    for m in _SENT_END.finditer(text, lo, hi):
        end = m.end()
        piece = text[start:end]
        if piece.rstrip("\"'”’)]").endswith(".") and (
            _ends_with_abbreviation(piece.rstrip("\"'”’)]")) or _ENUM_ONLY.match(piece)
        ):
            continue
        if _ENUM_ONLY.match(piece):
            continue
        out.append((start, end))
        start = end
        while start < hi and text[start].isspace():
            start += 1
    if start < hi:
        out.append((start, hi))
    return out


def _clauses(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """Cut a long sentence at clause boundaries; tiny pieces are glued back to the previous piece."""
    if hi - lo <= CLAUSE_SPLIT_CHARS:
        return [(lo, hi)]
    pieces = []
    start = lo
    for m in _CLAUSE.finditer(text, lo, hi):
        if m.start() > start:
            pieces.append((start, m.start() + (1 if text[m.start()] == ";" else 0)))
        start = m.end()
    pieces.append((start, hi))
    merged: list[tuple[int, int]] = []
    for s, e in pieces:
        if merged and (e - s < MIN_CLAUSE_CHARS or merged[-1][1] - merged[-1][0] < MIN_CLAUSE_CHARS):
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def segment(text: str, lo: int = 0, hi: int | None = None) -> list[Segment]:
    """Sentences/clauses of `text[lo:hi]` in document order; offsets index into `text`."""
    hi = len(text) if hi is None else hi
    segments: list[Segment] = []
    for us, ue in _units(text, lo, hi):
        for ss, se in _sentences(text, us, ue):
            for cs, ce in _clauses(text, ss, se):
                cs, ce = _trim(text, cs, ce)
                if ce > cs:
                    segments.append(Segment(cs, ce, is_heading(text[cs:ce])))
    return segments
