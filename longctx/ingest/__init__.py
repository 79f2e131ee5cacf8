"""Document ingestion: bytes in, page-exact text out, parsed in a sandboxed child process.

Importing this package is cheap (no pypdf, no torch): parsers load only in the parse child or on use.
"""

from __future__ import annotations

from .detect import sniff_media_type
from .errors import IngestError
from .ocr import OcrPaused
from .sandbox import parse_file, parse_path_inprocess
from .sweep import SweepResult, sweep
from .types import (
    MEDIA_DOCX,
    MEDIA_MARKDOWN,
    MEDIA_PDF,
    MEDIA_TEXT,
    SUPPORTED_MEDIA_TYPES,
    PageText,
    ParsedDocument,
    ParseLimits,
    assemble_pages,
)

__all__ = [
    "MEDIA_DOCX",
    "MEDIA_MARKDOWN",
    "MEDIA_PDF",
    "MEDIA_TEXT",
    "SUPPORTED_MEDIA_TYPES",
    "IngestError",
    "OcrPaused",
    "PageText",
    "ParseLimits",
    "ParsedDocument",
    "SweepResult",
    "assemble_pages",
    "parse_file",
    "parse_path_inprocess",
    "sniff_media_type",
    "sweep",
]
