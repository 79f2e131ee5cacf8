"""Example -> tensors for the reader training loop.

One :class:`~longctx.training.examples.ReaderExample` becomes one :class:`ReaderBatch`: the query row
``[CLS] q [SEP]``, the document's chunk layout, the first answer span as start/end targets (-1 = no answer)
and keep labels (1 on the tokens of every answer span). Documents longer than ``max_doc_tokens`` are cropped
to a window that holds the first answer span; the window offset is drawn from a seeded RNG, so a crop is a
pure function of (example, max_doc_tokens, seed).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from longctx.model.tokenization import (
    ChunkLayout,
    TokenizedDocument,
    chunk_layout,
    load_tokenizer,
    query_ids,
    tokenize_text,
)

from .examples import ReaderExample, to_token_labels


@dataclass
class ReaderBatch:
    query_ids: Tensor  # (1, Q) long
    query_mask: Tensor  # (1, Q) long
    layout: ChunkLayout | None  # None when the document states come precomputed
    answer_start: Tensor  # (1,) long, -1 = no answer
    answer_end: Tensor  # (1,) long
    keep_labels: Tensor  # (1, N) float, 1 on answer tokens
    spans: list[tuple[int, int]]  # inclusive token spans of the answers inside the (cropped) document
    n_tokens: int
    crop_start: int  # first token of the window in the full document
    source: str

    @property
    def has_answer(self) -> bool:
        return int(self.answer_start[0]) >= 0


def encode_query(query: str, max_len: int) -> tuple[Tensor, Tensor]:
    """``[CLS] q [SEP]`` (q truncated so the row fits ``max_len``) -> ids (1, Q), mask (1, Q)."""
    t = torch.tensor([query_ids(query, max_len)], dtype=torch.long)
    return t, torch.ones_like(t)


def crop_window(n: int, max_tokens: int, spans: list[tuple[int, int]], rng: random.Random) -> tuple[int, int]:
    """[start, end) of a window of at most ``max_tokens`` tokens holding the first span (if any)."""
    if max_tokens <= 0 or n <= max_tokens:
        return 0, n
    if not spans:
        s = rng.randint(0, n - max_tokens)
        return s, s + max_tokens
    a, b = spans[0]
    if b - a + 1 > max_tokens:  # the answer alone is longer than the window: keep its beginning
        return a, a + max_tokens
    lo = max(0, b + 1 - max_tokens)
    hi = min(a, n - max_tokens)
    s = rng.randint(lo, hi)
    return s, s + max_tokens


def crop_document(
    doc: TokenizedDocument, spans: list[tuple[int, int]], start: int, end: int
) -> tuple[TokenizedDocument, list[tuple[int, int]]]:
    """Tokens start..end-1 and the answer spans that lie fully inside, shifted to the window."""
    if start == 0 and end == len(doc):
        return doc, list(spans)
    sub = TokenizedDocument(doc.ids[start:end].copy(), doc.offsets[start:end].copy())
    kept = [(a - start, b - start) for a, b in spans if a >= start and b < end]
    return sub, kept


def make_batch(
    example: ReaderExample,
    *,
    max_doc_tokens: int,
    max_query_len: int,
    chunk_size: int,
    chunk_overlap: int = 0,
    crop_seed: str | int = 0,
) -> ReaderBatch:
    tok = load_tokenizer()
    doc = tokenize_text(example.text, tok)
    spans = [] if example.no_answer else to_token_labels(example, doc)
    rng = random.Random(f"crop|{crop_seed}|{example.doc_id}|{example.query}")
    s, e = crop_window(len(doc), max_doc_tokens, spans, rng)
    doc, spans = crop_document(doc, spans, s, e)
    n = len(doc)
    if n == 0:
        raise ValueError(f"{example.doc_id}: empty document")
    layout = chunk_layout(doc, chunk_size, chunk_overlap, tok)
    return labelled_batch(example.query, max_query_len, n, spans, spans, layout, s, example.source)


def labelled_batch(
    query: str,
    max_query_len: int,
    n: int,
    spans: list[tuple[int, int]],
    keep_spans: list[tuple[int, int]],
    layout: ChunkLayout | None,
    crop_start: int,
    source: str,
) -> ReaderBatch:
    """A batch of one query over ``n`` document tokens: start/end targets from the first answer span, keep
    labels 1 on every token of ``keep_spans`` (answers and evidence); spans are inclusive token indices."""
    keep = torch.zeros(1, n, dtype=torch.float32)
    for a, b in keep_spans:
        keep[0, a : b + 1] = 1.0
    first = spans[0] if spans else (-1, -1)
    q_ids, q_mask = encode_query(query, max_query_len)
    return ReaderBatch(
        query_ids=q_ids,
        query_mask=q_mask,
        layout=layout,
        answer_start=torch.tensor([first[0]], dtype=torch.long),
        answer_end=torch.tensor([first[1]], dtype=torch.long),
        keep_labels=keep,
        spans=list(spans),
        n_tokens=n,
        crop_start=crop_start,
        source=source,
    )


# ---- a synthetic haystack (no CUAD needed: smoke runs, tests) ---------------------------------------------
_WORDS = tuple(
    " ".join(
        (
            "the agreement party parties shall may not any all such this that which provided notice term",
            "terminate license licensee licensor payment invoice days written consent assign rights",
            "obligations governing law state court confidential information services company customer",
            "product price fee period effective date renewal breach cure warranty liability damages",
            "indemnify insurance audit records section schedule exhibit amendment waiver force majeure",
            "dispute arbitration territory exclusive royalty revenue minimum purchase",
        )
    ).split()
)


@lru_cache(maxsize=4)
def synthetic_haystack(n_docs: int = 8, sentences: int = 600, seed: int = 0) -> tuple[str, ...]:
    """Deterministic contract-flavoured filler text (``n_docs`` documents of ``sentences`` sentences)."""
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(n_docs):
        sents = []
        for _ in range(sentences):
            words = [_WORDS[i] for i in rng.integers(0, len(_WORDS), int(rng.integers(6, 21)))]
            sents.append(" ".join(words).capitalize() + ".")
            if rng.random() < 0.08:
                sents.append("\n\n")
        docs.append(" ".join(sents))
    return tuple(docs)


__all__ = ["ReaderBatch", "crop_document", "crop_window", "encode_query", "make_batch", "synthetic_haystack"]
