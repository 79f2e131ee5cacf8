"""Tokenization with character offsets, and the fixed-size chunk layout the reader consumes.

Every token keeps the [start, end) character span it came from in the document text, so a span the reader
picks maps back to characters, and from there (via the page table) to a page. The tokenizer is the
reader's own WordPiece vocabulary, shipped in the package and checked against its recorded sha256.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

TOKENIZER_DIR = Path(__file__).resolve().parent / "tokenizer"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
# Texts are encoded in pieces of about this many characters, cut at whitespace: the WordPiece
# pre-tokenizer splits on whitespace anyway, so the cut changes no token, and memory stays bounded.
SEGMENT_CHARS = 200_000


class TokenizerIntegrityError(RuntimeError):
    pass


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=4)
def load_tokenizer(path: Path | None = None, expected_sha256: str | None = TOKENIZER_SHA256) -> Tokenizer:
    """The reader's tokenizer, with truncation and padding off (documents are long; chunking is ours)."""
    path = Path(path) if path is not None else TOKENIZER_DIR / "tokenizer.json"
    if expected_sha256 is not None and file_sha256(path) != expected_sha256:
        raise TokenizerIntegrityError(f"{path}: sha256 differs from the recorded {expected_sha256}")
    tok = Tokenizer.from_file(str(path))
    tok.no_truncation()
    tok.no_padding()
    return tok


def special_ids(tok: Tokenizer) -> dict[str, int]:
    ids = {name: tok.token_to_id(name) for name in ("[CLS]", "[SEP]", "[PAD]", "[UNK]")}
    missing = [k for k, v in ids.items() if v is None]
    if missing:
        raise TokenizerIntegrityError(f"tokenizer lacks special tokens {missing}")
    return ids  # type: ignore[return-value]


@dataclass
class TokenizedDocument:
    """Token ids of a whole document and the character span of each token in the document text."""

    ids: np.ndarray  # (N,) int32
    offsets: np.ndarray  # (N, 2) int64, [start, end) char offsets into the document text

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def char_span(self, first_token: int, last_token: int) -> tuple[int, int]:
        """Characters covered by tokens first..last (inclusive)."""
        if not 0 <= first_token <= last_token < len(self):
            raise IndexError(f"token span {first_token}..{last_token} outside 0..{len(self) - 1}")
        return int(self.offsets[first_token, 0]), int(self.offsets[last_token, 1])

    def token_at_char(self, offset: int) -> int:
        """Index of the first token ending after `offset` (the token covering it, or the next one)."""
        return int(np.searchsorted(self.offsets[:, 1], offset, side="right"))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, ids=self.ids, offsets=self.offsets)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> TokenizedDocument:
        with np.load(path) as data:
            return cls(ids=data["ids"].astype(np.int32), offsets=data["offsets"].astype(np.int64))


def query_ids(query: str, max_len: int) -> list[int]:
    """The query row the reader reads: ``[CLS] q [SEP]``, q truncated so the row fits ``max_len``. One
    definition for training and inference, so the two cannot drift apart."""
    tok = load_tokenizer()
    sp = special_ids(tok)
    ids = tok.encode(query, add_special_tokens=False).ids[: max(max_len - 2, 0)]
    return [sp["[CLS]"], *ids, sp["[SEP]"]]


def _segments(text: str, size: int) -> list[tuple[int, str]]:
    """Cut text into pieces of about `size` chars, each cut just after a whitespace character."""
    out: list[tuple[int, str]] = []
    start = 0
    n = len(text)
    while start < n:
        end = min(start + size, n)
        if end < n:
            cut = max(text.rfind("\n", start, end), text.rfind(" ", start, end))
            if cut > start:
                end = cut + 1
        out.append((start, text[start:end]))
        start = end
    return out


def tokenize_text(text: str, tokenizer: Tokenizer | None = None) -> TokenizedDocument:
    """Tokenize a document of any length (no special tokens), keeping char offsets into `text`."""
    tok = tokenizer or load_tokenizer()
    pieces = _segments(text, SEGMENT_CHARS)
    ids_parts: list[np.ndarray] = []
    off_parts: list[np.ndarray] = []
    encodings = tok.encode_batch([p for _, p in pieces], add_special_tokens=False) if pieces else []
    for (base, _), enc in zip(pieces, encodings, strict=True):
        if not enc.ids:
            continue
        ids_parts.append(np.asarray(enc.ids, dtype=np.int32))
        off_parts.append(np.asarray(enc.offsets, dtype=np.int64) + base)
    if not ids_parts:
        return TokenizedDocument(np.zeros(0, np.int32), np.zeros((0, 2), np.int64))
    return TokenizedDocument(np.concatenate(ids_parts), np.concatenate(off_parts))


@dataclass
class ChunkLayout:
    """Document tokens laid out as fixed-size chunks `[CLS] t_i .. t_j [SEP] [PAD]...` for the local encoder.

    Chunks may overlap by `overlap` tokens so that no token sits at a chunk edge without context; each
    document token has one *owner* position (the chunk where it is farthest from an edge), used to gather
    one vector per token after encoding.
    """

    chunk_size: int  # content tokens per chunk (the row length is chunk_size + 2)
    overlap: int
    input_ids: np.ndarray  # (n_chunks, chunk_size + 2) int64
    attention_mask: np.ndarray  # (n_chunks, chunk_size + 2) int64, 1 on real tokens
    token_index: np.ndarray  # (n_chunks, chunk_size + 2) int64, document token index or -1
    owner_chunk: np.ndarray  # (N,) int64
    owner_pos: np.ndarray  # (N,) int64, column in the chunk row

    @property
    def n_chunks(self) -> int:
        return int(self.input_ids.shape[0])


def chunk_layout(
    doc: TokenizedDocument,
    chunk_size: int = 510,
    overlap: int = 0,
    tokenizer: Tokenizer | None = None,
) -> ChunkLayout:
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    if not 0 <= overlap < chunk_size:
        raise ValueError("overlap must be in [0, chunk_size)")
    sp = special_ids(tokenizer or load_tokenizer())
    n = len(doc)
    step = chunk_size - overlap
    starts = list(range(0, max(n - overlap, 1), step)) if n else []
    width = chunk_size + 2
    n_chunks = len(starts)
    input_ids = np.full((n_chunks, width), sp["[PAD]"], dtype=np.int64)
    mask = np.zeros((n_chunks, width), dtype=np.int64)
    index = np.full((n_chunks, width), -1, dtype=np.int64)
    owner_chunk = np.zeros(n, dtype=np.int64)
    owner_pos = np.zeros(n, dtype=np.int64)
    best_margin = np.full(n, -1, dtype=np.int64)
    for c, s in enumerate(starts):
        e = min(s + chunk_size, n)
        length = e - s
        input_ids[c, 0] = sp["[CLS]"]
        input_ids[c, 1 : 1 + length] = doc.ids[s:e]
        input_ids[c, 1 + length] = sp["[SEP]"]
        mask[c, : length + 2] = 1
        tok = np.arange(s, e)
        index[c, 1 : 1 + length] = tok
        pos = tok - s
        margin = np.minimum(pos, length - 1 - pos)
        better = margin > best_margin[s:e]
        owner_chunk[s:e][better] = c
        owner_pos[s:e][better] = pos[better] + 1
        best_margin[s:e][better] = margin[better]
    return ChunkLayout(chunk_size, overlap, input_ids, mask, index, owner_chunk, owner_pos)
