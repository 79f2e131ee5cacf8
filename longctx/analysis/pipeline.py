"""The trained reader as a pipeline of named answerers: which one serves a question, and why.

Routes, tried in order; the first that accepts a question answers it:

1. **phrase head** -- a contract field annotated as a few words (title, agreement/effective date) that has a
   phrase model: a sentence never matches "AGENCY AGREEMENT" or "June 1, 2024", so the answer is a phrase
   found in the text.
2. **clause head** -- any other contract field with a trained probe: the field's clause is ranked from the
   encoder states of every segment, and scored as the probability of matching an annotated clause.
3. **lexical clauses** -- a contract field without a probe (a checkpoint without a clause head): the lexical
   reader's clause ranking.
4. **table facts** -- a question about a metric for a period (not a narrative one) on a document with
   recovered tables (statements, segment tables): the matching cell, with its row and column labels, period,
   unit and scale; growth, shares of a total, margins and ratios computed from cited cells
   (`table_facts.py`). A metric question the statements do not answer gets "no answer" (never a nearby
   number from the text); any other question goes on to the span reader.
5. **span reader** -- every other question (free questions, narrative report questions, needles): the
   long-context network reads the whole document (evidence scorer -> kept units -> global layers -> heads).

`route(query)` says which route a question takes and `explain(queries)` why; `docs/model.md` has the same
table. The document's encoder states are computed once and shared by the clause head and the span reader.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .clause_answerers import ClauseAnswerer, LexicalClauseAnswerer, PhraseAnswerer
from .document_state import DocumentStates, state_space
from .reader import Answer, Query, ReaderDocument
from .schemas import load_schema
from .span_reader import SpanAnswerer, load_answer_bias
from .state_cache import StateCache


@dataclass(frozen=True)
class Route:
    name: str
    why: str


PHRASE = Route("phrase head", "contract field answered by a phrase (title, dates): phrase head")
CLAUSE = Route("clause head", "contract clause field with a trained probe: clause head")
LEXICAL = Route("lexical clauses", "contract clause field without a probe: lexical clause ranking")
TABLE = Route("table facts", "a metric for a period in a document with tables: the matching cell (or cells)")
SPAN = Route("span reader", "free question: the long-context network reads the whole document")


class ReaderPipeline:
    """The service's trained reader (``LONGCTX_READER=neural`` / ``auto``)."""

    name = "neural"

    def __init__(
        self,
        model,
        *,
        clause_head=None,
        phrase_head=None,
        answer_threshold: float = 0.5,
        cache_size: int = 4,
        selection: str = "learned",
        pins: bool = True,
        rho: float | None = None,
        budget: int | None = None,
        states: DocumentStates | None = None,
        answer_bias: float = 0.0,
    ) -> None:
        self.model = model.eval()
        self.states = states if states is not None else DocumentStates(model, cache_size)
        self._lexical = None
        self.answer_threshold = answer_threshold
        self.phrase = PhraseAnswerer(phrase_head, self.lexical_reader, answer_threshold)
        self.clause = ClauseAnswerer(clause_head, self.states, self.lexical_reader, answer_threshold)
        self.lexical_clauses = LexicalClauseAnswerer(self.lexical_reader, answer_threshold)
        self.span = SpanAnswerer(
            model,
            self.states,
            lexical_provider=self.lexical_reader,
            selection=selection,
            pins=pins,
            rho=rho,
            budget=budget,
            answer_threshold=answer_threshold,
            answer_bias=answer_bias,
        )
        self._contract_keys = {q.key for q in load_schema("contract")}
        if (selection, pins, rho, budget) != ("learned", True, None, None):
            self.name = f"neural[{self.span.variant}]"

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        attention_backend: str | None = None,
        encoder_dtype: str = "auto",
        state_cache: StateCache | None = None,
        **kwargs,
    ) -> ReaderPipeline:
        """The pipeline of a checkpoint folder; ``attention_backend`` and ``encoder_dtype`` are the service
        settings (kernel family of the global layers; precision of the local encoder); ``state_cache`` the
        document state cache on disk (``StateCache.from_settings``; None: states live in memory only)."""
        from longctx.core.hardware import fast_cpu_bf16
        from longctx.model.clause_head import ClauseHead
        from longctx.model.phrase_head import PhraseHead
        from longctx.model.reader_model import LongContextReader

        model = LongContextReader.load(path, map_location="cpu", dtype=torch.float32)
        if torch.cuda.is_available():
            model = model.cuda()
        if attention_backend is not None:
            model.set_attention_backend(attention_backend)
        on_gpu = model.device.type == "cuda"
        if encoder_dtype == "bfloat16" or (encoder_dtype == "auto" and (on_gpu or fast_cpu_bf16())):
            model.local.to(torch.bfloat16)
        if on_gpu:  # global layers in bf16: flash / cuDNN attention serve them (fp32 gets the slow kernel)
            model.global_layers.to(torch.bfloat16)
        if "states" not in kwargs:
            kwargs["states"] = DocumentStates(
                model,
                kwargs.get("cache_size", 4),
                store=state_cache,
                space=state_space(path, model),  # also without a cache: `use_state_cache` may add one
                checkpoint=Path(path).expanduser().resolve(),
            )
        kwargs.setdefault("clause_head", ClauseHead.load(path))
        kwargs.setdefault("answer_bias", load_answer_bias(path))
        kwargs.setdefault("phrase_head", PhraseHead.load(path))
        return cls(model, **kwargs)

    def variant(self, **overrides) -> ReaderPipeline:
        """The same trained parts, and the same document states, with another span-reader selection
        (ablations: every variant reads a document encoded once)."""
        opts = {
            "selection": self.span.selection,
            "pins": self.span.pins,
            "rho": self.span.rho,
            "budget": self.span.budget,
            **overrides,
        }
        return ReaderPipeline(
            self.model,
            clause_head=self.clause.head,
            phrase_head=self.phrase.head,
            answer_threshold=self.answer_threshold,
            states=self.states,
            answer_bias=self.span.answer_bias,
            **opts,
        )

    @property
    def answer_threshold(self) -> float:
        """The answer line of every answerer (evaluations that rank every prediction set it to 0)."""
        return self._answer_threshold

    @answer_threshold.setter
    def answer_threshold(self, value: float) -> None:
        self._answer_threshold = value
        for answerer in ("phrase", "clause", "lexical_clauses", "span"):
            if hasattr(self, answerer):
                getattr(self, answerer).answer_threshold = value

    def lexical_reader(self):
        """The pipeline's lexical reader (BM25 index cache): lexical clauses, hybrid pins, phrase features."""
        if self._lexical is None:
            from .lexical import LexicalReader

            self._lexical = LexicalReader.default(store=self.states.store)
        return self._lexical

    @property
    def state_cache(self) -> StateCache | None:
        return self.states.store

    def use_state_cache(self, store: StateCache | None) -> None:
        """Spill to (and read from) ``store`` from now on; None: memory only. The reader of a worker process
        is loaded once; a process whose settings change (tests) points it at its data dir's cache."""
        self.states.use_store(store)
        if self._lexical is not None:
            self._lexical.use_state_cache(store)

    def stats(self) -> dict[str, int]:
        """Work counters since load: ``encoder_passes`` (documents run through the local encoder),
        ``index_builds`` (lexical indexes built) and ``unit_builds`` (reading units cut) are what a question
        on a cached document must leave unchanged; the rest say where states came from (memory, disk)."""
        lexical = {"index_builds": 0, "index_loaded": 0}
        if self._lexical is not None:
            lexical = self._lexical.stats()
        return {**self.states.stats(), **lexical}

    # ---- routing --------------------------------------------------------------------------------------
    def route(self, query: Query) -> Route:
        if query.key and query.key in self._contract_keys:
            if self.phrase.has(query.key):
                return PHRASE
            if self.clause.has(query.key):
                return CLAUSE
            return LEXICAL
        return SPAN

    def explain(self, queries: Sequence[Query]) -> list[tuple[str, str, str]]:
        """(question, route, why) for each question."""
        return [(q.text, r.name, r.why) for q in queries for r in [self.route(q)]]

    def answer(
        self,
        document: ReaderDocument,
        queries: Sequence[Query],
        top_k: int = 3,
        progress: Callable[[float], None] | None = None,
    ) -> list[list[Answer]]:
        if progress:
            progress(0.0)
        routes = [self.route(q) for q in queries]
        out: dict[int, list[Answer]] = {}

        def run(route: Route, fn) -> None:
            idx = [i for i, r in enumerate(routes) if r is route]
            if idx:
                out.update(zip(idx, fn([queries[i] for i in idx]), strict=True))

        encode = (lambda f: progress(0.7 * f)) if progress else None
        run(PHRASE, lambda qs: self.phrase.answer(document, qs, top_k))
        run(LEXICAL, lambda qs: self.lexical_clauses.answer(document, qs, top_k))
        run(CLAUSE, lambda qs: self.clause.answer(document, qs, top_k, encode))
        if getattr(document, "tables", None):
            from .table_facts import TableFacts

            facts = TableFacts(document)
            for i, r in enumerate(routes):
                if r is not SPAN:
                    continue
                if found := facts.answer(queries[i].text, top_k):
                    routes[i], out[i] = TABLE, found
                elif facts.owns(queries[i].text):  # a metric the statements do not hold: no nearby number
                    routes[i], out[i] = TABLE, [Answer(text=None, score=0.0)]
        run(SPAN, lambda qs: self.span.answer(document, qs, top_k, encode))
        if progress:
            progress(1.0)
        return [out[i] for i in range(len(queries))]


__all__ = ["CLAUSE", "LEXICAL", "PHRASE", "SPAN", "TABLE", "ReaderPipeline", "Route"]
