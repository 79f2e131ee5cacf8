"""Term normalisation for the lexical reader: tokens, a small English suffix stripper and stop words.

The stemmer is deliberately light (no dictionary, no external package): it conflates the word families
that matter in contracts and reports ("terminate / termination / terminated", "govern / governed /
governing", "assign / assignment / assignable") so that a question and a clause meet on the same term.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Words, numbers with inner separators ("1,000.50", "10.2"), and "u.s."-style dotted acronyms.
_TOKEN = re.compile(r"(?:[A-Za-z]\.){2,}|[A-Za-z][A-Za-z0-9]*(?:['’][A-Za-z]+)?|\d+(?:[.,]\d+)*")

STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "aren't",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "cannot",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "let's",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "ought",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "shall",
        "may",
        "must",
        "hereby",
        "herein",
        "hereof",
        "hereto",
        "hereunder",
        "thereof",
        "therein",
        "thereto",
        "upon",
        "within",
        "without",
        "also",
        "either",
        "neither",
        "whether",
        "per",
        "via",
        "etc",
    ]
)
# Words that frame a question but never help find its answer; removed from queries only. Some are kept in
# documents' stop list ("no", "not", "only", "without") because they matter in clauses and keyword phrases.
QUERY_STOP_WORDS = frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "how",
        "does",
        "do",
        "did",
        "is",
        "are",
        "was",
        "were",
        "there",
        "any",
        "this",
        "that",
        "contract",
        "clause",
        "provision",
        "provisions",
        "document",
        "include",
        "includes",
        "including",
        "such",
        "e.g.",
        "i.e.",
        "etc",
        "whether",
        "all",
        "other",
    ]
)
# Negation/limitation words carry meaning in legal clauses ("without cause", "no less favorable"); they are
# kept as terms when they appear in a query phrase.
_KEEP = frozenset({"no", "not", "without", "only", "all", "any", "first", "other"})
DOC_STOP_WORDS = STOP_WORDS - _KEEP

# Suffixes tried longest first; a suffix is removed only when at least `_MIN_STEM` characters remain.
_SUFFIXES = (
    "izations",
    "ization",
    "isation",
    "ational",
    "abilities",
    "ability",
    "ibility",
    "fulness",
    "iveness",
    "ousness",
    "ications",
    "ication",
    "ements",
    "ations",
    "itive",
    "ivity",
    "ition",
    "itors",
    "itor",
    "ement",
    "ation",
    "ments",
    "ities",
    "ingly",
    "ment",
    "ness",
    "ings",
    "able",
    "ible",
    "ance",
    "ence",
    "ancy",
    "ency",
    "ally",
    "ship",
    "ions",
    "ity",
    "ing",
    "ion",
    "ive",
    "ize",
    "ise",
    "ful",
    "ous",
    "ant",
    "ent",
    "ate",
    "ers",
    "ors",
    "ees",
    "ies",
    "ied",
    "ed",
    "er",
    "or",
    "ee",
    "al",
    "ly",
    "es",
    "at",
    "y",
    "e",
)
_MIN_STEM = 4
# Irregular families the suffix rules cannot join.
_IRREGULAR = {"liable": "liabil", "liabilities": "liabil", "laws": "law"}
_VOWEL = re.compile(r"[aeiouy]")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Strip up to three suffixes, keeping a stem of at least four letters that still has a vowel."""
    w = word.lower()
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if not w.isalpha() or len(w) <= 3:
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]  # plural first, so the suffix rules below see the singular
    if len(w) <= _MIN_STEM:
        return w
    for _ in range(3):
        for suffix in _SUFFIXES:
            if w.endswith(suffix):
                root = w[: -len(suffix)]
                if len(root) >= _MIN_STEM and _VOWEL.search(root):
                    w = root
                    break
        else:
            break
    # Undouble a final consonant left by "-ed/-ing" ("committed" -> "committ" -> "commit").
    if len(w) > _MIN_STEM and w[-1] == w[-2] and w[-1] not in "aeiouls":
        w = w[:-1]
    return w


def raw_tokens(text: str) -> list[tuple[str, int, int]]:
    """Lower-cased tokens with [start, end) offsets; dotted acronyms lose their dots ("u.s." -> "us")."""
    out = []
    for m in _TOKEN.finditer(text):
        tok = m.group().lower()
        if "." in tok and tok[0].isalpha():
            tok = tok.replace(".", "")
        elif "'" in tok or "’" in tok:
            tok = (
                re.split(r"['’]", tok, maxsplit=1)[0] if tok.endswith(("'s", "’s")) else tok.replace("’", "'")
            )
        out.append((tok, m.start(), m.end()))
    return out


def terms(text: str, stop_words: frozenset[str] = DOC_STOP_WORDS) -> list[str]:
    """Index terms of a text: tokens minus stop words, stemmed. Pure numbers are kept (years, amounts)."""
    result = []
    for tok, _, _ in raw_tokens(text):
        if tok in stop_words or (len(tok) == 1 and not tok.isdigit()):
            continue
        result.append(stem(tok))
    return result


def query_terms(text: str) -> list[str]:
    """Terms of a question: framing words ("what", "does", "contract") are dropped as well."""
    return terms(text, DOC_STOP_WORDS | QUERY_STOP_WORDS)
