"""Training documents for the reader, assembled from cached encoder states.

The local encoder is frozen and chunk-local, so a long document's token states are, to a close
approximation, its pieces' states side by side: a slice of a cached contract, a paragraph encoded on its own,
a window of haystack text with a needle sentence inserted and encoded fresh. Every training document is
built that way from five sources, each with its own kind of question and its own hard negatives:

* ``facts``: needle facts of many kinds and wordings (`longctx.datasets.facts`, train family) in CUAD
  training contracts, several per document as mutual distractors, some with near-identical keys, plus
  questions about facts that are not there;
* ``squad``: SQuAD 2.0 paragraphs of the training articles with their human questions (paraphrase), among
  other paragraphs of the same article (hard negatives) or of other articles, unanswerable questions kept;
* ``tatqa``: report tables and text with analysts' questions, evidence = the cells and words holding the
  answer or its operands;
* ``cuad``: CUAD training contracts asked free questions about their clause fields (paraphrases from
  `longctx.datasets.contract_questions`, train family), absent fields kept as no-answer questions;
* ``short``: short generated contracts (`longctx.datasets.short_contracts`, train family): governing law,
  term, parties and absent clauses in documents of 1-30 pages.

A document's gold for a question is the set of reading units (`longctx.analysis.units`) that hold an answer
span; no gold = no answer.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from longctx.analysis.units import MAX_UNIT_TOKENS, ReadingUnits, reading_units

from .encoding import encode_texts
from .state_cache import StateCache

SOURCES = ("facts", "squad", "tatqa", "cuad", "short")
DEFAULT_MIX = {"facts": 0.3, "squad": 0.15, "tatqa": 0.1, "cuad": 0.2, "short": 0.25}
NEEDLE_CONTEXT = 80  # haystack tokens encoded with a needle on each side


@dataclass
class Piece:
    """Text with its token states and offsets (relative to ``text``); ``sep`` goes before it."""

    text: str
    states: Tensor  # (n, H) fp16
    offsets: np.ndarray  # (n, 2)
    sep: str = "\n\n"

    def slice(self, t0: int, t1: int, sep: str) -> Piece:
        o0, o1 = int(self.offsets[t0, 0]), int(self.offsets[t1 - 1, 1])
        return Piece(self.text[o0:o1], self.states[t0:t1], self.offsets[t0:t1] - o0, sep)


@dataclass
class QA:
    question: str
    spans: list[tuple[int, int]]  # gold char spans in the document text; [] = no answer
    source: str


@dataclass
class TrainDoc:
    text: str
    states: Tensor  # (N, H) fp16
    offsets: np.ndarray  # (N, 2)
    units: ReadingUnits
    questions: list[QA]
    source: str
    meta: dict = field(default_factory=dict)

    def gold_units(self, qa: QA) -> list[int]:
        """Units holding an answer: for a short span the unit(s) it falls in; for a clause spanning several
        units, those at least half inside it."""
        out: set[int] = set()
        for s, e in qa.spans:
            hit = self.units.units_overlapping(s, e)
            if len(hit) <= 1:
                out.update(hit)
                continue
            for u in hit:
                us, ue = self.units.span(u)
                inside = min(ue, e) - max(us, s)
                if inside >= 0.5 * (ue - us) or inside >= 0.5 * (e - s):
                    out.add(u)
        return sorted(out)


def assemble(pieces: list[Piece]) -> tuple[str, Tensor, np.ndarray, list[int]]:
    """Text, states, offsets of the pieces joined (each piece's ``sep`` before it, none before the first),
    and each piece's start character."""
    texts, states, offs, starts = [], [], [], []
    pos = 0
    for i, p in enumerate(pieces):
        if i:
            texts.append(p.sep)
            pos += len(p.sep)
        starts.append(pos)
        texts.append(p.text)
        states.append(p.states)
        offs.append(np.asarray(p.offsets, dtype=np.int64).reshape(-1, 2) + pos)
        pos += len(p.text)
    return "".join(texts), torch.cat(states), np.concatenate(offs), starts


def make_doc(
    pieces: list[Piece], questions: list[tuple[str, list[tuple[int, int, int]]]], source: str
) -> TrainDoc:
    """``questions``: (text, [(piece index, start, end) answer spans relative to that piece])."""
    text, states, offsets, starts = assemble(pieces)
    qas = [QA(q, [(starts[p] + s, starts[p] + e) for p, s, e in spans], source) for q, spans in questions]
    return TrainDoc(text, states, offsets, reading_units(text, offsets, MAX_UNIT_TOKENS), qas, source)


@dataclass
class Encoded:
    text: str
    states: Tensor
    offsets: np.ndarray
    unit_starts: np.ndarray  # token index where each reading unit starts (cut points for slices)

    def slice(self, t0: int, t1: int, sep: str = "\n\n") -> Piece:
        return self.whole(sep).slice(t0, t1, sep)

    def whole(self, sep: str = "\n\n") -> Piece:
        return Piece(self.text, self.states, self.offsets, sep)

    def __len__(self) -> int:
        return int(self.states.shape[0])


class Corpus:
    """Encoded texts by key, through a disk cache."""

    def __init__(self, model, cache_dir: Path | None) -> None:
        self.model = model
        self.cache = StateCache(model, cache_dir / "states" if cache_dir else None, max_bytes=6 << 30)
        self._meta: dict[str, Encoded] = {}

    def get(self, text: str) -> Encoded:
        key = self.cache.key(text)
        hit = self._meta.get(key)
        if hit is not None:
            return hit
        from longctx.model.tokenization import tokenize_text

        states = self.cache.states(text)
        offsets = np.asarray(tokenize_text(text).offsets)
        units = reading_units(text, offsets, MAX_UNIT_TOKENS)
        enc = Encoded(text, states, offsets, units.token_ranges[:, 0].copy())
        self._meta[key] = enc
        return enc

    def warm(self, texts: list[str], log: Callable[[str], None] | None = None) -> None:
        """Encode what is not cached yet, short texts many at a time."""
        todo = [t for t in texts if not self.cache.has(t)]
        if log and todo:
            log(f"encoding {len(todo)} texts")
        short = [t for t in todo if len(t) < 2500]
        for i in range(0, len(short), 256):
            part = short[i : i + 256]
            for t, (states, _off) in zip(part, encode_texts(self.model, part), strict=True):
                self.cache.put(t, states)
        for j, t in enumerate(x for x in todo if len(x) >= 2500):
            self.cache.states(t)
            if log and j % 20 == 0:
                log(f"  encoded long text {j}")


class Sources:
    """Draws training documents; every draw is a pure function of (source, seed)."""

    def __init__(
        self,
        model,
        data_root: Path,
        cache_dir: Path | None,
        *,
        cuad_contracts: int = 120,
        short_contracts: int = 300,
        log: Callable[[str], None] = print,
    ) -> None:
        from longctx.datasets.cuad import contract_paths, load_labels, read_contract, split_ids
        from longctx.datasets.squad import squad_examples, squad_paragraphs, squad_split
        from longctx.datasets.tatqa import tatqa_examples, tatqa_split

        self.model = model
        self.corpus = Corpus(model, cache_dir)
        self.log = log
        rng = random.Random(0)
        train_ids = sorted(split_ids(data_root)["train"])
        rng.shuffle(train_ids)
        self.contract_ids = train_ids[:cuad_contracts]
        paths = contract_paths(data_root)
        self.contracts = {c: read_contract(paths[c]) for c in self.contract_ids}
        self.labels = load_labels(data_root)
        self.squad = squad_split(squad_examples(data_root))["train"]
        self.paragraphs = squad_paragraphs(data_root)
        eval_titles = {e.group for e in squad_split(squad_examples(data_root))["eval"]}
        self.train_titles = sorted(t for t in self.paragraphs if t not in eval_titles)
        self.squad_by_context: dict[str, list] = {}
        for ex in self.squad:
            self.squad_by_context.setdefault(ex.context, []).append(ex)
        self.tatqa = tatqa_split(tatqa_examples(data_root))["train"]
        self.tatqa_by_context: dict[str, list] = {}
        for ex in self.tatqa:
            self.tatqa_by_context.setdefault(ex.context, []).append(ex)
        self.n_short = short_contracts

    # ---- warm-up --------------------------------------------------------------------------------------
    def warm(self, sources: list[str] | tuple[str, ...] = SOURCES) -> None:
        """Encode what the given sources read (the contracts always: they are every source's haystack)."""
        from longctx.datasets.short_contracts import short_contract

        if "squad" in sources or "tatqa" in sources:
            self.corpus.warm([p for t in self.train_titles for p in self.paragraphs[t]], self.log)
        if "tatqa" in sources:
            self.corpus.warm(list(self.tatqa_by_context), self.log)
        if "short" in sources:
            self.corpus.warm([short_contract(s, "train").text for s in range(self.n_short)], self.log)
        self.corpus.warm([self.contracts[c] for c in self.contract_ids], self.log)

    # ---- helpers --------------------------------------------------------------------------------------
    def _hay(self, rng: random.Random, n_tokens: int) -> list[Piece]:
        """Slices of training contracts, cut at unit starts, about ``n_tokens`` in all."""
        out: list[Piece] = []
        left = n_tokens
        while left > 32:
            enc = self.corpus.get(self.contracts[rng.choice(self.contract_ids)])
            if len(enc) < 64:
                continue
            starts = enc.unit_starts
            t0 = int(starts[rng.randrange(len(starts))])
            t1 = min(len(enc), t0 + left)
            cut = int(np.searchsorted(starts, t1, side="right")) - 1
            if cut > 0 and starts[cut] > t0 + 16:
                t1 = int(starts[cut])
            out.append(enc.slice(t0, t1))
            left -= t1 - t0
        return out

    def draw(self, source: str, seed: int) -> TrainDoc:
        rng = random.Random(f"{source}|{seed}")
        return getattr(self, f"_draw_{source}")(rng, seed)

    @staticmethod
    def _length(rng: random.Random, lo: int = 1024, hi: int = 24576) -> int:
        return int(round(np.exp(rng.uniform(np.log(lo), np.log(hi)))))

    # ---- facts ----------------------------------------------------------------------------------------
    def _draw_facts(self, rng: random.Random, seed: int) -> TrainDoc:
        from longctx.datasets.facts import fact_set

        near = 3 if rng.random() < 0.3 else 0
        facts, questions = fact_set(
            rng, "train", n_facts=rng.randint(1, 6), near_identical=near, absent=rng.randint(0, 1)
        )
        # Contrast: some asked facts are left out of the document, so the same question is answerable in
        # one document and not in another -- "no answer" must come from the document, not the wording.
        asked = {q.fact for q in questions if q.fact is not None}
        dropped = {f for f in asked if rng.random() < 0.25}
        hay = self._hay(rng, self._length(rng))
        by_piece: dict[int, list[tuple[float, int]]] = {}
        for f_i in range(len(facts)):
            if f_i not in dropped:
                by_piece.setdefault(rng.randrange(len(hay)), []).append((rng.random(), f_i))
        plan: list[Piece | int] = []  # pieces, or the index of a window still to encode
        windows: list[tuple[str, int, int, str]] = []  # text, fact, value start in text, sep
        for p, piece in enumerate(hay):
            n = len(piece.states)
            emitted = 0
            cursor = 0

            def sep() -> str:
                return piece.sep if emitted == 0 else " "  # noqa: B023 - read at call time, on purpose

            for frac, f_i in sorted(by_piece.get(p, [])):
                t = min(max(int(frac * n), cursor), n)
                lo, hi = max(cursor, t - NEEDLE_CONTEXT), min(n, t + NEEDLE_CONTEXT)
                if lo > cursor:
                    plan.append(piece.slice(cursor, lo, sep()))
                    emitted += 1
                o = piece.offsets
                left = piece.text[int(o[lo, 0]) : int(o[t - 1, 1])] if t > lo else ""
                right = piece.text[int(o[t, 0]) : int(o[hi - 1, 1])] if hi > t else ""
                fact = facts[f_i]
                head = left + " " if left else ""
                windows.append(
                    (
                        head + fact.sentence + (" " + right if right else ""),
                        f_i,
                        len(head) + fact.value_span[0],
                        sep(),
                    )
                )
                plan.append(len(windows) - 1)
                emitted += 1
                cursor = hi
            if cursor < n:
                plan.append(piece.slice(cursor, n, sep()))
        encoded = encode_texts(self.model, [w[0] for w in windows])
        pieces: list[Piece] = []
        where: dict[int, tuple[int, int, int]] = {}
        for item in plan:
            if isinstance(item, Piece):
                pieces.append(item)
                continue
            text, f_i, v0, sp = windows[item]
            states, offsets = encoded[item]
            where[f_i] = (len(pieces), v0, v0 + len(facts[f_i].value))
            pieces.append(Piece(text, states, offsets, sp))
        qs = [(q.text, [where[q.fact]] if q.fact in where else []) for q in questions]
        return make_doc(pieces, qs, "facts")

    # ---- squad ----------------------------------------------------------------------------------------
    def _draw_squad(self, rng: random.Random, seed: int) -> TrainDoc:
        title = rng.choice(self.train_titles)
        paras = self.paragraphs[title]
        with_q = [p for p in paras if p in self.squad_by_context]
        target = rng.choice(with_q)
        # contrast: one time in five the paragraph is left out and its answerable questions have no answer
        drop = rng.random() < 0.2
        same_article = not drop and rng.random() < 0.5
        pieces = [self.corpus.get(target).whole()]
        if same_article:
            others = [p for p in paras if p != target]
            for p in rng.sample(others, min(len(others), rng.randint(2, 6))):
                pieces.append(self.corpus.get(p).whole())
        for t in rng.sample(self.train_titles, 2):
            if t != title:
                for p in rng.sample(self.paragraphs[t], min(len(self.paragraphs[t]), rng.randint(0, 3))):
                    pieces.append(self.corpus.get(p).whole())
        pieces += self._hay(rng, self._length(rng, 256, 12288))
        if drop:
            pieces = pieces[1:]
        rng.shuffle(pieces)
        t_index = next((i for i, p in enumerate(pieces) if p.text == target), -1)
        exs = list(self.squad_by_context[target])
        rng.shuffle(exs)
        qs = []
        for ex in exs:
            if ex.unanswerable and (same_article or drop):
                continue  # another paragraph of the article might answer it: no reliable label
            qs.append((ex.question, [] if drop else [(t_index, s, e) for s, e in ex.answers]))
            if len(qs) >= 6:
                break
        return make_doc(pieces, qs, "squad")

    # ---- tatqa ----------------------------------------------------------------------------------------
    def _draw_tatqa(self, rng: random.Random, seed: int) -> TrainDoc:
        context = rng.choice(sorted(self.tatqa_by_context))
        drop = rng.random() < 0.15  # contrast: the excerpt left out, its questions have no answer
        pieces = [] if drop else [self.corpus.get(context).whole()]
        for t in rng.sample(self.train_titles, 2):
            for p in rng.sample(self.paragraphs[t], min(len(self.paragraphs[t]), rng.randint(0, 2))):
                pieces.append(self.corpus.get(p).whole())
        pieces += self._hay(rng, self._length(rng, 256, 8192))
        rng.shuffle(pieces)
        t_index = next((i for i, p in enumerate(pieces) if p.text == context), -1)
        exs = list(self.tatqa_by_context[context])
        rng.shuffle(exs)
        qs = [(ex.question, [] if drop else [(t_index, s, e) for s, e in ex.answers]) for ex in exs[:6]]
        return make_doc(pieces, qs, "tatqa")

    # ---- cuad -----------------------------------------------------------------------------------------
    def _draw_cuad(self, rng: random.Random, seed: int) -> TrainDoc:
        from longctx.analysis.schemas import load_schema
        from longctx.datasets.contract_questions import field_questions
        from longctx.datasets.cuad import NormalisedText

        cid = rng.choice(self.contract_ids)
        text = self.contracts[cid]
        enc = self.corpus.get(text)
        labels = self.labels.get(cid, {})
        schema = {q.key: q.text for q in load_schema("contract")}
        located = NormalisedText(text)
        present, absent = [], []
        for key in schema:
            clauses = labels.get(key, [])
            spans = [hit[:2] for hit in map(located.locate, clauses) if hit]
            if clauses and not spans:
                continue  # labelled but not found: no reliable label
            (present if spans else absent).append((key, spans))
        chosen = rng.sample(present, min(len(present), 4)) + rng.sample(absent, min(len(absent), 2))
        # a window of at most ~24K tokens holding the first chosen gold clause
        limit = 24576
        t0, t1 = 0, len(enc)
        if len(enc) > limit:
            anchor = next((sp[0][0] for _k, sp in chosen if sp), int(enc.offsets[len(enc) // 2, 0]))
            a_tok = int(np.searchsorted(enc.offsets[:, 0], anchor))
            t0 = max(0, min(a_tok - rng.randrange(limit), len(enc) - limit))
            t1 = t0 + limit
        piece = enc.slice(t0, t1) if (t0, t1) != (0, len(enc)) else enc.whole()
        base = int(enc.offsets[t0, 0])
        qs = []
        for key, spans in chosen:
            options = field_questions(key, "train") + [schema[key]]
            inside = [(0, s - base, e - base) for s, e in spans if s >= base and e - base <= len(piece.text)]
            if spans and not inside:
                continue  # its clause was cropped away
            qs.append((rng.choice(options), inside))
        return make_doc([piece], qs, "cuad")

    # ---- short contracts ------------------------------------------------------------------------------
    def _draw_short(self, rng: random.Random, seed: int) -> TrainDoc:
        from longctx.datasets.short_contracts import short_contract

        case = short_contract(rng.randrange(self.n_short), "train")
        piece = self.corpus.get(case.text).whole()
        present = [q for q in case.questions if q.gold]
        absent = [q for q in case.questions if not q.gold]
        chosen = present + rng.sample(absent, min(len(absent), max(1, len(present) // 2)))
        qs = [(q.text, [(0, s, e) for s, e in q.gold]) for q in chosen]
        return make_doc([piece], qs, "short")


__all__ = ["DEFAULT_MIX", "SOURCES", "Piece", "QA", "Sources", "TrainDoc", "assemble", "make_doc"]
