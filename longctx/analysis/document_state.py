"""A document's question-independent state: computed once, shared by every question and every answerer.

The local encoder's token states are the expensive part (linear in the document's length); everything else
here is derived from them and cached alongside: the reading units and the evidence scorer's document side
(for the span reader), the lexical segments' token ranges, embeddings and clause features (for the clause
head). Keyed by the sha256 of the document text, so the same text in another job reuses it.

Two layers: the last ``size`` states in memory (LRU, on the model's device), and, when a ``StateCache`` is
given, the states spilled to disk (``state_cache.py``): encoder states as fp16, token offsets and reading
units, in a space of the checkpoint and encoder precision. A miss in memory reads the disk; a miss there
encodes and spills. The evidence scorer's document side and the clause head's segment features are derived
again from the states in each process (a projection and a pooling, no encoder pass).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from longctx.model import tokenization
from longctx.model.tokenization import chunk_layout, load_tokenizer, tokenize_text
from longctx.text import segment as segment_module

from . import units as units_module
from .reader import ReaderDocument
from .state_cache import StateCache, checkpoint_identity, code_fingerprint, text_key
from .units import MAX_UNIT_TOKENS, ReadingUnits, reading_units

#: dtypes a spilled state may be restored to (the encoder's output dtype when it was encoded)
STATE_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


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


def encoder_dtype(model) -> torch.dtype:
    """The dtype of the model's local encoder (the dtype of the states it produces)."""
    local = getattr(model, "local", model)
    return next((p.dtype for p in local.parameters() if p.is_floating_point()), torch.float32)


def state_space(checkpoint: str | Path, model) -> str:
    """The state cache folder of a checkpoint folder loaded into ``model``: its identity, the encoder's
    precision (bf16 and fp32 encoders give different states) and the version of the code that tokenizes,
    lays out chunks and cuts reading units."""
    dtype = str(encoder_dtype(model)).removeprefix("torch.")
    code = code_fingerprint(tokenization, segment_module, units_module, _this_module())
    return f"{checkpoint_identity(checkpoint)[:16]}-{dtype}-{code}"


def _this_module():
    import sys

    return sys.modules[__name__]


class DocumentStates:
    """Encodes documents with the reader's local encoder and keeps the last ``size`` states (LRU); with a
    ``store`` (and its ``space``), states are read from and spilled to the document state cache on disk."""

    def __init__(
        self,
        model,
        size: int = 4,
        *,
        store: StateCache | None = None,
        space: str | None = None,
        checkpoint: str | Path | None = None,
    ) -> None:
        if store is not None and not space:
            raise ValueError("a state cache needs the space (checkpoint identity) its states belong to")
        self.model = model
        self.size = size
        self.store = store
        self.space = space
        self.checkpoint = str(checkpoint) if checkpoint is not None else None
        self._cache: OrderedDict[str, DocumentState] = OrderedDict()
        self.encoded = 0  # documents run through the encoder (not served from memory or disk)
        self.loaded = 0  # documents read back from the disk cache
        self.memory_hits = 0
        self.spilled = 0
        self.units_built = 0  # reading units computed here (not read back with the states)

    def use_store(self, store: StateCache | None) -> None:
        if store is not None and not self.space:
            raise ValueError("a state cache needs the space (checkpoint identity) its states belong to")
        self.store = store

    @torch.inference_mode()
    def get(self, document: ReaderDocument, progress: Callable[[float], None] | None = None) -> DocumentState:
        key = text_key(document.text)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            self.memory_hits += 1
            return hit
        state = self._load(key, document) if self.store is not None else None
        if state is None:
            tok = load_tokenizer()
            doc = tokenize_text(document.text, tok)
            layout = chunk_layout(doc, min(510, self.model.cfg.max_positions - 2), 0, tok)
            states = self.model.encode_document(layout, progress=progress)
            state = DocumentState(key, np.asarray(doc.offsets).reshape(-1, 2), states)
            self.encoded += 1
            if self.store is not None and state.n_tokens:
                self.units(document, state)  # spilled with the states: another process needs no segmenting
                self._spill(document, state)
        else:
            self.loaded += 1
            if progress is not None:
                progress(1.0)
        self._cache[key] = state
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return state

    def units(self, document: ReaderDocument, state: DocumentState) -> ReadingUnits:
        if state.units is None:
            state.units = reading_units(document.text, state.offsets, MAX_UNIT_TOKENS)
            self.units_built += 1
        return state.units

    def stats(self) -> dict[str, int]:
        """Counters since this object was made: encoder passes, disk reads and spills, memory hits."""
        out = {
            "encoder_passes": self.encoded,
            "states_loaded": self.loaded,
            "states_spilled": self.spilled,
            "state_memory_hits": self.memory_hits,
            "unit_builds": self.units_built,
        }
        if self.store is not None:
            out.update(self.store.stats())
        return out

    # ---- the disk layer ---------------------------------------------------------------------------------
    def _spill(self, document: ReaderDocument, state: DocumentState) -> None:
        states = state.states.detach()
        half = states.to(device="cpu", dtype=torch.float16)
        if not bool(torch.isfinite(half).all()) and bool(torch.isfinite(states).all()):
            half = states.to(device="cpu", dtype=torch.float32)  # out of fp16's range: keep it whole
        units = state.units
        assert units is not None
        arrays = {
            "states": half.contiguous().numpy(),
            "offsets": state.offsets.astype(np.int32),
            "unit_starts": units.starts.astype(np.int64),
            "unit_ends": units.ends.astype(np.int64),
            "token_unit": units.token_unit.astype(np.int32),
            "unit_ranges": units.token_ranges.astype(np.int64),
        }
        meta = {
            "dtype": str(states.dtype).removeprefix("torch."),
            "n_tokens": str(state.n_tokens),
            "chars": str(len(document.text)),
        }
        sidecar = {
            "checkpoint": self.checkpoint,
            "space": self.space,
            "encoder_dtype": meta["dtype"],
            "hidden": int(states.shape[1]),
        }
        if self.store.write(self.space, state.key, arrays, meta, sidecar=sidecar):
            self.spilled += 1

    def _load(self, key: str, document: ReaderDocument) -> DocumentState | None:
        def decode(arrays: dict, meta: dict) -> DocumentState:
            return self._decode(key, document, arrays, meta)

        return self.store.read(self.space, key, decode)

    def _decode(self, key: str, document: ReaderDocument, arrays: dict, meta: dict) -> DocumentState:
        """A spilled state, checked against the document and restored to the encoder's dtype and device."""
        n = int(meta["n_tokens"])
        if int(meta["chars"]) != len(document.text):
            raise ValueError(f"cached state is of {meta['chars']} characters, not {len(document.text)}")
        dtype = STATE_DTYPES[meta["dtype"]]
        states = arrays["states"]
        hidden = getattr(getattr(self.model, "cfg", None), "hidden", states.shape[-1])
        if states.ndim != 2 or states.shape != (n, hidden):
            raise ValueError(f"states of shape {states.shape}, expected ({n}, {hidden})")
        offsets = np.asarray(arrays["offsets"]).astype(np.int64).reshape(-1, 2)
        token_unit = np.asarray(arrays["token_unit"]).astype(np.int64)
        ranges = np.asarray(arrays["unit_ranges"]).astype(np.int64).reshape(-1, 2)
        starts, ends = np.asarray(arrays["unit_starts"]), np.asarray(arrays["unit_ends"])
        if len(offsets) != n or len(token_unit) != n or not (len(starts) == len(ends) == len(ranges)):
            raise ValueError("offsets / units do not match the number of tokens")
        if n and (offsets.min() < 0 or offsets.max() > len(document.text) or token_unit.max() >= len(starts)):
            raise ValueError("offsets or units outside the document")
        device = getattr(self.model, "device", torch.device("cpu"))
        tensor = torch.from_numpy(np.ascontiguousarray(states)).to(device=device, dtype=dtype)
        units = ReadingUnits(starts.astype(np.int64), ends.astype(np.int64), token_unit, ranges)
        return DocumentState(key, offsets, tensor, units=units)

    @torch.inference_mode()
    def evidence(self, document: ReaderDocument, state: DocumentState):
        """The evidence scorer's document side (projected token and unit vectors), once per document."""
        if state.evidence is None:
            units = self.units(document, state)
            state.evidence = self.model.document(
                state.states, torch.as_tensor(units.token_unit, dtype=torch.long), len(units)
            )
        return state.evidence


__all__ = ["DocumentState", "DocumentStates", "encoder_dtype", "state_space", "text_key"]
