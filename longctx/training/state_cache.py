"""Frozen-encoder training: each document's local-encoder token states, computed once and reused.

With ``freeze_local`` the local encoder is not trained, so a document's token states (N, H) are a pure
function of its text and the chunk layout. On CPU the encoder is >90% of a training step's cost, while a
CUAD contract serves 41 queries and a pooled needle document many epochs: encoding each text once makes
CPU training feasible. States live in memory (LRU, bounded in bytes) and on disk as fp16 safetensors keyed
by sha256 of (text, chunk size, overlap), so a resumed run does not encode again. They are the states of
the whole document, chunked from its first token as the reader does at inference; a crop is a slice.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path

import torch
from torch import Tensor

from longctx.model.tokenization import chunk_layout, load_tokenizer, tokenize_text


class StateCache:
    def __init__(
        self,
        model,
        directory: str | Path | None = None,
        *,
        chunk_size: int = 510,
        overlap: int = 0,
        max_bytes: int = 4 << 30,
    ) -> None:
        self.model = model
        self.dir = Path(directory) if directory else None
        if self.dir:
            self.dir.mkdir(parents=True, exist_ok=True)
        self.chunk_size = chunk_size
        self.overlap = overlap
        self.max_bytes = max_bytes
        self._mem: OrderedDict[str, Tensor] = OrderedDict()
        self._bytes = 0
        self.encoded_tokens = 0  # tokens run through the encoder by this cache (not loaded)
        self.hits = 0

    def key(self, text: str) -> str:
        h = hashlib.sha256(f"{self.chunk_size}|{self.overlap}|".encode())
        h.update(text.encode("utf-8", "surrogatepass"))
        return h.hexdigest()

    def _path(self, key: str) -> Path | None:
        return self.dir / f"{key}.safetensors" if self.dir else None

    def has(self, text: str) -> bool:
        key = self.key(text)
        path = self._path(key)
        return key in self._mem or (path is not None and path.exists())

    def put(self, text: str, states: Tensor) -> None:
        """Store states computed elsewhere (batched encoding of many short texts)."""
        key = self.key(text)
        t = states.to("cpu", torch.float16).contiguous()
        path = self._path(key)
        if path is not None:
            from safetensors.torch import save_file

            tmp = path.with_name(path.name + ".tmp")
            save_file({"states": t}, str(tmp))
            tmp.replace(path)
        self._remember(key, t)

    def states(self, text: str) -> Tensor:
        """(N, H) fp16 token states of the whole ``text`` (CPU tensor)."""
        key = self.key(text)
        t = self._mem.get(key)
        if t is not None:
            self._mem.move_to_end(key)
            self.hits += 1
            return t
        path = self._path(key)
        if path is not None and path.exists():
            from safetensors.torch import load_file

            t = load_file(str(path))["states"]
            self.hits += 1
        else:
            t = self._encode(text)
            if path is not None:
                from safetensors.torch import save_file

                tmp = path.with_name(path.name + ".tmp")
                save_file({"states": t}, str(tmp))
                tmp.replace(path)
        self._remember(key, t)
        return t

    @torch.inference_mode()
    def _encode(self, text: str) -> Tensor:
        tok = load_tokenizer()
        doc = tokenize_text(text, tok)
        layout = chunk_layout(doc, self.chunk_size, self.overlap, tok)
        was = self.model.local.training
        self.model.local.eval()
        try:
            states = self.model.encode_document(layout)
        finally:
            self.model.local.train(was)
        self.encoded_tokens += len(doc)
        return states.to("cpu", torch.float16).contiguous()

    def _remember(self, key: str, t: Tensor) -> None:
        self._mem[key] = t
        self._bytes += t.numel() * t.element_size()
        while self._bytes > self.max_bytes and len(self._mem) > 1:
            _, old = self._mem.popitem(last=False)
            self._bytes -= old.numel() * old.element_size()


__all__ = ["StateCache"]
