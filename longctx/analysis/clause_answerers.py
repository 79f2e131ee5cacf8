"""Answerers for contract key terms (the contract schema's 41 CUAD fields).

* ``PhraseAnswerer``: fields annotated as a few words (title, agreement and effective dates): the phrase head
  scores names, quoted terms, dates and headings found in the text; no encoder pass.
* ``ClauseAnswerer``: clause fields: the clause head's probe for the field ranks the document's segments from
  their encoder states, and its answer calibration scores the best ones as the probability that they match
  an annotated clause.
* ``LexicalClauseAnswerer``: a field without a probe: the lexical reader's clause ranking.

All three answer with passages cut from the document, cited with their page (`answers_from_spans`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from longctx.text.segment import segment

from .document_state import DocumentState, DocumentStates
from .reader import Answer, Query, ReaderDocument

PASSAGE_CONTEXT_CHARS = 700  # look this far around a span for its sentence boundaries


def passage(document: ReaderDocument, start: int, end: int) -> tuple[int, int]:
    """[start, end) of the sentence(s) holding [start, end), on the span's page."""
    page_start, page_end = document.page_bounds(start)
    lo = max(page_start, start - PASSAGE_CONTEXT_CHARS)
    hi = min(page_end, end + PASSAGE_CONTEXT_CHARS)
    if hi <= lo:
        return start, end
    segs = [s for s in segment(document.text, lo, hi) if s.start < end and start < s.end]
    if not segs:
        return start, end
    return min(segs[0].start, start), max(segs[-1].end, end)


def answers_from_spans(
    document: ReaderDocument,
    spans: Sequence[tuple[int, int, float]],
    top_k: int,
    threshold: float,
    overlapping: bool = False,
) -> list[Answer]:
    """Answers from (char_start, char_end, confidence) best first: the top_k spans at or above ``threshold``
    (non-overlapping unless ``overlapping``), or one no-answer entry holding the best confidence."""
    answers: list[Answer] = []
    taken: list[tuple[int, int]] = []
    best = 0.0
    for cs, ce, conf in spans:
        best = max(best, conf)
        if conf < threshold or len(answers) >= max(1, top_k):
            continue
        if ce <= cs or (not overlapping and any(cs < e and s < ce for s, e in taken)):
            continue
        taken.append((cs, ce))
        ps, pe = passage(document, cs, ce)
        answers.append(Answer.cited(document, cs, ce, conf, ps, pe))
    return answers or [Answer(text=None, score=round(best, 6))]


class PhraseAnswerer:
    name = "phrase head"

    def __init__(self, head, lexical_provider: Callable[[], object], answer_threshold: float = 0.5) -> None:
        self.head = head
        self.lexical_provider = lexical_provider
        self.answer_threshold = answer_threshold

    def has(self, key: str | None) -> bool:
        return self.head is not None and self.head.has(key)

    def answer(
        self, document: ReaderDocument, queries: Sequence[Query], top_k: int = 3
    ) -> list[list[Answer]]:
        """Names, titles and dates: answers with the same words (a name repeated through the contract) are
        one answer, at its best-scored occurrence; answers may overlap (a date, then its sentence)."""
        from longctx.model.phrase_head import candidates, features, ranked_phrases

        lex = self.lexical_provider()
        idx = lex.index(document)
        cands = candidates(document.text, idx.segments)
        results = []
        for q in queries:
            if not len(cands):
                results.append([Answer(text=None, score=0.0)])
                continue
            r = lex.rank(idx, q)
            x = features(document.text, idx.segments, cands, r.own, r.score, r.ceiling, lex.query_weights(q))
            ranked = ranked_phrases(self.head.probabilities(q.key, x), cands, top_k)
            results.append(
                answers_from_spans(document, ranked, top_k, self.answer_threshold, overlapping=True)
            )
        return results


class ClauseAnswerer:
    name = "clause head"

    def __init__(
        self,
        head,
        states: DocumentStates,
        lexical_provider: Callable[[], object],
        answer_threshold: float = 0.5,
    ) -> None:
        self.head = head
        self.states = states
        self.lexical_provider = lexical_provider
        self.answer_threshold = answer_threshold

    def has(self, key: str | None) -> bool:
        return self.head is not None and self.head.has(key)

    @torch.inference_mode()
    def segment_index(self, document: ReaderDocument, state: DocumentState):
        """The lexical index of the document, with its segments' token ranges and embeddings on ``state``."""
        from longctx.model.clause_head import segment_embeddings, segment_token_ranges

        idx = self.lexical_provider().index(document)
        if state.segments is None:
            state.segments = idx.segments
            state.ranges = segment_token_ranges(state.offsets, idx.segments)
            state.seg_emb = segment_embeddings(state.states.float().cpu(), state.ranges)
            seg_starts = np.array([sg.start for sg in idx.segments], dtype=np.int64)
            tok_seg = np.searchsorted(seg_starts, state.offsets[:, 0], side="right") - 1
            state.token_segment = np.clip(tok_seg, 0, max(len(seg_starts) - 1, 0))
        return idx

    def clause_features(self, state: DocumentState) -> np.ndarray:
        """The clause head's query-independent segment features (after ``segment_index``), cached."""
        from longctx.model.clause_head import shared_features

        if state.clause_features is None:
            state.clause_features = shared_features(state.seg_emb, state.ranges, state.segments)
        return state.clause_features

    def answer(
        self,
        document: ReaderDocument,
        queries: Sequence[Query],
        top_k: int = 3,
        progress: Callable[[float], None] | None = None,
    ) -> list[list[Answer]]:
        from longctx.model.clause_head import field_features

        if not queries:
            return []
        state = self.states.get(document, progress)
        if state.n_tokens == 0:
            return [[Answer(text=None, score=0.0)] for _ in queries]
        lex = self.lexical_provider()
        idx = self.segment_index(document, state)
        segs = state.segments
        shared = self.clause_features(state) if segs else None
        results = []
        for q in queries:
            if not segs:
                results.append([Answer(text=None, score=0.0)])
                continue
            r = lex.rank(idx, q)
            best = self.head.ranked(q.key, shared, field_features(r.own, r.score, r.ceiling), top_k)
            spans = [(segs[i].start, segs[i].end, c) for i, c in best]
            results.append(answers_from_spans(document, spans, top_k, self.answer_threshold))
        return results


class LexicalClauseAnswerer:
    name = "lexical clauses"

    def __init__(self, lexical_provider: Callable[[], object], answer_threshold: float = 0.5) -> None:
        self.lexical_provider = lexical_provider
        self.answer_threshold = answer_threshold

    def answer(
        self, document: ReaderDocument, queries: Sequence[Query], top_k: int = 3
    ) -> list[list[Answer]]:
        lex = self.lexical_provider()
        lex.answer_threshold = self.answer_threshold
        return lex.answer(document, list(queries), top_k)


__all__ = [
    "ClauseAnswerer",
    "LexicalClauseAnswerer",
    "PhraseAnswerer",
    "answers_from_spans",
    "passage",
]
