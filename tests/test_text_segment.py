"""Sentence/clause segmentation on the kinds of text contracts arrive as (wrapped, flattened, numbered)."""

from __future__ import annotations

from longctx.text.segment import is_heading, segment
from longctx.text.terms import stem, terms


def _texts(text: str) -> list[str]:
    return [text[s.start : s.end] for s in segment(text)]


def test_abbreviations_do_not_end_sentences():
    text = (
        "Acme Inc. and Widget Co. of the U.S. entered into Amendment No. 2 with Mr. J. Smith on "
        "Jan. 5, 2020. "
        "The parties agree to the terms. Payment is due e.g. monthly."
    )
    assert _texts(text) == [
        "Acme Inc. and Widget Co. of the U.S. entered into Amendment No. 2 with Mr. J. Smith on "
        "Jan. 5, 2020.",
        "The parties agree to the terms.",
        "Payment is due e.g. monthly.",
    ]


def test_line_broken_pdf_text_is_joined_and_headings_split():
    text = (
        "MASTER SERVICES AGREEMENT\n\n"
        "1. DEFINITIONS\n"
        '1.1 "Services" means the services described in\n'
        "Exhibit A attached hereto.\n"
        '1.2 "Fees" means the amounts payable\n'
        "under Section 4.\n"
        "ARTICLE 12\n"
        "GOVERNING LAW\n"
        "This Agreement shall be governed by the laws of the State\n"
        "of New York.\n"
    )
    got = _texts(text)
    assert got == [
        "MASTER SERVICES AGREEMENT",
        "1. DEFINITIONS",
        '1.1 "Services" means the services described in\nExhibit A attached hereto.',
        '1.2 "Fees" means the amounts payable\nunder Section 4.',
        "ARTICLE 12\nGOVERNING LAW",
        "This Agreement shall be governed by the laws of the State\nof New York.",
    ]
    headings = [text[s.start : s.end] for s in segment(text) if s.heading]
    assert headings == ["MASTER SERVICES AGREEMENT", "1. DEFINITIONS", "ARTICLE 12\nGOVERNING LAW"]


def test_flattened_text_with_space_runs_and_section_numbers():
    text = (
        "NOW, THEREFORE, the parties agree as follows:     1. DEFINITIONS. Capitalized terms have the "
        "meanings "
        'below.   1.1. "Affiliate" means any entity controlling a party.   2.   TERM   '
        "The term is two (2) years."
    )
    assert _texts(text) == [
        "NOW, THEREFORE, the parties agree as follows:",
        "1. DEFINITIONS.",
        "Capitalized terms have the meanings below.",
        '1.1. "Affiliate" means any entity controlling a party.',
        "2.   TERM",
        "The term is two (2) years.",
    ]


def test_page_number_between_sentence_halves_does_not_split():
    text = "The Distributor shall maintain\n\n7\n\ninsurance with reputable carriers.\nNext sentence here."
    assert _texts(text) == [
        "The Distributor shall maintain\n\n7\n\ninsurance with reputable carriers.",
        "Next sentence here.",
    ]


def test_long_sentences_split_into_clauses():
    clause = "the Supplier shall deliver the Products to the locations specified by the Customer in writing"
    text = f"During the Term: (a) {clause}; (b) {clause}; and (c) {clause}, in each case on time."
    got = _texts(text)
    assert len(got) == 3
    assert (
        got[0].startswith("During the Term: (a)")
        and got[1].startswith("(b)")
        and got[2].startswith("and (c)")
    )
    assert all(len(t) >= 40 for t in got)


def test_offsets_are_exact_and_trimmed():
    text = "  Alpha beta.\n\n\tGamma delta?  Epsilon!   \n"
    for s in segment(text):
        piece = text[s.start : s.end]
        assert piece == piece.strip() and piece


def test_heading_detection():
    assert is_heading("GOVERNING LAW")
    assert is_heading("12. Notices")
    assert is_heading("Section 4.2 Limitation of Liability")
    assert not is_heading("This Agreement is governed by the laws of Delaware.")
    assert not is_heading('1.1 "Services" means the services.')


def test_stemming_conflates_word_families():
    for family in (
        ("terminate", "termination", "terminated", "terminates"),
        ("govern", "governed", "governing"),
        ("assign", "assignment", "assignable", "assigned"),
        ("license", "licensed", "licensee", "licensor", "licenses"),
        ("party", "parties"),
        ("law", "laws"),
    ):
        assert len({stem(w) for w in family}) == 1, family
    assert terms("The Licensor's rights under U.S. law") == [stem("licensor"), "right", "us", "law"]
