"""The span reader: free questions over the whole document, through the trained long-context network.

Per question: the evidence scorer ranks every reading unit (sentence/clause) of the document, the best units
up to the token budget are kept (the learned pruning), the global layers read the question with them, and the
heads say which kept unit holds the answer or that none does. The answer is that unit, cited with its page.

Score: ``sigmoid(unit logit - no-answer logit + b)`` -- the network's odds that this unit answers rather than
nothing, with the bias ``b`` placed on held-out human questions (`longctx train answer-line`,
``answer_line.json``); 0.5 is the answer line (``answer_threshold``).

Selection modes (the ablations of ``longctx eval ablation``): ``learned`` (the evidence scorer; the shipped
reader), ``bm25`` (the lexical reader's best passages fill the budget), ``random``. ``pins``: units of the
lexical reader's best passages kept in addition to the learned choice (the hybrid; without pins the network
alone decides what it reads).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from longctx.model.evidence import select_segments
from longctx.model.tokenization import query_ids

from .document_state import DocumentState, DocumentStates
from .reader import Answer, Query, ReaderDocument

SELECTIONS = ("learned", "bm25", "random")
#: the answer-line bias fitted by `longctx train answer-line`, stored next to the weights
ANSWER_LINE_FILE = "answer_line.json"
PIN_PASSAGES = 2  # lexical passages pinned per question in the hybrid
QUESTIONS_PER_BATCH = 16


@dataclass
class ReadTrace:
    """What happened to one question (evaluation: which stage lost a miss)."""

    kept: list[int]  # units kept
    unit_logits: dict[int, float]  # kept unit -> the heads' logit
    no_answer_logit: float
    evidence_rank: np.ndarray  # rank (0 = best) of every unit by the evidence score
    answers: list[Answer] = field(default_factory=list)


def load_answer_bias(directory) -> float:
    """The checkpoint's answer-line bias (0 when it has none)."""
    import json
    from pathlib import Path

    path = Path(directory) / ANSWER_LINE_FILE
    if not path.is_file():
        return 0.0
    value = float(json.loads(path.read_text())["bias"])
    return value if math.isfinite(value) else 0.0


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))


class SpanAnswerer:
    name = "span reader"

    def __init__(
        self,
        model,
        states: DocumentStates,
        *,
        lexical_provider: Callable[[], object] | None = None,
        selection: str = "learned",
        pins: bool = True,
        rho: float | None = None,
        budget: int | None = None,
        answer_threshold: float = 0.5,
        answer_bias: float = 0.0,
        seed: int = 0,
    ) -> None:
        if selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}")
        self.model = model
        self.states = states
        self.lexical_provider = lexical_provider
        self.selection = selection
        self.pins = pins and lexical_provider is not None
        self.rho = rho
        self.budget = budget
        self.answer_threshold = answer_threshold
        self.answer_bias = answer_bias
        self.seed = seed

    @property
    def variant(self) -> str:
        parts = [self.selection]
        if self.selection == "learned":
            parts.append("hybrid" if self.pins else "network")
        if self.rho is not None:
            parts.append(f"rho={self.rho:g}")
        if self.budget is not None:
            parts.append(f"budget={self.budget}")
        return ",".join(parts)

    # ---- selection ------------------------------------------------------------------------------------
    def _budget(self, n_tokens: int) -> int:
        b = self.model.cfg.budget(n_tokens, self.rho)
        return min(b, self.budget) if self.budget else b

    def _lexical_units(self, document: ReaderDocument, state: DocumentState, query: Query) -> list[int]:
        """Units of the lexical reader's passages, best passage first."""
        lex = self.lexical_provider()
        idx = lex.index(document)
        ranking = lex.rank(idx, query)
        units = self.states.units(document, state)
        out: list[int] = []
        order = np.lexsort((np.arange(len(idx.segments)), -ranking.score)) if len(idx.segments) else []
        for i in order:
            if ranking.score[int(i)] <= 0:
                break
            seg = idx.segments[int(i)]
            for u in units.units_overlapping(seg.start, seg.end):
                if u not in out:
                    out.append(u)
            if len(out) > 4 * PIN_PASSAGES and self.selection != "bm25":
                break
        return out

    def _kept(self, document, state, query: Query, logits: torch.Tensor, seg_len: torch.Tensor) -> list[int]:
        cfg = self.model.cfg
        budget = self._budget(state.n_tokens)
        if self.selection == "random":
            rng = random.Random(f"{self.seed}|{state.key}|{query.text}")
            scores = torch.tensor([rng.random() for _ in range(len(seg_len))])
            return select_segments(scores, seg_len, budget, cfg.max_segment_tokens)
        if self.selection == "bm25":
            ranked = self._lexical_units(document, state, query)
            return select_segments(torch.zeros(len(seg_len)), seg_len, budget, cfg.max_segment_tokens, ranked)
        pinned = None
        if self.pins:
            lex = self._lexical_units(document, state, query)
            pinned = lex[: 2 * PIN_PASSAGES]
        return select_segments(logits, seg_len, budget, cfg.max_segment_tokens, pinned)

    # ---- reading --------------------------------------------------------------------------------------
    @torch.inference_mode()
    def trace(
        self,
        document: ReaderDocument,
        queries: Sequence[Query],
        top_k: int = 3,
        progress: Callable[[float], None] | None = None,
    ) -> list[ReadTrace]:
        state = self.states.get(document, (lambda f: progress(0.8 * f)) if progress else None)
        if state.n_tokens == 0:
            return [
                ReadTrace([], {}, 0.0, np.zeros(0, np.int64), [Answer(text=None, score=0.0)]) for _ in queries
            ]
        units = self.states.units(document, state)
        dside = self.states.evidence(document, state)
        model = self.model
        out: list[ReadTrace] = []
        for b0 in range(0, len(queries), QUESTIONS_PER_BATCH):
            batch = list(queries[b0 : b0 + QUESTIONS_PER_BATCH])
            rows = [query_ids(q.text, model.cfg.max_query_len) for q in batch]
            width = max(len(r) for r in rows)
            ids = torch.zeros(len(rows), width, dtype=torch.long)
            mask = torch.zeros(len(rows), width, dtype=torch.bool)
            for i, r in enumerate(rows):
                ids[i, : len(r)] = torch.tensor(r)
                mask[i, : len(r)] = True
            q_states, q_mask, qside = model.question(ids, mask)
            scores = model.score(dside, qside)
            kept = [
                self._kept(document, state, q, scores.logits[i], dside.segment_len)
                for i, q in enumerate(batch)
            ]
            read = model.read(q_states, q_mask, qside, state.states, dside, scores, kept)
            for i in range(len(batch)):
                na = float(read.no_answer_logit[i])
                logits = {
                    int(u): float(read.segment_logits[i, m])
                    for m, u in enumerate(read.kept_segments[i].tolist())
                    if u >= 0
                }
                order = torch.argsort(scores.logits[i].float(), descending=True, stable=True)
                rank = np.empty(len(units), dtype=np.int64)
                rank[order.cpu().numpy()] = np.arange(len(units))
                ranked = sorted(logits.items(), key=lambda kv: -kv[1])
                answers = self._answers(
                    document, units, [(u, _sigmoid(lg - na + self.answer_bias)) for u, lg in ranked], top_k
                )
                out.append(ReadTrace(sorted(logits), logits, na, rank, answers))
            if progress:
                progress(0.8 + 0.2 * min(b0 + QUESTIONS_PER_BATCH, len(queries)) / len(queries))
        return out

    def answer(
        self,
        document: ReaderDocument,
        queries: Sequence[Query],
        top_k: int = 3,
        progress: Callable[[float], None] | None = None,
    ) -> list[list[Answer]]:
        return [t.answers for t in self.trace(document, queries, top_k, progress)]

    def _answers(self, document: ReaderDocument, units, scored: list[tuple[int, float]], top_k: int):
        """The best units at or above the answer line (at most ``top_k``), or one no-answer entry."""
        answers: list[Answer] = []
        best = max((p for _, p in scored), default=0.0)
        for u, p in scored:
            if p < self.answer_threshold or len(answers) >= max(1, top_k):
                break
            cs, ce = units.span(u)
            if ce <= cs:
                continue
            answers.append(Answer.cited(document, cs, ce, p))
        return answers or [Answer(text=None, score=round(best, 6))]


__all__ = ["ANSWER_LINE_FILE", "SELECTIONS", "ReadTrace", "SpanAnswerer", "load_answer_bias"]
