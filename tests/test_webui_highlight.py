"""webui.highlight on real PDFs written by tests.pdfgen, rendered by pdfium."""

from __future__ import annotations

import pytest

from tests.pdfgen import make_pdf
from webui.highlight import answer_span_in_page, locate, mark_html, render_highlight

PAGE_1 = "MASTER SERVICES AGREEMENT\nThis Agreement is made between Acme Corp and Beta LLC."
PAGE_2 = (
    "12. Notices. All notices shall be in writing.\n"
    "13. Governing Law. This Agreement shall be governed by the laws\n"
    "of the State of Delaware, without regard to conflicts of law.\n"
    "14. Venue. Courts located in the State of Delaware have jurisdiction."
)
SCALE = 2.0
LEADING, TOP, FONT = 14, 740, 11  # tests.pdfgen layout: 11 pt Helvetica, 14 pt leading, first baseline y=740


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return make_pdf([PAGE_1, PAGE_2])


def _line_band(line: int) -> tuple[float, float]:
    """Pixel rows of a text line on a 612x792 page rendered at SCALE."""
    baseline = TOP - LEADING * line
    return (792 - baseline - FONT) * SCALE, (792 - baseline + 3) * SCALE


def _is_highlighted(rgb: tuple[int, int, int]) -> bool:
    r, g, b = rgb[:3]
    return r > 200 and g > 180 and b < 200  # yellow-ish tint over white paper


def test_answer_boxed_on_the_right_line(pdf: bytes) -> None:
    shot = render_highlight(pdf, 2, "State of Delaware", scale=SCALE)
    assert shot.page_count == 2 and shot.matched == "answer"
    assert shot.image.size == (612 * SCALE, 792 * SCALE)
    assert len(shot.boxes) == 1
    left, top, right, bottom = shot.boxes[0]
    lo, hi = _line_band(2)
    assert lo - 4 <= top < bottom <= hi + 4, (shot.boxes, lo, hi)
    assert 72 * SCALE <= left < right < 612 * SCALE
    # the tint is drawn inside the box and nowhere near an unrelated line
    inside = shot.image.getpixel((int(left + 2), int((top + bottom) / 2)))
    assert _is_highlighted(inside)
    far = shot.image.getpixel((int(left + 2), int(_line_band(0)[0] - 30)))
    assert far == (255, 255, 255)
    assert shot.text == "State of Delaware"


def test_passage_picks_the_cited_occurrence(pdf: bytes) -> None:
    passage = "14. Venue. Courts located in the State of Delaware have jurisdiction."
    offset = passage.index("State of Delaware")
    shot = render_highlight(pdf, 2, "State of Delaware", passage, offset, scale=SCALE)
    assert shot.matched == "answer"
    lo, hi = _line_band(3)
    assert lo - 4 <= shot.boxes[0][1] <= hi  # the second occurrence (line 4), not the first


def test_whitespace_and_line_breaks_differ(pdf: bytes) -> None:
    # the service's text may join lines with spaces, newlines or hyphen breaks
    answer = "governed by the laws\n  of the\tState of Delaware"
    shot = render_highlight(pdf, 2, answer, scale=SCALE)
    assert shot.matched == "answer"
    assert len(shot.boxes) == 2  # the answer spans two drawn lines
    assert shot.boxes[0][1] < shot.boxes[1][1]


def test_falls_back_to_passage_then_nothing(pdf: bytes) -> None:
    passage = "All notices shall be in writing."
    shot = render_highlight(pdf, 2, "text that is not on the page", passage, scale=SCALE)
    assert shot.matched == "passage" and len(shot.boxes) == 1
    none = render_highlight(pdf, 1, "State of Delaware", scale=SCALE)
    assert none.matched is None and none.boxes == []
    assert none.zoom().size == none.image.size
    no_answer = render_highlight(pdf, 1, None, scale=SCALE)
    assert no_answer.boxes == []


def test_zoom_is_a_band_around_the_answer(pdf: bytes) -> None:
    shot = render_highlight(pdf, 2, "State of Delaware", scale=SCALE)
    band = shot.zoom()
    assert band.size[1] < shot.image.size[1] / 3
    assert band.size[0] <= shot.image.size[0]


def test_page_out_of_range(pdf: bytes) -> None:
    with pytest.raises(ValueError, match="outside 1..2"):
        render_highlight(pdf, 3, "x")


def test_locate_prefers_passage_anchor() -> None:
    text = "Party A pays. Party B pays. Party A signs."
    (start, end), what = locate(text, "Party A", "Party A signs.", 0)
    assert what == "answer" and text[start:end] == "Party A" and start == text.rindex("Party A")
    assert locate("", "x") == (None, None)


def test_mark_html_escapes_and_marks() -> None:
    text = "<b>Terms</b> & conditions: governed by Delaware law."
    start = text.index("Delaware")
    out = mark_html(text, start, start + len("Delaware"))
    assert "<mark class='lc-answer'>Delaware</mark>" in out
    assert "&lt;b&gt;Terms&lt;/b&gt; &amp; conditions" in out
    assert "<b>" not in out
    windowed = mark_html("x" * 100 + "ANSWER" + "y" * 100, 100, 106, window=10)
    assert windowed == "…" + "x" * 10 + "<mark class='lc-answer'>ANSWER</mark>" + "y" * 10 + "…"
    assert mark_html("a<b", None, None) == "a&lt;b"


def test_answer_span_in_page() -> None:
    page_text = "0123456789"
    assert answer_span_in_page(100, page_text, 103, 106) == (3, 6)
    assert answer_span_in_page(100, page_text, 95, 103) == (0, 3)  # clipped to the page
    assert answer_span_in_page(100, page_text, None, None) == (None, None)
    assert answer_span_in_page(100, page_text, 120, 125) == (None, None)
