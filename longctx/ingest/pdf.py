"""PDF text extraction with pypdf: tolerant of damaged files, strict about passwords and empty text layers."""

from __future__ import annotations

import logging
from pathlib import Path

import pypdf
from pypdf import PasswordType
from pypdf.errors import DependencyError, EmptyFileError, FileNotDecryptedError, WrongPasswordError

from .errors import IngestError, short_exc
from .ocr import no_text_reason, plan_pages
from .tables import find_tables
from .textnorm import TextBudget, check_page_count, normalize_page
from .textnorm import page_ranges as _ranges
from .types import MEDIA_PDF, ParsedDocument, ParseLimits, assemble_pages

# pypdf logs every repair it makes on damaged files; that is noise for a service (and costs time).
logging.getLogger("pypdf").setLevel(logging.ERROR)

PASSWORD_REQUIRED = "password required: the PDF is encrypted"


def _open(path: Path) -> pypdf.PdfReader:
    try:
        return pypdf.PdfReader(path, strict=False)
    except (FileNotDecryptedError, WrongPasswordError) as exc:
        raise IngestError(PASSWORD_REQUIRED) from exc
    except DependencyError as exc:
        raise IngestError(f"unsupported encryption: {short_exc(exc)}") from exc
    except EmptyFileError as exc:
        raise IngestError("empty document: the file is empty") from exc
    except MemoryError:
        raise
    except Exception as exc:  # pypdf raises many types on damaged input
        raise IngestError(f"not a valid PDF: {short_exc(exc)}") from exc


def _decrypt(reader: pypdf.PdfReader) -> None:
    """Open with the empty user password (owner-password-only PDFs); anything else needs a password."""
    try:
        result = reader.decrypt("")
    except (FileNotDecryptedError, WrongPasswordError) as exc:
        raise IngestError(PASSWORD_REQUIRED) from exc
    except (DependencyError, NotImplementedError) as exc:
        raise IngestError(f"unsupported encryption: {short_exc(exc)}") from exc
    except MemoryError:
        raise
    except Exception as exc:
        raise IngestError(f"not a valid PDF: broken encryption dictionary ({short_exc(exc)})") from exc
    if result == PasswordType.NOT_DECRYPTED:
        raise IngestError(PASSWORD_REQUIRED)


def _info(reader: pypdf.PdfReader) -> dict:
    """Title/author when readable; damaged info dictionaries are ignored, never fatal."""
    out: dict = {}
    try:
        info = reader.metadata
        if info:
            for key, name in (("/Title", "title"), ("/Author", "author")):
                value = info.get(key)
                if value is not None:
                    value = normalize_page(str(value)).strip()
                    if value:
                        out[name] = value[:500]
    except MemoryError:
        raise
    except Exception:
        pass
    return out


# pypdf's own guards against hostile files cap arrays at 100,000 elements; real filings exceed that (SEC 10-Qs
# with large cross-reference or annotation arrays: "broken page tree (LimitReachedError ...)"). The parse runs
# in the sandbox under a memory cap and a wall-clock limit, which bound what a hostile array can cost, so the
# counts are raised there, not dropped.
_PYPDF_LIMITS = {"array_maximum_element_count": 20_000_000, "dictionary_maximum_element_count": 2_000_000}


def parse_pdf(path: str | Path, limits: ParseLimits) -> ParsedDocument:
    """Text of every page; a page that fails becomes empty with a warning, unless all of them fail."""
    configure = getattr(pypdf, "apply_configuration", None)
    if configure is None:  # pypdf before its configurable limits
        return _parse_pdf(path, limits)
    with configure(**_PYPDF_LIMITS):
        return _parse_pdf(path, limits)


def _parse_pdf(path: str | Path, limits: ParseLimits) -> ParsedDocument:
    reader = _open(Path(path))
    encrypted = False
    try:
        encrypted = bool(reader.is_encrypted)
    except MemoryError:
        raise
    except Exception as exc:
        raise IngestError(f"not a valid PDF: broken encryption dictionary ({short_exc(exc)})") from exc
    if encrypted:
        _decrypt(reader)
    try:
        n_pages = len(reader.pages)
    except (FileNotDecryptedError, WrongPasswordError) as exc:
        raise IngestError(PASSWORD_REQUIRED) from exc
    except MemoryError:
        raise
    except Exception as exc:
        raise IngestError(f"not a valid PDF: broken page tree ({short_exc(exc)})") from exc
    if n_pages == 0:
        raise IngestError("empty document: the PDF has no pages")
    check_page_count(n_pages, limits.max_pages)

    budget = TextBudget(limits.max_text_chars)
    texts: list[str] = []
    failed: list[int] = []
    empty: list[int] = []
    first_error = ""
    for index in range(n_pages):
        try:
            raw = reader.pages[index].extract_text()
        except MemoryError:
            raise
        except Exception as exc:  # one bad page must not sink the document
            failed.append(index + 1)
            first_error = first_error or short_exc(exc)
            raw = ""
        text = normalize_page(raw or "")
        budget.add(len(text))
        if not text.strip() and index + 1 not in failed[-1:]:
            empty.append(index + 1)
        texts.append(text)

    if len(failed) == n_pages:
        raise IngestError(f"text extraction failed on every page ({first_error})")
    plan = plan_pages(reader, texts, limits)  # pages for OCR (ocr.py); the sandbox's caller reads them
    if len(failed) + len(empty) == n_pages and not plan:
        raise IngestError(no_text_reason(limits))
    empty = [n for n in empty if n not in {p[0] for p in plan}]

    warnings: list[str] = []
    if failed:
        warnings.append(f"text extraction failed on pages {_ranges(failed)} ({first_error}); left empty")
    if empty:
        warnings.append(f"no text layer (scanned?) on {len(empty)} pages: {_ranges(empty)}")
    metadata = {**_info(reader), "page_count": n_pages, "encrypted": encrypted, "warnings": warnings}
    if failed:
        metadata["failed_pages"] = failed
    if empty:
        metadata["empty_pages"] = empty
    if plan:
        metadata["ocr_plan"] = plan
    parsed = assemble_pages(texts, MEDIA_PDF, metadata)
    parsed.tables = find_tables(Path(path), parsed)
    return parsed
