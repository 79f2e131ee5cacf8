"""Needle examples built in token space on cached haystack states: only the needles' surroundings are encoded.

With a frozen local encoder a needle document's states equal the haystack's states everywhere except near
the needles (the encoder sees one 510-token chunk at a time). So a fresh needle example costs one short
encoder pass per needle instead of a pass over the whole document: the haystack (CUAD contracts of the
training split) is encoded once through :class:`~longctx.training.state_cache.StateCache`, and each needle is
encoded together with ``context`` haystack tokens on either side, which replace the haystack states there.
Every example is new (no pool to overfit), lengths cost only the upper layers, and the labels are exact:
answer tokens (span targets) and the whole sentences of the needles that hold an answer (keep targets, the
evidence the global layers need to tell a key from its distractors).

Differences from :func:`~longctx.datasets.needles.make_needle_example` (used for evaluation): a needle's
local context is ``context`` tokens each side instead of its full chunk, and chunk boundaries follow the
haystack's. The needle plan (keys, values, distractors, chains) is the same code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from longctx.datasets.needles import DOC_SEPARATOR, TASKS, plan_task
from longctx.model.tokenization import load_tokenizer, special_ids, tokenize_text

SENTENCE_END = (".", ";", ":", "?", "!")


@dataclass(frozen=True)
class NeedleRequest:
    """What a training index asks for; the splicer turns it into states and labels."""

    task: str
    length: int  # haystack tokens
    depth: float
    seed: int


@dataclass
class SplicedNeedle:
    query: str
    states: Tensor  # (N, H) float32
    spans: list[tuple[int, int]]  # answer token spans (inclusive)
    evidence: list[tuple[int, int]]  # token spans (inclusive) of the needle sentences holding answers
    task: str
    ids: np.ndarray  # (N,) token ids (for inspection and tests)

    @property
    def n_tokens(self) -> int:
        return int(self.states.shape[0])


class NeedleSplicer:
    def __init__(self, model, cache, haystack: tuple[str, ...], context: int = 48) -> None:
        if not haystack:
            raise ValueError("empty haystack")
        self.model = model
        self.cache = cache
        self.haystack = haystack
        self.context = context
        self.tok = load_tokenizer()
        sp = special_ids(self.tok)
        self.cls, self.sep, self.pad = sp["[CLS]"], sp["[SEP]"], sp["[PAD]"]
        self.end_ids = np.array([self.tok.token_to_id(p) for p in SENTENCE_END], dtype=np.int64)

    @lru_cache(maxsize=64)  # noqa: B019 (one splicer per run; bounded)
    def _contract(self, i: int) -> tuple[np.ndarray, np.ndarray, str]:
        text = self.haystack[i]
        doc = tokenize_text(text, self.tok)
        return np.asarray(doc.ids, dtype=np.int64), np.asarray(doc.offsets), text

    def _hay(self, first: int, length: int, skip: int = 0):
        """Token ids, char offsets into the joined text, the joined text and states of ``length`` tokens
        starting ``skip`` tokens into contract ``first`` (then the next contracts, cycling)."""
        ids, offs, texts, states = [], [], [], []
        base, total, i = 0, 0, first
        while total < length + skip:
            c_ids, c_offs, text = self._contract(i % len(self.haystack))
            if len(c_ids):
                ids.append(c_ids)
                offs.append(c_offs + base)
                states.append(self.cache.states(text))
                total += len(c_ids)
            texts.append(text)
            base += len(text) + len(DOC_SEPARATOR)
            i += 1
            if i - first > len(self.haystack):
                raise ValueError("haystack too short")
        a, b = skip, skip + length
        return (
            np.concatenate(ids)[a:b],
            np.concatenate(offs)[a:b],
            DOC_SEPARATOR.join(texts),
            torch.cat(states)[a:b].float(),
        )

    @torch.inference_mode()
    def _encode_rows(self, rows: list[list[int]]) -> list[Tensor]:
        width = max(len(r) for r in rows) + 2
        ids = torch.full((len(rows), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, r in enumerate(rows):
            ids[j, : len(r) + 2] = torch.tensor([self.cls, *r, self.sep])
            mask[j, : len(r) + 2] = 1
        was = self.model.local.training
        self.model.local.eval()
        try:
            out = self.model.local(ids.to(self.model.device), mask.to(self.model.device)).float().cpu()
        finally:
            self.model.local.train(was)
        return [out[j, 1 : 1 + len(r)] for j, r in enumerate(rows)]

    def make(self, req: NeedleRequest) -> SplicedNeedle:
        if req.task not in TASKS:
            raise ValueError(f"unknown task {req.task!r}")
        rng = random.Random(f"spliced|{req.task}|{req.seed}")
        first = rng.randrange(len(self.haystack))
        question, needles = plan_task(req.task, rng, req.depth, 3, 4, 3, 4, 2)
        first_len = len(self._contract(first)[0])
        skip = rng.randrange(max(1, first_len - 256)) if rng.random() < 0.7 else 0
        ids, offs, text, states = self._hay(first, req.length, skip)
        n = len(ids)
        bounds = np.concatenate([[0], np.nonzero(np.isin(ids, self.end_ids))[0] + 1, [n]])
        bounds = np.unique(bounds[(bounds >= 0) & (bounds <= n)])

        def snap(d: float) -> int:
            t = d * n
            return int(bounds[np.argmin(np.abs(bounds - t))])

        pos = [snap(nd.depth) for nd in needles]
        last: dict[int, int] = {}
        for i, nd in enumerate(needles):  # variable-tracking chains keep their order
            if nd.chain is not None:
                pos[i] = max(pos[i], last.get(nd.chain, 0))
                last[nd.chain] = pos[i]
        groups: dict[int, list[int]] = {}
        for i in sorted(range(len(needles)), key=lambda i: (pos[i], needles[i].order)):
            groups.setdefault(pos[i], []).append(i)
        points = sorted(groups)

        c = self.context
        pieces = []  # (left, right, piece ids, [(needle index, token span, answer token spans)])
        prev_right = 0
        for gi, p in enumerate(points):
            left = max(p - c, prev_right)
            right = min(p + c, points[gi + 1] if gi + 1 < len(points) else n)
            pre = text[offs[left, 0] : offs[p - 1, 1]] if p > left else ""
            post = text[offs[p, 0] : offs[right - 1, 1]] if right > p else ""
            body, marks = pre + (" " if pre else ""), []
            for i in groups[p]:
                s0 = len(body)
                body += needles[i].sentence + " "
                marks.append((i, s0, [(s0 + a, s0 + b) for a, b in needles[i].answer_parts]))
            body += post
            enc = self.tok.encode(body, add_special_tokens=False)
            p_ids = list(enc.ids)
            p_off = np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2)
            if len(p_ids) > 510:  # long context: keep the needles, cut the far right
                p_ids, p_off = p_ids[:510], p_off[:510]

            def tok_span(a: int, b: int, p_off=p_off) -> tuple[int, int] | None:
                lo = int(np.searchsorted(p_off[:, 1], a, side="right"))
                hi = int(np.searchsorted(p_off[:, 0], b, side="left")) - 1
                return (lo, hi) if lo <= hi else None

            labels = []
            for i, s0, parts in marks:
                sent = tok_span(s0, s0 + len(needles[i].sentence))
                labels.append((i, sent, [t for a, b in parts if (t := tok_span(a, b)) is not None]))
            pieces.append((left, right, p_ids, labels))
            prev_right = right

        encoded = self._encode_rows([pc[2] for pc in pieces])
        parts: list[Tensor] = []
        id_parts: list[np.ndarray] = []
        spans: list[tuple[int, int]] = []
        evidence: list[tuple[int, int]] = []
        cursor = length = 0
        for (left, right, p_ids, labels), st in zip(pieces, encoded, strict=True):
            parts.append(states[cursor:left])
            id_parts += [ids[cursor:left], np.asarray(p_ids, dtype=np.int64)]
            length += left - cursor
            for _i, sent, answer_spans in labels:
                if answer_spans and sent is not None:
                    evidence.append((length + sent[0], length + sent[1]))
                spans.extend((length + a, length + b) for a, b in answer_spans)
            parts.append(st)
            length += len(p_ids)
            cursor = right
        parts.append(states[cursor:])
        id_parts.append(ids[cursor:])
        return SplicedNeedle(
            question, torch.cat(parts), sorted(spans), sorted(evidence), req.task, np.concatenate(id_parts)
        )


def spliced_batch(ex: SplicedNeedle, max_query_len: int):
    """The training batch of a spliced example (its states are passed separately)."""
    from .batching import labelled_batch

    keep = [*ex.evidence, *ex.spans]
    return labelled_batch(ex.query, max_query_len, ex.n_tokens, ex.spans, keep, None, 0, f"needle:{ex.task}")


__all__ = ["NeedleRequest", "NeedleSplicer", "SplicedNeedle", "spliced_batch"]
