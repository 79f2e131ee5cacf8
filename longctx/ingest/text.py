"""Plain text and Markdown: encoding detection without guessing games, form feeds as page breaks."""

from __future__ import annotations

import codecs
from pathlib import Path

from .errors import IngestError
from .textnorm import TextBudget, check_page_count, normalize_page
from .types import ParsedDocument, ParseLimits, assemble_pages


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding): BOM first (UTF-8/16/32), then strict UTF-8, then cp1252; NUL bytes mean binary."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace"), encoding
    if b"\x00" in data:
        raise IngestError("unsupported file type: binary data")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def parse_text(path: str | Path, limits: ParseLimits, media_type: str) -> ParsedDocument:
    """Pages split at form feeds (`\\f`), as printers and `pdftotext` do."""
    path = Path(path)
    # Up to 4 bytes per character in UTF-8 (UTF-32 has 4 too): larger files cannot fit the char budget.
    size = path.stat().st_size
    if size > 4 * limits.max_text_chars + 4:
        raise IngestError(f"extracted text too large: more than {limits.max_text_chars} characters (limit)")
    text, encoding = decode_text(path.read_bytes())
    raw_pages = text.split("\f")
    if len(raw_pages) > 1 and not raw_pages[-1].strip():
        raw_pages.pop()  # a final form feed ends the last page; it does not start a new one
    check_page_count(len(raw_pages), limits.max_pages)
    budget = TextBudget(limits.max_text_chars)
    pages = []
    for raw in raw_pages:
        page = normalize_page(raw)
        budget.add(len(page))
        pages.append(page)
    metadata = {"encoding": encoding, "page_count": len(pages), "warnings": []}
    return assemble_pages(pages, media_type, metadata)
