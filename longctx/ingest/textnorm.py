"""Per-page text clean-up done before offsets are fixed, so every later offset stays exact."""

from __future__ import annotations

import re

from .errors import IngestError

# C0 controls except \t (09) and \n (0a); \r is handled first. DEL is dropped too.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def normalize_page(text: str) -> str:
    """CRLF and lone CR to LF, drop control characters, replace lone surrogates (not valid UTF-8)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    return text


class TextBudget:
    """Running total of extracted characters: stops a decompression bomb before it fills memory."""

    def __init__(self, max_chars: int):
        self.max_chars = max_chars
        self.used = 0

    def add(self, n: int) -> None:
        self.used += n
        if self.used > self.max_chars:
            raise IngestError(f"extracted text too large: more than {self.max_chars} characters (limit)")


def check_page_count(n: int, max_pages: int) -> None:
    """The page cap, checked as early as each format knows its page count."""
    if n > max_pages:
        raise IngestError(f"too many pages: {n} > limit {max_pages}")


def page_ranges(numbers: list[int]) -> str:
    """[1,2,3,7] -> '1-3, 7' (keeps warnings short on long documents)."""
    parts: list[str] = []
    start = prev = None
    for n in numbers:
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            parts.append(f"{start}-{prev}" if start != prev else str(start))
            start = prev = n
    if start is not None:
        parts.append(f"{start}-{prev}" if start != prev else str(start))
    return ", ".join(parts)
