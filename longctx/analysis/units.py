"""Reading units: the sentences and clauses the neural reader scores, keeps and cites, mapped onto tokens.

Units are the segments of `longctx.text.segment` (the same sentences the lexical reader ranks), except that
a segment longer than ``max_tokens`` reader tokens -- a statement table that the segmenter sees as one run
of lines, a clause without full stops -- is split at line breaks (else between tokens) into pieces of at
most ``max_tokens``. So every unit fits the global layers whole, and a cited unit of a table is a few rows,
not the whole table. Every token belongs to exactly one unit (tokens between segments join the one before),
in document order, which is what the evidence scorer's per-unit reductions need.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from longctx.text.segment import segment

MAX_UNIT_TOKENS = 128


@dataclass
class ReadingUnits:
    starts: np.ndarray  # (S,) char start of each unit
    ends: np.ndarray  # (S,) char end
    token_unit: np.ndarray  # (N,) unit of every token, non-decreasing
    token_ranges: np.ndarray  # (S, 2) [first, last + 1) tokens of each unit

    def __len__(self) -> int:
        return int(len(self.starts))

    def span(self, unit: int) -> tuple[int, int]:
        return int(self.starts[unit]), int(self.ends[unit])

    def units_overlapping(self, start: int, end: int) -> list[int]:
        """Units whose characters overlap [start, end)."""
        lo = int(np.searchsorted(self.ends, start, side="right"))
        out = []
        for u in range(lo, len(self)):
            if self.starts[u] >= end:
                break
            if self.starts[u] < end and start < self.ends[u]:
                out.append(u)
        return out


def _split_long(text: str, offsets: np.ndarray, lo_tok: int, hi_tok: int, max_tokens: int) -> list[int]:
    """Token indices (within [lo_tok, hi_tok)) where new units start, preferring line breaks."""
    cuts = []
    start = lo_tok
    while hi_tok - start > max_tokens:
        limit = start + max_tokens
        best = None
        # the last token in (start, limit] that begins a new line
        for t in range(limit, start, -1):
            a = int(offsets[t - 1, 1])
            b = int(offsets[t, 0])
            if "\n" in text[a:b]:
                best = t
                break
        cut = best if best is not None and best - start >= max_tokens // 4 else limit
        cuts.append(cut)
        start = cut
    return cuts


def reading_units(text: str, offsets: np.ndarray, max_tokens: int = MAX_UNIT_TOKENS) -> ReadingUnits:
    """Units of ``text`` given its token character offsets (N, 2)."""
    offsets = np.asarray(offsets).reshape(-1, 2)
    n = len(offsets)
    segs = segment(text)
    if n == 0:
        return ReadingUnits(
            np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 2), np.int64)
        )
    tok_starts = offsets[:, 0]
    seg_starts = np.array([s.start for s in segs], dtype=np.int64) if segs else np.zeros(1, dtype=np.int64)
    seg_of_tok = np.clip(np.searchsorted(seg_starts, tok_starts, side="right") - 1, 0, None)
    # token ranges of the segments that own at least one token
    boundaries = np.flatnonzero(np.diff(seg_of_tok)) + 1
    firsts = np.concatenate([[0], boundaries]).astype(np.int64)
    lasts = np.concatenate([boundaries, [n]]).astype(np.int64)
    unit_first: list[int] = []
    for lo, hi in zip(firsts.tolist(), lasts.tolist(), strict=True):
        unit_first.append(lo)
        if hi - lo > max_tokens:
            unit_first.extend(_split_long(text, offsets, lo, hi, max_tokens))
    first = np.array(unit_first, dtype=np.int64)
    last = np.concatenate([first[1:], [n]]).astype(np.int64)
    token_unit = np.repeat(np.arange(len(first), dtype=np.int64), last - first)
    starts = offsets[first, 0].astype(np.int64)
    ends = offsets[last - 1, 1].astype(np.int64)
    # a unit that is a whole segment keeps the segment's own character span (trimmed sentence)
    if segs:
        seg_id = seg_of_tok[first]
        whole = (first == firsts[np.searchsorted(firsts, first, side="right") - 1]) & (
            last == lasts[np.searchsorted(firsts, first, side="right") - 1]
        )
        for u in np.flatnonzero(whole).tolist():
            s = segs[int(seg_id[u])]
            starts[u] = min(starts[u], s.start)
            ends[u] = max(ends[u], s.end)
    return ReadingUnits(starts, ends, token_unit, np.stack([first, last], axis=1))


__all__ = ["MAX_UNIT_TOKENS", "ReadingUnits", "reading_units"]
