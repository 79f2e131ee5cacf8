"""SQuAD 2.0 (the published half of its dev set) as uniform extractive-QA examples.

`QAExample` is the shape every QA loader here returns (see also `longctx.datasets.tatqa`): a question, the
text it was asked about, and exact ``[start, end)`` character spans of the gold evidence in that text, so
training and evaluation code never re-parse a dataset's own format. About half the SQuAD questions are
unanswerable from their paragraph (``is_impossible``): honest "no answer" cases written to look answerable.

**Spans.** SQuAD's ``answer_start`` is a character offset into the paragraph; each answer is checked
(``context[start:end] == text``) and any that do not match are counted and skipped, never trusted.

**Split.** Whole articles go to one side (questions about one article share wording and facts, so a
per-question split would leak), chosen by sha256 of the title: the same on every machine and in every run.

Data: SQuAD 2.0 (Rajpurkar et al.), CC BY-SA 4.0.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from longctx.config import get_settings

SQUAD_FILE = Path("squad2") / "squad2-dev-half.json"


@dataclass(frozen=True)
class QAExample:
    """One question over one context, with its gold evidence as exact character spans of `context`."""

    id: str
    question: str
    context: str  # the text the question was asked about
    # [start, end) char spans in `context` of the gold answers (deduplicated, sorted); [] when unanswerable
    answers: list[tuple[int, int]] = field(hash=False)
    unanswerable: bool
    group: str  # what to split and deduplicate by (squad: article title; tatqa: excerpt uid)
    source: str  # "squad" | "tatqa"
    meta: dict = field(default_factory=dict, hash=False, compare=False)  # answer_type, answer_texts, ...


def shared_data_root(data_root: Path | str | None = None) -> Path:
    """The shared data folder: `data_root` when given, else the configured one; a clear error when absent."""
    root = data_root if data_root is not None else get_settings().data_root
    if root is None:
        raise FileNotFoundError(
            "no shared data folder (set LONGCTX_SHARED_DATA_DIR or provide ../shared/data)"
        )
    return Path(root)


def _load_squad_json(data_root: Path | str | None) -> dict:
    path = shared_data_root(data_root) / SQUAD_FILE
    if not path.exists():
        raise FileNotFoundError(f"SQuAD 2.0 file not found: {path}")
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


# ---- examples ---------------------------------------------------------------------------------------------
def squad_examples_from_json(obj: dict, stats: Counter | None = None) -> list[QAExample]:
    """One example per question of a SQuAD-format dict (``{"data": [{"title", "paragraphs": [...]}]}``).

    `stats`, when given, is updated with ``questions``, ``unanswerable``, ``answers`` (kept) and
    ``bad_answers`` (offset did not match the text; skipped). An answerable question left with no valid
    answer is dropped (``dropped_questions``) rather than turned into a false "no answer".
    """
    stats = stats if stats is not None else Counter()
    out: list[QAExample] = []
    for article in obj["data"]:
        title = article["title"]
        for para in article["paragraphs"]:
            context = para["context"]
            for qa in para["qas"]:
                stats["questions"] += 1
                impossible = bool(qa.get("is_impossible", False))
                spans: list[tuple[int, int]] = []
                texts: list[str] = []
                for ans in [] if impossible else qa.get("answers", []):
                    start, text = int(ans["answer_start"]), ans["text"]
                    end = start + len(text)
                    if not text or context[start:end] != text:
                        stats["bad_answers"] += 1
                        continue
                    stats["answers"] += 1
                    spans.append((start, end))
                    texts.append(text)
                if not impossible and not spans:
                    stats["dropped_questions"] += 1
                    continue
                stats["unanswerable"] += impossible
                meta = {"answer_texts": list(dict.fromkeys(texts))}
                if impossible and qa.get("plausible_answers"):
                    meta["plausible_texts"] = list(dict.fromkeys(a["text"] for a in qa["plausible_answers"]))
                out.append(
                    QAExample(
                        id=qa["id"],
                        question=qa["question"],
                        context=context,
                        answers=sorted(set(spans)),
                        unanswerable=impossible,
                        group=title,
                        source="squad",
                        meta=meta,
                    )
                )
    return out


def squad_examples(data_root: Path | str | None = None, stats: Counter | None = None) -> list[QAExample]:
    """Every question of ``squad2/squad2-dev-half.json`` (6,078: 3,168 unanswerable); see `..._from_json`."""
    return squad_examples_from_json(_load_squad_json(data_root), stats)


def squad_paragraphs_from_json(obj: dict) -> dict[str, list[str]]:
    """Article title -> its paragraph texts in order (distractors for building longer contexts)."""
    return {a["title"]: [p["context"] for p in a["paragraphs"]] for a in obj["data"]}


def squad_paragraphs(data_root: Path | str | None = None) -> dict[str, list[str]]:
    """Article title -> paragraph texts of the shared SQuAD file (the distractor pool)."""
    return squad_paragraphs_from_json(_load_squad_json(data_root))


# ---- split ------------------------------------------------------------------------------------------------
def _rank_key(name: str) -> tuple[str, str]:
    return hashlib.sha256(name.encode("utf-8")).hexdigest(), name


def hash_split(groups: list[str], n_eval: int) -> set[str]:
    """The `n_eval` groups with the smallest sha256 of their name: a split that depends on names only."""
    return set(sorted(set(groups), key=_rank_key)[:n_eval])


def squad_split(examples: list[QAExample], eval_articles: int = 4) -> dict[str, list[QAExample]]:
    """{"train": [...], "eval": [...]}: the `eval_articles` articles with the smallest sha256 of their title
    go to eval, whole; example order within each side is kept."""
    eval_groups = hash_split([ex.group for ex in examples], eval_articles)
    return {
        "train": [ex for ex in examples if ex.group not in eval_groups],
        "eval": [ex for ex in examples if ex.group in eval_groups],
    }
