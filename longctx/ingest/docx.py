"""DOCX text in body order (paragraphs and tables), split into pages at the breaks Word records."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx

from .errors import IngestError, short_exc
from .textnorm import TextBudget, check_page_count, normalize_page
from .types import MEDIA_DOCX, ParsedDocument, ParseLimits, assemble_pages

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"

# Inline containers whose children are runs (or more containers) in reading order.
_SKIP_INLINE = {W + "pPr", W + "rPr", W + "del", W + "moveFrom", W + "commentReference"}
_SKIP_RUN = {
    W + "rPr",
    W + "delText",
    W + "instrText",
    W + "delInstrText",
    W + "drawing",
    W + "pict",
    W + "object",
}


def check_zip(path: Path, limits: ParseLimits) -> None:
    """Refuse non-DOCX zips and zip bombs from the central directory, before anything is inflated."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except zipfile.BadZipFile as exc:
        raise IngestError(f"not a valid DOCX: broken zip archive ({short_exc(exc)})") from exc
    except OSError as exc:
        raise IngestError(f"cannot read file: {short_exc(exc)}") from exc
    names = {i.filename for i in infos}
    if not any(n.startswith("word/") for n in names):
        raise IngestError("unsupported file type: zip archive (not a .docx)")
    if any(i.flag_bits & 0x1 for i in infos):
        raise IngestError("password required: the DOCX is encrypted")
    cap = limits.parse_memory_mb * 1024 * 1024 // 2
    total = sum(i.file_size for i in infos)
    if total > cap:
        raise IngestError(f"DOCX too large when unpacked: {total} bytes > limit {cap} (zip bomb?)")


class _Pages:
    """Collects text fragments and cuts pages; a rendered break right after another break is a duplicate."""

    def __init__(self) -> None:
        self.pages: list[str] = []
        self.current: list[str] = []
        self.has_text = False
        self.breaks = {"explicit": 0, "rendered": 0}

    def emit(self, text: str) -> None:
        if text:
            self.current.append(text)
            if not self.has_text and text.strip():
                self.has_text = True

    def page_break(self, kind: str) -> None:
        # Word writes lastRenderedPageBreak at the top of each rendered page, including right after an
        # explicit break; counting both would invent blank pages.
        if kind == "rendered" and not self.has_text:
            return
        self.breaks[kind] += 1
        self.pages.append("".join(self.current))
        self.current = []
        self.has_text = False

    def finish(self) -> list[str]:
        pages = [*self.pages, "".join(self.current)]
        if len(pages) > 1 and not pages[-1].strip():
            pages.pop()  # breaks before the final empty paragraph / section properties
        return [p[:-1] if p.endswith("\n") else p for p in pages]


class _Walker:
    def __init__(self) -> None:
        self.out = _Pages()

    def block(self, parent, in_cell: bool = False) -> None:
        first = True
        for child in parent:
            tag = child.tag
            if tag == W + "p":
                if in_cell and not first:
                    self.out.emit(" ")
                self.paragraph(child, in_cell)
                first = False
            elif tag == W + "tbl":
                if in_cell and not first:
                    self.out.emit(" ")
                self.table(child)
                first = False
            elif tag in (W + "sdt", W + "customXml", W + "ins", W + "moveTo"):
                content = child.find(W + "sdtContent") if tag == W + "sdt" else child
                if content is not None:
                    self.block(content, in_cell)
            elif tag == MC + "AlternateContent":
                choice = child.find(MC + "Choice")
                if choice is not None:
                    self.block(choice, in_cell)

    def paragraph(self, p, in_cell: bool) -> None:
        ppr = p.find(W + "pPr")
        if ppr is not None:
            pbb = ppr.find(W + "pageBreakBefore")
            if (
                pbb is not None
                and pbb.get(W + "val", "true") not in ("0", "false", "off")
                and self.out.has_text
            ):
                self.out.page_break("explicit")
        self.inline(p)
        if not in_cell and (self.out.current or not self.out.pages):
            self.out.emit("\n")  # not at the very top of a page: a break-only paragraph adds no blank line
        if ppr is not None:
            sect = ppr.find(W + "sectPr")
            if sect is not None:
                kind = sect.find(W + "type")
                if kind is None or kind.get(W + "val") != "continuous":
                    self.out.page_break("explicit")

    def inline(self, parent) -> None:
        for child in parent:
            tag = child.tag
            if tag == W + "r":
                self.run(child)
            elif tag in _SKIP_INLINE or not isinstance(tag, str):
                continue
            elif tag == MC + "AlternateContent":
                choice = child.find(MC + "Choice")
                if choice is not None:
                    self.inline(choice)
            else:  # hyperlink, ins, smartTag, fldSimple, sdt/sdtContent, customXml, moveTo, ...
                self.inline(child)

    def run(self, r) -> None:
        out = self.out
        for child in r:
            tag = child.tag
            if tag == W + "t":
                out.emit(child.text or "")
            elif tag == W + "tab":
                out.emit("\t")
            elif tag == W + "br":
                if child.get(W + "type") == "page":
                    out.page_break("explicit")
                else:
                    out.emit("\n")
            elif tag == W + "cr":
                out.emit("\n")
            elif tag == W + "lastRenderedPageBreak":
                out.page_break("rendered")
            elif tag == W + "noBreakHyphen":
                out.emit("-")
            elif tag == MC + "AlternateContent":
                choice = child.find(MC + "Choice")
                if choice is not None:
                    self.run(choice)

    def table(self, tbl) -> None:
        for tr in _direct(tbl, W + "tr"):
            for j, tc in enumerate(_direct(tr, W + "tc")):
                if j:
                    self.out.emit("\t")
                self.block(tc, in_cell=True)
            self.out.emit("\n")


def _direct(parent, tag: str):
    """Children with `tag`, looking through content-control and custom-XML wrappers."""
    for child in parent:
        if child.tag == tag:
            yield child
        elif child.tag in (W + "sdt", W + "sdtContent", W + "customXml"):
            yield from _direct(child, tag)


def parse_docx(path: str | Path, limits: ParseLimits) -> ParsedDocument:
    """Body paragraphs and tables in order; pages from explicit and last-rendered page breaks."""
    path = Path(path)
    check_zip(path, limits)
    try:
        document = docx.Document(str(path))
    except MemoryError:
        raise
    except Exception as exc:
        raise IngestError(f"not a valid DOCX: {short_exc(exc)}") from exc
    walker = _Walker()
    try:
        walker.block(document.element.body)
    except MemoryError:
        raise
    except Exception as exc:
        raise IngestError(f"not a valid DOCX: unreadable body ({short_exc(exc)})") from exc
    pages = walker.out.finish()
    check_page_count(len(pages), limits.max_pages)
    budget = TextBudget(limits.max_text_chars)
    texts = []
    for page in pages:
        text = normalize_page(page)
        budget.add(len(text))
        texts.append(text)
    metadata: dict = {"page_count": len(texts), "warnings": [], "page_breaks": dict(walker.out.breaks)}
    try:
        props = document.core_properties
        for name in ("title", "author"):
            value = (getattr(props, name) or "").strip()
            if value:
                metadata[name] = normalize_page(value)[:500]
    except Exception:
        pass
    if len(texts) == 1:
        metadata["warnings"].append("no page breaks recorded in the DOCX; the document is one page")
    return assemble_pages(texts, MEDIA_DOCX, metadata)
