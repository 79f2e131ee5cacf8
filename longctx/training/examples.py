"""One example type for reader training, from CUAD and from synthetic needle tasks, and the mapping of its
character answer spans to token labels.

CUAD: one example per (contract, category) of a split; the query is "{category}: {question}". A contract
with no clause for the category is a no-answer example. A category whose clauses are labelled but none could
be located is skipped (it must not become a false "no answer"); partly located categories keep the located
spans.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from longctx.analysis.schemas import load_schema
from longctx.datasets.cuad import recover_spans
from longctx.datasets.needles import TASKS, make_needle_example
from longctx.model.tokenization import TokenizedDocument


@dataclass
class ReaderExample:
    doc_id: str
    text: str
    query: str
    answers: list[tuple[int, int]]  # [start, end) char spans in `text`
    no_answer: bool
    source: str  # "cuad" | "needle:<task>"
    meta: dict = field(default_factory=dict)


def cuad_query(category: str) -> str:
    questions = {q.key: q.text for q in load_schema("contract")}
    return f"{category}: {questions[category]}"


def cuad_examples(
    split: str = "train",
    data_root: Path | str | None = None,
    categories: Sequence[str] | None = None,
    ids: Sequence[str] | None = None,
) -> Iterator[ReaderExample]:
    """CUAD examples of one side of the shared contract split (contract order, then schema order)."""
    queries = load_schema("contract")
    wanted = [q for q in queries if categories is None or q.key in categories]
    contracts, _ = recover_spans(data_root, split=split, ids=list(ids) if ids is not None else None)
    for cs in contracts:
        for q in wanted:
            spans = cs.spans.get(q.key, [])
            labelled = cs.labelled.get(q.key, False)
            if labelled and not spans:
                continue
            yield ReaderExample(
                doc_id=f"cuad/{cs.contract_id}",
                text=cs.text,
                query=f"{q.key}: {q.text}",
                answers=[(c.start, c.end) for c in spans],
                no_answer=not labelled,
                source="cuad",
                meta={"split": cs.split, "category": q.key, "missing": len(cs.missing.get(q.key, []))},
            )


def needle_examples(
    n: int,
    split: str = "train",
    tasks: Sequence[str] = TASKS,
    lengths: Sequence[int] = (2048, 4096, 8192, 16384),
    seed: int = 0,
    data_root: Path | str | None = None,
    haystack: Sequence[str] | None = None,
    **kwargs,
) -> Iterator[ReaderExample]:
    """`n` synthetic examples cycling over `tasks`; lengths drawn from `lengths`, depths uniform, seeded."""
    import random

    rng = random.Random(f"needle_examples|{split}|{seed}")
    for i in range(n):
        task = tasks[i % len(tasks)]
        length = rng.choice(list(lengths))
        depth = round(rng.random(), 4)
        ex_seed = seed * 1_000_003 + i
        ex = make_needle_example(task, length, depth, ex_seed, split, data_root, haystack, **kwargs)
        yield ReaderExample(
            doc_id=f"needle/{split}/{task}/{ex_seed}",
            text=ex.text,
            query=ex.question,
            answers=list(ex.answers),
            no_answer=not ex.answers,
            source=f"needle:{task}",
            meta={"split": split, "length_tokens": ex.length_tokens, "depth": depth, "seed": ex_seed},
        )


def to_token_labels(example: ReaderExample, tokenized: TokenizedDocument) -> list[tuple[int, int]]:
    """Inclusive (start_token, end_token) of each answer span: the smallest token run covering the span's
    non-space characters. A span starting or ending inside a token takes that whole token; a span holding no
    token (only whitespace) is dropped."""
    if len(tokenized) == 0:
        return []
    starts = tokenized.offsets[:, 0]
    ends = tokenized.offsets[:, 1]
    out: list[tuple[int, int]] = []
    for s, e in example.answers:
        first = int(np.searchsorted(ends, s, side="right"))  # first token ending after s
        last = int(np.searchsorted(starts, e, side="left")) - 1  # last token starting before e
        if first <= last and first < len(tokenized) and last >= 0:
            out.append((first, last))
    return out
