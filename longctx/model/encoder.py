"""A BERT-style bidirectional encoder (MiniLM-L6 class): post-LayerNorm, GELU, learned absolute positions.

This is the reader's *local* encoder: it runs over fixed-size chunks (``[CLS] t_i .. t_j [SEP] [PAD]...``) and
never sees the query, so a document's token states can be computed once and cached. The module layout is our
own; :mod:`longctx.model.pretrained` maps the all-MiniLM-L6-v2 tensor names onto it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class EncoderConfig:
    vocab_size: int = 30522
    hidden: int = 384
    layers: int = 6
    heads: int = 12
    intermediate: int = 1536
    max_positions: int = 512
    type_vocab: int = 2
    ln_eps: float = 1e-12
    dropout: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class Embeddings(nn.Module):
    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        self.word = nn.Embedding(cfg.vocab_size, cfg.hidden)
        self.position = nn.Embedding(cfg.max_positions, cfg.hidden)
        self.token_type = nn.Embedding(cfg.type_vocab, cfg.hidden)
        self.norm = nn.LayerNorm(cfg.hidden, eps=cfg.ln_eps)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        t = input_ids.shape[-1]
        if t > self.position.num_embeddings:
            raise ValueError(f"sequence of {t} tokens exceeds max_positions={self.position.num_embeddings}")
        pos = torch.arange(t, device=input_ids.device)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = self.word(input_ids) + self.position(pos) + self.token_type(token_type_ids)
        return self.drop(self.norm(x))


class SelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError("hidden must be divisible by heads")
        self.heads = heads
        self.head_dim = hidden // heads
        self.q = nn.Linear(hidden, hidden)
        self.k = nn.Linear(hidden, hidden)
        self.v = nn.Linear(hidden, hidden)
        self.o = nn.Linear(hidden, hidden)
        self.dropout = dropout

    def _split(self, x: Tensor) -> Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: Tensor, key_mask: Tensor | None = None) -> Tensor:
        """x (B, T, H); key_mask (B, T) bool, True = real token."""
        q, k, v = self._split(self.q(x)), self._split(self.k(x)), self._split(self.v(x))
        attn_mask = None if key_mask is None else key_mask[:, None, None, :]
        p = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=p)
        b, _, t, _ = out.shape
        return self.o(out.transpose(1, 2).reshape(b, t, -1))


class EncoderLayer(nn.Module):
    """Post-LN transformer layer: x = LN(x + Attn(x)); x = LN(x + FFN(x))."""

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        self.attn = SelfAttention(cfg.hidden, cfg.heads, cfg.dropout)
        self.attn_norm = nn.LayerNorm(cfg.hidden, eps=cfg.ln_eps)
        self.ffn_in = nn.Linear(cfg.hidden, cfg.intermediate)
        self.ffn_out = nn.Linear(cfg.intermediate, cfg.hidden)
        self.ffn_norm = nn.LayerNorm(cfg.hidden, eps=cfg.ln_eps)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, key_mask: Tensor | None = None) -> Tensor:
        x = self.attn_norm(x + self.drop(self.attn(x, key_mask)))
        h = self.ffn_out(F.gelu(self.ffn_in(x)))
        return self.ffn_norm(x + self.drop(h))


class BertEncoder(nn.Module):
    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embeddings = Embeddings(cfg)
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.layers))
        self.apply(_init_weights)

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor | None = None, token_type_ids: Tensor | None = None
    ) -> Tensor:
        """input_ids (B, T) -> hidden states (B, T, H). attention_mask (B, T): nonzero = real token."""
        key_mask = None if attention_mask is None else attention_mask.bool()
        x = self.embeddings(input_ids, token_type_ids)
        for layer in self.layers:
            x = layer(x, key_mask)
        return x


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Embedding):
        nn.init.normal_(m.weight, std=0.02)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def mean_pool(states: Tensor, attention_mask: Tensor, normalize: bool = True) -> Tensor:
    """Mean of the real tokens' states (sentence-transformers pooling), L2-normalised when asked."""
    m = attention_mask.to(states.dtype).unsqueeze(-1)
    pooled = (states * m).sum(-2) / m.sum(-2).clamp_min(1e-9)
    return F.normalize(pooled, dim=-1) if normalize else pooled


__all__ = ["BertEncoder", "EncoderConfig", "EncoderLayer", "SelfAttention", "mean_pool"]
