"""The reader interface every analysis backend implements: queries, documents, answers (`get_reader` in
`longctx.analysis.factory` picks the backend).

Answers carry exact character offsets into `ReaderDocument.text` (the page texts joined, each followed by
one newline, exactly as stored in SQL), so the service can cite page and characters without re-parsing.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Query:
    """A question; `key` names the schema field it came from (lets a reader use the field's description)."""

    text: str
    key: str | None = None


@dataclass
class ReaderDocument:
    """A document as readers see it: one text plus (number, char_start, char_end) for each page."""

    id: str
    text: str
    pages: list[tuple[int, int, int]] = field(default_factory=list)
    tables: list = field(default_factory=list)  # `longctx.ingest.tables.Table`s recovered at ingest

    @classmethod
    def from_pages(cls, id: str, pages: Iterable) -> ReaderDocument:
        """From SQL `Page` rows / `PageText` objects (attributes), or (number, text) or
        (number, start, end, text) tuples. Offsets are recomputed from the texts (each page + one newline)
        and must agree with any offsets given."""
        items = []
        for p in pages:
            if hasattr(p, "text") and hasattr(p, "number"):
                items.append((int(p.number), getattr(p, "char_start", None), p.text or ""))
            elif isinstance(p, tuple | list) and len(p) in (2, 4):
                items.append((int(p[0]), p[1] if len(p) == 4 else None, p[-1] or ""))
            else:
                raise TypeError(
                    f"page must have .number/.text or be (number, text) or (number, s, e, text): {p!r}"
                )
        items.sort(key=lambda x: x[0])
        parts: list[str] = []
        spans: list[tuple[int, int, int]] = []
        pos = 0
        for number, given_start, text in items:
            if given_start is not None and int(given_start) != pos:
                raise ValueError(
                    f"page {number} starts at {given_start}, expected {pos} (pages + one newline each)"
                )
            spans.append((number, pos, pos + len(text)))
            parts.append(text)
            parts.append("\n")
            pos += len(text) + 1
        return cls(id=str(id), text="".join(parts), pages=spans)

    @classmethod
    def from_text(cls, id: str, text: str) -> ReaderDocument:
        """A single-page document (plain text); the trailing separator newline is added."""
        return cls.from_pages(id, [(1, text)])

    def page_for_offset(self, offset: int) -> int:
        """Page holding the character at `offset` (a page's trailing newline belongs to it)."""
        if offset < 0 or offset >= max(len(self.text), 1):
            raise ValueError(f"offset {offset} outside the document (0..{len(self.text) - 1})")
        if not self.pages:
            return 1
        starts = self.__dict__.get("_starts")
        if starts is None or len(starts) != len(self.pages):
            starts = self.__dict__["_starts"] = [p[1] for p in self.pages]
        index = max(bisect_right(starts, offset) - 1, 0)
        return self.pages[index][0]

    def page_bounds(self, offset: int) -> tuple[int, int]:
        """[start, end) of the page holding `offset`, its trailing newline excluded."""
        number = self.page_for_offset(offset)
        for n, start, end in self.pages:
            if n == number:
                return start, end
        return 0, len(self.text)


@dataclass(frozen=True)
class Answer:
    """One ranked answer. `text is None` means "no answer"; then only `score` is set (how close it came).

    `score` is in [0, 1]; 0.5 is the reader's answer/no-answer boundary for that query."""

    text: str | None
    score: float
    char_start: int | None = None
    char_end: int | None = None
    page: int | None = None
    passage: str | None = None
    passage_start: int | None = None
    detail: dict | None = None  # structured answers: the table cell (row, column, period, unit) or formula

    @classmethod
    def cited(
        cls,
        document: ReaderDocument,
        start: int,
        end: int,
        score: float,
        passage_start: int | None = None,
        passage_end: int | None = None,
    ) -> Answer:
        """The answer ``document.text[start:end]`` cited with its page; the passage defaults to the answer."""
        ps = start if passage_start is None else passage_start
        pe = end if passage_end is None else passage_end
        return cls(
            text=document.text[start:end],
            score=round(score, 6),
            char_start=start,
            char_end=end,
            page=document.page_for_offset(start),
            passage=document.text[ps:pe],
            passage_start=ps,
        )


@runtime_checkable
class Reader(Protocol):
    name: str

    def answer(
        self,
        document: ReaderDocument,
        queries: Sequence[Query],
        top_k: int = 3,
        progress: Callable[[float], None] | None = None,
    ) -> list[list[Answer]]:
        """Per query, answers ranked best first; `[Answer(text=None, score=s)]` when there is none."""
        ...
