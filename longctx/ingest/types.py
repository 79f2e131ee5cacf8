"""Parsed-document data model: one text with exact page offsets, so citations map back to pages."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

MEDIA_PDF = "application/pdf"
MEDIA_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MEDIA_TEXT = "text/plain"
MEDIA_MARKDOWN = "text/markdown"
SUPPORTED_MEDIA_TYPES = (MEDIA_PDF, MEDIA_DOCX, MEDIA_TEXT, MEDIA_MARKDOWN)


@dataclass(frozen=True)
class PageText:
    """One page; `text == document.text[char_start:char_end]` (the separator newline is not included)."""

    number: int
    char_start: int
    char_end: int
    text: str


@dataclass
class ParsedDocument:
    """Page texts joined, each followed by exactly one newline; offsets index into `text`."""

    text: str
    pages: list[PageText]
    media_type: str
    metadata: dict = field(default_factory=dict)
    tables: list[dict] = field(default_factory=list)  # `ingest.tables.Table.to_json()` per recovered table

    def page_for_offset(self, offset: int) -> int:
        """Page number holding the character at `offset`; a page's trailing separator belongs to it."""
        if not self.pages or offset < 0 or offset >= len(self.text):
            raise ValueError(f"offset {offset} outside the document (0..{len(self.text) - 1})")
        # Page i owns [char_start_i, char_end_i + 1); starts are sorted, so bisect on them.
        starts = self._starts()
        index = bisect_right(starts, offset) - 1
        return self.pages[index].number

    def page_span(self, start: int, end: int) -> tuple[int, int]:
        """First and last page of the half-open span [start, end); an empty span sits on start's page."""
        if end < start:
            raise ValueError(f"span end {end} before start {start}")
        first = self.page_for_offset(start)
        last = self.page_for_offset(end - 1) if end > start else first
        return first, last

    def _starts(self) -> list[int]:
        cached = self.__dict__.get("_starts_cache")
        if cached is None or len(cached) != len(self.pages):
            cached = [p.char_start for p in self.pages]
            self.__dict__["_starts_cache"] = cached
        return cached

    def to_json(self) -> dict:
        """JSON-safe dict; page texts are not repeated (they are slices of `text`)."""
        return {
            "version": 1,
            "media_type": self.media_type,
            "text": self.text,
            "pages": [[p.number, p.char_start, p.char_end] for p in self.pages],
            "metadata": self.metadata,
            "tables": self.tables,
        }

    @classmethod
    def from_json(cls, data: dict) -> ParsedDocument:
        text = data["text"]
        pages = [PageText(int(n), int(s), int(e), text[s:e]) for n, s, e in data["pages"]]
        return cls(
            text=text,
            pages=pages,
            media_type=data["media_type"],
            metadata=dict(data.get("metadata") or {}),
            tables=list(data.get("tables") or []),
        )


def assemble_pages(page_texts: list[str], media_type: str, metadata: dict | None = None) -> ParsedDocument:
    """Join already-normalised page texts into one document with exact offsets (1-based page numbers)."""
    pages: list[PageText] = []
    parts: list[str] = []
    pos = 0
    for number, page in enumerate(page_texts, start=1):
        pages.append(PageText(number, pos, pos + len(page), page))
        parts.append(page)
        parts.append("\n")
        pos += len(page) + 1
    return ParsedDocument(
        text="".join(parts), pages=pages, media_type=media_type, metadata=dict(metadata or {})
    )


@dataclass(frozen=True)
class ParseLimits:
    """Plain copy of the `Limits` fields a parse needs: JSON-able, and no pydantic in the child."""

    max_pages: int = 5000
    max_text_chars: int = 20_000_000
    parse_timeout_s: float = 600.0
    parse_memory_mb: int = 3072
    max_upload_bytes: int = 200 * 1024 * 1024
    ocr: bool = True
    ocr_languages: str = "eng"
    ocr_dpi: int = 300
    ocr_page_timeout_s: float = 60.0
    ocr_tesseract: str = "tesseract"

    @classmethod
    def of(cls, limits: object | None) -> ParseLimits:
        """From a `Limits`/`Settings` (or alike); None means the configured limits."""
        if isinstance(limits, ParseLimits):
            return limits
        if limits is None:
            from longctx.config import get_settings

            limits = get_settings()
        return cls(
            max_pages=int(limits.max_pages),
            max_text_chars=int(limits.max_text_chars),
            parse_timeout_s=float(limits.parse_timeout_s),
            parse_memory_mb=int(limits.parse_memory_mb),
            max_upload_bytes=int(limits.max_upload_bytes),
            ocr=bool(getattr(limits, "ocr", cls.ocr)),
            ocr_languages=str(getattr(limits, "ocr_languages", cls.ocr_languages)),
            ocr_dpi=int(getattr(limits, "ocr_dpi", cls.ocr_dpi)),
            ocr_page_timeout_s=float(getattr(limits, "ocr_page_timeout_s", cls.ocr_page_timeout_s)),
            ocr_tesseract=str(getattr(limits, "ocr_tesseract", cls.ocr_tesseract)),
        )
