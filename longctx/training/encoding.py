"""Frozen local-encoder states for training, computed in batches and cached.

With the local encoder frozen, a text's token states are a pure function of the text, so they are computed
once: whole documents (CUAD contracts, SQuAD paragraphs, TAT-QA excerpts, generated contracts) through
`StateCache` (disk, fp16), and the short windows around inserted needle sentences here, many at a time.
Short texts are packed as rows of their own length (not padded to 512), which is what makes encoding a few
thousand windows per minute affordable on a CPU.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from longctx.model.tokenization import chunk_layout, load_tokenizer, special_ids, tokenize_text

ROW_TOKENS = 510


@torch.inference_mode()
def encode_texts(model, texts: list[str], batch_tokens: int = 16384) -> list[tuple[Tensor, np.ndarray]]:
    """(states (n, H) fp16 on CPU, token offsets (n, 2)) for each text, as the reader would encode it."""
    tok = load_tokenizer()
    sp = special_ids(tok)
    docs = [tokenize_text(t, tok) for t in texts]
    out: list[tuple[Tensor, np.ndarray] | None] = [None] * len(texts)
    short = []
    for i, d in enumerate(docs):
        if len(d) == 0:
            out[i] = (torch.zeros(0, model.cfg.hidden, dtype=torch.float16), np.zeros((0, 2), np.int64))
        elif len(d) > ROW_TOKENS:
            layout = chunk_layout(d, ROW_TOKENS, 0, tok)
            states = model.encode_document(layout)
            out[i] = (states.to("cpu", torch.float16), np.asarray(d.offsets))
        else:
            short.append(i)
    short.sort(key=lambda i: len(docs[i]))
    batch: list[int] = []

    def flush() -> None:
        if not batch:
            return
        width = len(docs[batch[-1]]) + 2
        ids = torch.full((len(batch), width), sp["[PAD]"], dtype=torch.long)
        mask = torch.zeros(len(batch), width, dtype=torch.long)
        for r, i in enumerate(batch):
            n = len(docs[i])
            ids[r, 0] = sp["[CLS]"]
            ids[r, 1 : 1 + n] = torch.as_tensor(docs[i].ids, dtype=torch.long)
            ids[r, 1 + n] = sp["[SEP]"]
            mask[r, : n + 2] = 1
        states = model.local(ids.to(model.device), mask.to(model.device)).to("cpu", torch.float16)
        for r, i in enumerate(batch):
            out[i] = (states[r, 1 : 1 + len(docs[i])].clone(), np.asarray(docs[i].offsets))
        batch.clear()

    for i in short:
        if batch and (len(batch) + 1) * (len(docs[i]) + 2) > batch_tokens:
            flush()
        batch.append(i)
    flush()
    return out  # type: ignore[return-value]


__all__ = ["encode_texts"]
