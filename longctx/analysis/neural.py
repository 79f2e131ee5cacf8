"""The neural reader: the trained long-context model behind the `Reader` interface, with citations.

Per document (cached by content hash, query-independent): tokenize with offsets, lay out 510-token chunks and
run the local encoder once. Per query: the pruning layer keeps the top ``rho`` of the tokens (or, for the
ablations, a random or a BM25-selected set of the same size), the global layers read query + kept tokens,
and the span heads give start/end logits. Spans are mapped back to exact character offsets; each answer's
passage is the sentence(s) holding the span, clipped to its page so the cited page shows the whole passage.

Contract key terms (queries whose ``key`` is a field of the contract schema) whose answers are a few words --
the parties, the title, the dates -- are answered by the phrase head (``longctx.model.phrase_head``): names,
quoted terms and dates found in the text, scored per field, without an encoder pass. The other contract
fields are answered by whole clauses:
the clause head (``longctx.model.clause_head``, one probe per field; the packaged checkpoint has all 41)
ranks the document's segments and the best ones are the answers, scored by its answer calibration (the
probability that the answer matches an annotated clause; the probe's own probability for a head without one);
a field without
a probe (or a checkpoint without a clause head) goes to the lexical reader's clause
ranking. Other questions take the span path: the lexically and semantically closest sentences are pinned into
the kept set (so the span head always sees them), the span head proposes the best span in each sentence, and
the answer ranker (``longctx.model.answer_ranker``, when the checkpoint has one) re-scores those candidates
with the sentence's BM25 and embedding similarity to the question. With a ranker the answer is the whole
sentence it judged (extended to the span if the span runs past it): the span head's exact span boundaries are
not reliable enough on real questions to stand alone.

Span scores: the answer ranker's probability, or without a ranker ``sigmoid(span score - no-answer score)``;
either way 0.5 is the model's own answer/no-answer boundary. Answers below ``answer_threshold`` (0.5 by
default) are withheld and the query gets a no-answer entry; evaluations that rank every prediction (CUAD's
AUPR) set it to 0.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from longctx.model.tokenization import query_ids
from longctx.text.segment import segment

from .reader import Answer, Query, ReaderDocument

# "unpinned": the pruning layer alone, without the pinned sentences (an ablation)
SELECTIONS = ("learned", "unpinned", "random", "bm25")
PASSAGE_CONTEXT_CHARS = 700  # look this far around a span for its sentence boundaries
QUERY_BATCH_TOKENS = 1 << 20  # queries per batch so that batch * N stays under this
PIN_PASSAGES = 2  # sentences pinned into the kept set per signal (BM25, embedding cosine)
CANDIDATES = 32  # candidate sentences the answer ranker scores per question


@dataclass
class EncodedDocument:
    offsets: np.ndarray  # (N, 2) char offsets of each token
    states: torch.Tensor  # (N, H) local-encoder states
    segments: list | None = None  # clause path: the lexical index's segments, token ranges, embeddings
    ranges: np.ndarray | None = None
    seg_emb: torch.Tensor | None = None
    token_segment: np.ndarray | None = None  # (N,) segment of every token (the one it starts in or after)
    clause_features: np.ndarray | None = None  # (S, D) the clause head's query-independent segment features


def query_text(query: Query) -> str:
    """The query row the model was trained on: "{field}: {question}" for schema fields (CUAD style)."""
    return f"{query.key}: {query.text}" if query.key else query.text


class NeuralReader:
    name = "neural"

    def __init__(
        self,
        model,
        *,
        rho: float | None = None,
        selection: str = "learned",
        max_span_len: int | None = None,
        answer_threshold: float = 0.5,
        cache_size: int = 4,
        seed: int = 0,
        clause_head=None,
        answer_ranker=None,
        phrase_head=None,
    ) -> None:
        if selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}")
        self.model = model.eval()
        self.rho = float(rho if rho is not None else model.cfg.rho)
        self.selection = selection
        self.max_span_len = max_span_len or model.cfg.max_span_len
        self.answer_threshold = answer_threshold
        self.seed = seed
        self._cache: OrderedDict[str, EncodedDocument] = OrderedDict()
        self._cache_size = cache_size
        self.clause_head = clause_head
        self.answer_ranker = answer_ranker
        self.phrase_head = phrase_head
        self._lexical = None
        self._clause_keys: set[str] | None = None
        if selection != "learned" or self.rho != model.cfg.rho:
            self.name = f"neural[{selection},rho={self.rho:g}]"

    @classmethod
    def load(cls, path: str | Path, *, attention_backend: str | None = None, **kwargs) -> NeuralReader:
        """The reader of a checkpoint folder; ``attention_backend`` (the service setting) overrides the
        checkpoint's choice of attention kernel family for the global layers."""
        from longctx.model.answer_ranker import AnswerRanker
        from longctx.model.clause_head import ClauseHead
        from longctx.model.phrase_head import PhraseHead
        from longctx.model.reader_model import LongContextReader

        model = LongContextReader.load(path, map_location="cpu", dtype=torch.float32)
        if attention_backend is not None:
            model.set_attention_backend(attention_backend)
        if torch.cuda.is_available():
            model = model.cuda()
        kwargs.setdefault("clause_head", ClauseHead.load(path))
        kwargs.setdefault("answer_ranker", AnswerRanker.load(path))
        kwargs.setdefault("phrase_head", PhraseHead.load(path))
        return cls(model, **kwargs)

    # ---- document side --------------------------------------------------------------------------------
    @torch.inference_mode()
    def encode(
        self, document: ReaderDocument, progress: Callable[[float], None] | None = None
    ) -> EncodedDocument:
        """Token offsets and local-encoder states of the document (cached by content hash)."""
        from longctx.model.tokenization import chunk_layout, load_tokenizer, tokenize_text

        key = hashlib.sha256(document.text.encode("utf-8", "surrogatepass")).hexdigest()
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        tok = load_tokenizer()
        doc = tokenize_text(document.text, tok)
        layout = chunk_layout(doc, min(510, self.model.cfg.max_positions - 2), 0, tok)
        states = self.model.encode_document(layout, progress=progress)
        enc = EncodedDocument(np.asarray(doc.offsets).reshape(-1, 2), states)
        self._cache[key] = enc
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return enc

    # ---- selection ablations --------------------------------------------------------------------------
    def _select(
        self, document: ReaderDocument, enc: EncodedDocument, query: Query, k: int
    ) -> np.ndarray | None:
        """Indices of the k tokens to keep for the random / BM25 ablations (None: the learned pruning)."""
        n = enc.states.shape[0]
        if self.selection in ("learned", "unpinned") or k >= n:
            return None
        if self.selection == "random":
            rng = random.Random(f"{self.seed}|{document.id}|{query.text}")
            return np.array(sorted(rng.sample(range(n), k)), dtype=np.int64)
        lex = self.lexical
        idx = lex.index(document)
        ranking = lex.rank(idx, query)
        starts = enc.offsets[:, 0]
        chosen: list[np.ndarray] = []
        total = 0
        order = np.lexsort((np.arange(len(idx.segments)), -ranking.score)) if len(idx.segments) else []
        for i in order:
            seg = idx.segments[int(i)]
            lo, hi = np.searchsorted(starts, seg.start), np.searchsorted(starts, seg.end)
            if hi > lo:
                chosen.append(np.arange(lo, hi))
                total += hi - lo
            if total >= k:
                break
        picked = np.unique(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)
        if len(picked) > k:  # the last passage overflows the budget: keep the passages' best-ranked part
            picked = np.sort(np.concatenate(chosen)[:k])
        elif len(picked) < k:  # fewer scoring passages than budget: fill in document order
            rest = np.setdiff1d(np.arange(n), picked)[: k - len(picked)]
            picked = np.sort(np.concatenate([picked, rest]))
        return picked.astype(np.int64)

    def _ablation_select(self, document, enc: EncodedDocument, batch, k: int) -> torch.Tensor | None:
        """(B, k) kept tokens of the random / BM25 ablations, or None for the learned pruning."""
        if self.selection in ("learned", "unpinned") or k >= enc.states.shape[0]:
            return None
        return torch.as_tensor(np.stack([self._select(document, enc, q, k) for q in batch]))

    # ---- answers --------------------------------------------------------------------------------------
    def passage(self, document: ReaderDocument, start: int, end: int) -> tuple[int, int]:
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

    @torch.inference_mode()
    def answer(
        self,
        document: ReaderDocument,
        queries: Sequence[Query],
        top_k: int = 3,
        progress: Callable[[float], None] | None = None,
    ) -> list[list[Answer]]:
        if progress:
            progress(0.0)
        by_phrase = [self._has_phrase(q) for q in queries]
        by_lexical = [
            self.is_clause_query(q) and not self._has_probe(q) and not p
            for q, p in zip(queries, by_phrase, strict=True)
        ]
        out: dict[int, list[Answer]] = {}
        phrase_idx = [i for i, p in enumerate(by_phrase) if p]
        if phrase_idx:  # short-answer contract fields (names, title, dates): the phrase head, no encoder pass
            found = self._phrase_answers(document, [queries[i] for i in phrase_idx], top_k)
            out.update(zip(phrase_idx, found, strict=True))
        lexical_idx = [i for i, c in enumerate(by_lexical) if c]
        if lexical_idx:  # contract fields without a clause head: the BM25 clause ranking, no encoder pass
            lex = self.lexical
            lex.answer_threshold = self.answer_threshold
            found = lex.answer(document, [queries[i] for i in lexical_idx], top_k)
            out.update(zip(lexical_idx, found, strict=True))
        rest = [i for i in range(len(queries)) if not by_lexical[i] and not by_phrase[i]]
        if rest:
            enc = self.encode(document, (lambda f: progress(0.7 * f)) if progress else None)
            if enc.states.shape[0] == 0:
                out.update((i, [Answer(text=None, score=0.0)]) for i in rest)
            else:
                clause_idx = [i for i in rest if self.is_clause_query(queries[i])]
                found = self._clause_answers(document, enc, [queries[i] for i in clause_idx], top_k)
                out.update(zip(clause_idx, found, strict=True))
                span_idx = [i for i in rest if not self.is_clause_query(queries[i])]
                found = self._span_answers(document, enc, [queries[i] for i in span_idx], top_k, progress)
                out.update(zip(span_idx, found, strict=True))
        if progress:
            progress(1.0)
        return [out[i] for i in range(len(queries))]

    @property
    def lexical(self):
        """The reader's own lexical reader (BM25 index cache; the BM25 ablation and contract fields)."""
        if self._lexical is None:
            from .lexical import LexicalReader

            self._lexical = LexicalReader.default()
        return self._lexical

    def _has_phrase(self, query: Query) -> bool:
        return (
            self.phrase_head is not None and self.phrase_head.has(query.key) and self.is_clause_query(query)
        )

    def _has_probe(self, query: Query) -> bool:
        return self.clause_head is not None and self.clause_head.has(query.key)

    def is_clause_query(self, query: Query) -> bool:
        if not query.key:
            return False
        if self._clause_keys is None:
            from .schemas import load_schema

            self._clause_keys = {q.key for q in load_schema("contract")}
        return query.key in self._clause_keys

    def clause_features(self, enc: EncodedDocument) -> np.ndarray:
        """The clause head's query-independent segment features (after ``segment_index``), cached."""
        from longctx.model.clause_head import shared_features

        if enc.clause_features is None:
            enc.clause_features = shared_features(enc.seg_emb, enc.ranges, enc.segments)
        return enc.clause_features

    def _clause_answers(self, document: ReaderDocument, enc: EncodedDocument, queries, top_k: int):
        from longctx.model.clause_head import field_features

        if not queries:
            return []
        lex = self.lexical
        idx = self.segment_index(document, enc)
        segs = enc.segments
        shared = self.clause_features(enc) if segs else None
        results = []
        for q in queries:
            if not segs:
                results.append([Answer(text=None, score=0.0)])
                continue
            r = lex.rank(idx, q)
            best = self.clause_head.ranked(q.key, shared, field_features(r.own, r.score, r.ceiling), top_k)
            results.append(self._answers(document, [(segs[i].start, segs[i].end, c) for i, c in best], top_k))
        return results

    def _phrase_answers(self, document: ReaderDocument, queries, top_k: int) -> list[list[Answer]]:
        """Short-answer fields: the phrase head scores the document's phrase candidates; answers with the
        same words (a name repeated through the contract) are one answer, at its best-scored occurrence.
        Answers may overlap: the preamble sentence naming both parties, then each name on its own."""
        from longctx.model.phrase_head import candidates, features, ranked_phrases

        lex = self.lexical
        idx = lex.index(document)
        cands = candidates(document.text, idx.segments)
        results = []
        for q in queries:
            if not len(cands):
                results.append([Answer(text=None, score=0.0)])
                continue
            r = lex.rank(idx, q)
            x = features(document.text, idx.segments, cands, r.own, r.score, r.ceiling, lex.query_weights(q))
            ranked = ranked_phrases(self.phrase_head.probabilities(q.key, x), cands, top_k)
            results.append(self._answers(document, ranked, top_k, overlapping=True))
        return results

    def segment_index(self, document: ReaderDocument, enc: EncodedDocument):
        """The lexical index of the document, with its segments' token ranges and embeddings on ``enc``."""
        from longctx.model.clause_head import segment_embeddings, segment_token_ranges

        idx = self.lexical.index(document)
        if enc.segments is None:
            enc.segments = idx.segments
            enc.ranges = segment_token_ranges(enc.offsets, idx.segments)
            enc.seg_emb = segment_embeddings(enc.states.float().cpu(), enc.ranges)
            seg_starts = np.array([sg.start for sg in idx.segments], dtype=np.int64)
            tok_seg = np.searchsorted(seg_starts, enc.offsets[:, 0], side="right") - 1
            enc.token_segment = np.clip(tok_seg, 0, max(len(seg_starts) - 1, 0))
        return idx

    def _query_rows(self, batch: Sequence[Query]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = [query_ids(query_text(q), self.model.cfg.max_query_len) for q in batch]
        width = max(len(r) for r in rows)
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, : len(r)] = 1
        return ids, mask

    def _pins(self, enc: EncodedDocument, lexical_scores, cosines, k: int) -> torch.Tensor:
        """(B, N) tokens of each query's best BM25 and best embedding-cosine sentences, at most k / 2."""
        n = enc.states.shape[0]
        pins = torch.zeros(len(cosines), n, dtype=torch.bool)
        for b, (lex_score, cos) in enumerate(zip(lexical_scores, cosines, strict=True)):
            best = [int(i) for i in np.argsort(-lex_score, kind="stable")[:PIN_PASSAGES] if lex_score[i] > 0]
            best += [int(i) for i in np.argsort(-cos, kind="stable")[:PIN_PASSAGES]]
            budget = k // 2
            for i in dict.fromkeys(best):
                lo, hi = (int(x) for x in enc.ranges[i])
                hi = min(hi, lo + budget)
                if hi > lo:
                    pins[b, lo:hi] = True
                    budget -= hi - lo
                if budget <= 0:
                    break
        return pins

    @torch.inference_mode()
    def span_candidates(
        self, document: ReaderDocument, enc: EncodedDocument, queries: Sequence[Query], progress=None
    ):
        """Per query: (candidates, their answer-ranker features) -- one best span per sentence, best first."""
        from longctx.model.answer_ranker import best_span_per_segment, candidate_features
        from longctx.model.clause_head import query_embedding
        from longctx.model.pruning import keep_count

        idx = self.segment_index(document, enc)
        n = enc.states.shape[0]
        k = keep_count(n, self.rho)
        per_batch = max(1, QUERY_BATCH_TOKENS // max(n, 1))
        out_rows = []
        for b0 in range(0, len(queries), per_batch):
            batch = list(queries[b0 : b0 + per_batch])
            ids, mask = self._query_rows(batch)
            q_states = self.model.encode_query(ids, mask).float().cpu()
            cosines = [
                (enc.seg_emb @ query_embedding(q_states[i], mask[i])).numpy() for i in range(len(batch))
            ]
            rankings = [self.lexical.rank(idx, q) for q in batch]
            select = self._ablation_select(document, enc, batch, k)
            pins = None
            if select is None and k < n and self.selection == "learned":
                pins = self._pins(enc, [r.score for r in rankings], cosines, k)
            out = self.model(
                ids, mask, doc_states=enc.states, rho=self.rho, select_index=select, pin_mask=pins
            )
            for i in range(len(batch)):
                na = 2.0 * float(out.no_answer_logit[i])
                cands = best_span_per_segment(
                    out.start_logits[i].cpu(),
                    out.end_logits[i].cpu(),
                    out.kept_index[i].cpu(),
                    enc.token_segment,
                    self.max_span_len,
                    CANDIDATES,
                )
                r = rankings[i]
                feats = candidate_features(cands, na, r.own, r.score, r.ceiling, cosines[i])
                out_rows.append((cands, feats, na))
            if progress:
                progress(min(b0 + per_batch, len(queries)) / len(queries))
        return out_rows

    def _span_answers(self, document, enc, queries, top_k, progress) -> list[list[Answer]]:
        step = (lambda f: progress(0.7 + 0.3 * f)) if progress else None
        if self.answer_ranker is None:
            return self._decoded_answers(document, enc, queries, top_k, step)
        results = []
        for cands, feats, _na in self.span_candidates(document, enc, queries, step):
            if not cands:
                results.append([Answer(text=None, score=0.0)])
                continue
            probs = self.answer_ranker.probabilities(feats)
            ranked = []
            for c, p in zip(cands, probs, strict=True):
                seg = enc.segments[c.segment]  # the ranker judged the sentence: answer with all of it
                cs, ce = int(enc.offsets[c.token_start, 0]), int(enc.offsets[c.token_end, 1])
                ranked.append((min(seg.start, cs), max(seg.end, ce), float(p)))
            ranked.sort(key=lambda t: -t[2])
            results.append(self._answers(document, ranked, top_k))
        return results

    def _decoded_answers(self, document, enc, queries, top_k, progress) -> list[list[Answer]]:
        """Without an answer ranker: the span head's best spans, scored sigmoid(span - no answer)."""
        from longctx.model.pruning import keep_count

        n = enc.states.shape[0]
        results: list[list[Answer]] = []
        model = self.model
        per_batch = max(1, QUERY_BATCH_TOKENS // max(n, 1))
        k = keep_count(n, self.rho)
        for b0 in range(0, len(queries), per_batch):
            batch = list(queries[b0 : b0 + per_batch])
            ids, mask = self._query_rows(batch)
            select = self._ablation_select(document, enc, batch, k)
            out = model(ids, mask, doc_states=enc.states, rho=self.rho, select_index=select)
            decoded = model.decode_spans(out, max_span_len=self.max_span_len, top_n=max(8, 4 * top_k))
            for dec in decoded:
                spans = [
                    (int(enc.offsets[ts, 0]), int(enc.offsets[te, 1]), _sigmoid(sc - dec.no_answer_score))
                    for ts, te, sc in dec.spans
                ]
                results.append(self._answers(document, spans, top_k))
            if progress:
                progress(min(b0 + per_batch, len(queries)) / len(queries))
        return results

    def _answers(self, document: ReaderDocument, spans, top_k: int, overlapping: bool = False):
        """Answers from (char_start, char_end, confidence) best first: the top_k spans at or above
        ``answer_threshold`` (non-overlapping unless ``overlapping``), or one no-answer entry holding the
        best confidence."""
        text = document.text
        answers: list[Answer] = []
        taken: list[tuple[int, int]] = []
        best = 0.0
        for cs, ce, conf in spans:
            best = max(best, conf)
            if conf < self.answer_threshold or len(answers) >= max(1, top_k):
                continue
            if ce <= cs or (not overlapping and any(cs < e and s < ce for s, e in taken)):
                continue
            taken.append((cs, ce))
            ps, pe = self.passage(document, cs, ce)
            answers.append(
                Answer(
                    text=text[cs:ce],
                    score=round(conf, 6),
                    char_start=cs,
                    char_end=ce,
                    page=document.page_for_offset(cs),
                    passage=text[ps:pe],
                    passage_start=ps,
                )
            )
        return answers or [Answer(text=None, score=round(best, 6))]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))


__all__ = ["SELECTIONS", "NeuralReader", "query_text"]
