"""A document's question-independent state: computed once, shared by every question and every answerer.

The local encoder's token states are the expensive part (linear in the document's length); everything else
here is derived from them and cached alongside: the reading units and the evidence scorer's document side
(for the span reader), the lexical segments' token ranges, embeddings and clause features (for the clause
head). Keyed by the sha256 of the document text, so the same text in another job reuses it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from longctx.model.tokenization import chunk_layout, load_tokenizer, tokenize_text

from .reader import ReaderDocument
from .units import MAX_UNIT_TOKENS, ReadingUnits, reading_units


@dataclass
class DocumentState:
    key: str
    offsets: np.ndarray  # (N, 2) char offsets of each token
    states: torch.Tensor  # (N, H) local-encoder states
    units: ReadingUnits | None = None  # span reader: sentences/clauses as token ranges
    evidence: Any = None  # span reader: the evidence scorer's document side (DocSide)
    segments: list | None = None  # clause head: the lexical index's segments, token ranges, embeddings
    ranges: np.ndarray | None = None
    seg_emb: torch.Tensor | None = None
    token_segment: np.ndarray | None = None  # (N,) lexical segment of every token
    clause_features: np.ndarray | None = None  # (S, D) the clause head's query-independent features

    @property
    def n_tokens(self) -> int:
        return int(self.states.shape[0])


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class DocumentStates:
    """Encodes documents with the reader's local encoder and keeps the last ``size`` states (LRU)."""

    def __init__(self, model, size: int = 4) -> None:
        self.model = model
        self.size = size
        self._cache: OrderedDict[str, DocumentState] = OrderedDict()
        self.encoded = 0  # documents run through the encoder (not served from the cache)

    @torch.inference_mode()
    def get(self, document: ReaderDocument, progress: Callable[[float], None] | None = None) -> DocumentState:
        key = text_key(document.text)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        tok = load_tokenizer()
        doc = tokenize_text(document.text, tok)
        layout = chunk_layout(doc, min(510, self.model.cfg.max_positions - 2), 0, tok)
        states = self.model.encode_document(layout, progress=progress)
        state = DocumentState(key, np.asarray(doc.offsets).reshape(-1, 2), states)
        self.encoded += 1
        self._cache[key] = state
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return state

    def units(self, document: ReaderDocument, state: DocumentState) -> ReadingUnits:
        if state.units is None:
            state.units = reading_units(document.text, state.offsets, MAX_UNIT_TOKENS)
        return state.units

    @torch.inference_mode()
    def evidence(self, document: ReaderDocument, state: DocumentState):
        """The evidence scorer's document side (projected token and unit vectors), once per document."""
        if state.evidence is None:
            units = self.units(document, state)
            state.evidence = self.model.document(
                state.states, torch.as_tensor(units.token_unit, dtype=torch.long), len(units)
            )
        return state.evidence


__all__ = ["DocumentState", "DocumentStates", "text_key"]
