"""Show where an answer came from: the PDF page rendered with the answer boxed, and the page text marked.

The service cites answers by character offsets into its own extracted text; a PDF's drawn glyphs are found
again with pdfium's text page. The two extractions differ in whitespace, hyphenation and punctuation, so both
sides are compared as lower-case letters and digits only, with a map back to the original characters.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageDraw

Rect = tuple[float, float, float, float]  # left, top, right, bottom in image pixels

FILL = (255, 214, 0, 90)
OUTLINE = (232, 93, 4, 255)


@dataclass
class PageHighlight:
    """A rendered page, the boxes drawn on it and what they mark."""

    image: Image.Image
    page_number: int
    page_count: int
    boxes: list[Rect] = field(default_factory=list)
    matched: str | None = None  # "answer", "passage" or None (nothing could be located)
    text: str = ""  # the marked text as pdfium reads it
    content: Rect | None = None  # the union of all text on the page, in image pixels

    @property
    def bbox(self) -> Rect | None:
        """The union of the highlight boxes, in image pixels."""
        if not self.boxes:
            return None
        return (
            min(b[0] for b in self.boxes),
            min(b[1] for b in self.boxes),
            max(b[2] for b in self.boxes),
            max(b[3] for b in self.boxes),
        )

    def zoom(self, lines: float = 5.0) -> Image.Image:
        """The highlight with a few lines of context, cropped to the page's text column (else the page)."""
        box = self.bbox
        if box is None:
            return self.image
        width, height = self.image.size
        line = max(8.0, min(b[3] - b[1] for b in self.boxes))
        pad_x = 1.5 * line
        left, right = box[0], box[2]
        if self.content is not None:
            left, right = min(left, self.content[0]), max(right, self.content[2])
        left, right = max(0, int(left - pad_x)), min(width, int(right + pad_x))
        top, bottom = max(0, int(box[1] - lines * 1.6 * line)), min(height, int(box[3] + lines * 1.6 * line))
        return self.image.crop((left, top, right, bottom))


def _fold(text: str) -> tuple[str, list[int]]:
    """Lower-case letters and digits of `text`, with each one's index in `text`."""
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch.isalnum():
            chars.append(ch.lower())
            index.append(i)
    return "".join(chars), index


def _page_text(textpage: pdfium.PdfTextPage) -> str:
    """The text page's characters, one per char index (so positions map straight to char boxes)."""
    count = textpage.count_chars()
    text = textpage.get_text_range(0, count) if count else ""
    if len(text) == count:
        return text
    # surrogate pairs or pdfium quirks broke the 1:1 mapping; read code points one by one
    out = []
    for i in range(count):
        code = pdfium_c.FPDFText_GetUnicode(textpage.raw, i)
        out.append(chr(code) if 0 < code < 0x110000 else " ")
    return "".join(out)


def locate(
    page_text: str, answer: str | None, passage: str | None = None, answer_in_passage: int | None = None
) -> tuple[tuple[int, int] | None, str | None]:
    """Find the answer (else the passage, else the passage's first words) inside `page_text`.

    `answer_in_passage` is the answer's character offset inside `passage`; when given, the occurrence of
    the answer at that place in the passage is preferred over an earlier identical one. Returns the
    [start, end) character range in `page_text` and which text it marks ("answer" / "passage").
    """
    folded, index = _fold(page_text)
    if not folded:
        return None, None

    def span(pos: int, length: int) -> tuple[int, int]:
        return index[pos], index[pos + length - 1] + 1

    fa = _fold(answer)[0] if answer else ""
    fp = _fold(passage)[0] if passage else ""

    if fp:
        pos_p, len_p = folded.find(fp), len(fp)
        if pos_p < 0:  # passage crosses the page edge or differs: anchor on its longest found prefix
            words = passage.split() if passage else []
            pos_p, len_p = -1, 0
            for n in (40, 24, 12, 6):
                if len(words) < n and n != 6:
                    continue
                head = _fold(" ".join(words[:n]))[0]
                if len(head) >= 12 and (found := folded.find(head)) >= 0:
                    pos_p, len_p = found, len(head)
                    break
        if pos_p >= 0 and fa:
            skip = len(_fold(passage[:answer_in_passage])[0]) if passage and answer_in_passage else 0
            guess = pos_p + skip
            if folded.startswith(fa, guess):
                return span(guess, len(fa)), "answer"
            near = folded.find(fa, pos_p)
            if near >= 0 and near <= pos_p + max(len(fp), len_p):
                return span(near, len(fa)), "answer"
    if fa and (pos := folded.find(fa)) >= 0:
        return span(pos, len(fa)), "answer"
    if fp and pos_p >= 0:
        return span(pos_p, len_p), "passage"
    return None, None


def _bounds(rects: list[Rect]) -> Rect | None:
    """The smallest box holding every rect (the page's content area); None for none."""
    if not rects:
        return None
    return (
        min(r[0] for r in rects),
        min(r[1] for r in rects),
        max(r[2] for r in rects),
        max(r[3] for r in rects),
    )


def _to_image(
    rect: tuple[float, float, float, float],
    crop: tuple[float, float, float, float],
    rotation: int,
    scale: float,
) -> Rect:
    """PDF user-space (left, bottom, right, top) -> pixel (left, top, right, bottom) of the rendered page."""
    cl, cb, cr, ct = crop
    width, height = cr - cl, ct - cb
    left, bottom, right, top = rect
    corners = []
    for x, y in ((left, top), (right, bottom)):
        u, v = x - cl, ct - y  # unrotated, origin top-left
        if rotation == 90:
            u, v = height - v, u
        elif rotation == 180:
            u, v = width - u, height - v
        elif rotation == 270:
            u, v = v, width - u
        corners.append((u * scale, v * scale))
    (x0, y0), (x1, y1) = corners
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def render_highlight(
    pdf_bytes: bytes,
    page_number: int,
    answer: str | None,
    passage: str | None = None,
    answer_in_passage: int | None = None,
    *,
    scale: float = 1.6,
) -> PageHighlight:
    """Render page `page_number` (1-based) of a PDF and draw translucent boxes over the answer's lines."""
    doc = pdfium.PdfDocument(pdf_bytes)
    try:
        page_count = len(doc)
        if not 1 <= page_number <= page_count:
            raise ValueError(f"page {page_number} is outside 1..{page_count}")
        page = doc[page_number - 1]
        bitmap = page.render(scale=scale)
        image = bitmap.to_pil().convert("RGBA")
        textpage = page.get_textpage()
        text = _page_text(textpage)
        found, matched = locate(text, answer, passage, answer_in_passage)
        boxes: list[Rect] = []
        crop = page.get_cropbox()
        rotation = page.get_rotation() % 360
        rows = [_to_image(textpage.get_rect(i), crop, rotation, scale) for i in range(textpage.count_rects())]
        content = _bounds(rows)
        if found is not None:
            start, end = found
            for i in range(textpage.count_rects(start, end - start)):
                boxes.append(_to_image(textpage.get_rect(i), crop, rotation, scale))
        result = PageHighlight(
            image,
            page_number,
            page_count,
            boxes,
            matched if boxes else None,
            text[found[0] : found[1]] if found else "",
            content,
        )
        textpage.close()
        page.close()
    finally:
        doc.close()
    return _draw(result, scale)


def _draw(result: PageHighlight, scale: float) -> PageHighlight:
    """Translucent boxes over the highlight's lines; the image becomes RGB."""
    if result.boxes:
        overlay = Image.new("RGBA", result.image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        pad = max(1.5, scale * 1.2)
        for left, top, right, bottom in result.boxes:
            draw.rectangle(
                (left - pad, top - pad, right + pad, bottom + pad),
                fill=FILL,
                outline=OUTLINE,
                width=max(2, round(scale)),
            )
        result.image = Image.alpha_composite(result.image.convert("RGBA"), overlay)
    result.image = result.image.convert("RGB")
    return result


def line_boxes(boxes: list[Rect]) -> list[Rect]:
    """Word boxes (in reading order) joined into one box per line: a word that overlaps the current line
    vertically by more than half its height continues it."""
    lines: list[list[float]] = []
    for left, top, right, bottom in boxes:
        if lines:
            cur = lines[-1]
            overlap = min(bottom, cur[3]) - max(top, cur[1])
            if overlap > 0.5 * min(bottom - top, cur[3] - cur[1]) and left >= cur[0] - 1:
                cur[0], cur[1] = min(cur[0], left), min(cur[1], top)
                cur[2], cur[3] = max(cur[2], right), max(cur[3], bottom)
                continue
        lines.append([left, top, right, bottom])
    return [(a, b, c, d) for a, b, c, d in lines]


def render_ocr_highlight(
    pdf_bytes: bytes,
    page_number: int,
    page_text: str,
    words: list[dict],
    span: tuple[int | None, int | None] = (None, None),
    answer: str | None = None,
    passage: str | None = None,
    answer_in_passage: int | None = None,
    *,
    scale: float = 1.6,
) -> PageHighlight:
    """A scanned page (its text read by OCR) rendered with the answer's words boxed.

    A scan has no text for pdfium to find, so the service's OCR word boxes are used: `words` are the API's
    `{"start", "end", "box": [left, top, right, bottom] (fractions of the page), ...}` with offsets into
    `page_text`. `span` is the answer's [start, end) in `page_text` when known (the finding's offsets); else
    the answer (then the passage) is searched in `page_text` as for text-layer pages."""
    doc = pdfium.PdfDocument(pdf_bytes)
    try:
        page_count = len(doc)
        if not 1 <= page_number <= page_count:
            raise ValueError(f"page {page_number} is outside 1..{page_count}")
        page = doc[page_number - 1]
        bitmap = page.render(scale=scale)  # as the service rendered it for OCR
        image = bitmap.to_pil().convert("RGBA")
        page.close()
    finally:
        doc.close()
    width, height = image.size

    def pixels(w: dict) -> Rect:
        x0, y0, x1, y1 = w["box"]
        return x0 * width, y0 * height, x1 * width, y1 * height

    start, end = span
    matched: str | None = "answer"
    if start is None or end is None or not 0 <= start < end <= len(page_text):
        found, matched = locate(page_text, answer, passage, answer_in_passage)
        start, end = found if found else (None, None)
    boxes: list[Rect] = []
    if start is not None and end is not None:
        boxes = line_boxes([pixels(w) for w in words if w["start"] < end and w["end"] > start])
    every = [pixels(w) for w in words]
    content = _bounds(every)
    result = PageHighlight(
        image,
        page_number,
        page_count,
        boxes,
        matched if boxes else None,
        page_text[start:end] if boxes and start is not None else "",
        content,
    )
    return _draw(result, scale)


def mark_html(text: str, start: int | None, end: int | None, *, window: int | None = None) -> str:
    """`text` as escaped HTML, [start, end) wrapped in <mark>; optionally only `window` chars around it."""
    if start is None or end is None or not (0 <= start < end <= len(text)):
        body = text if window is None else text[: 2 * window]
        return html.escape(body)
    lo, hi = 0, len(text)
    if window is not None:
        lo, hi = max(0, start - window), min(len(text), end + window)
    before = ("…" if lo > 0 else "") + html.escape(text[lo:start])
    after = html.escape(text[end:hi]) + ("…" if hi < len(text) else "")
    return f"{before}<mark class='lc-answer'>{html.escape(text[start:end])}</mark>{after}"


def answer_span_in_page(
    page_char_start: int, page_text: str, char_start: int | None, char_end: int | None
) -> tuple[int | None, int | None]:
    """Document offsets of an answer -> offsets inside the page's text (clipped to the page)."""
    if char_start is None or char_end is None:
        return None, None
    start = max(0, char_start - page_char_start)
    end = min(len(page_text), char_end - page_char_start)
    return (start, end) if start < end else (None, None)
