"""The long-context extractive reader: local encoder -> evidence scorer (pruning) -> global encoder -> heads.

Shapes (one document of N tokens in S segments, B questions of Q tokens incl. [CLS]/[SEP]):

* ``encode_document(layout)``: chunks (n_chunks, C+2) -> local encoder -> token states (N, H), gathered at
  each token's owner position. Question-independent: computed once per document and reused.
* ``encode_query(ids, mask)``: the same local encoder over the question rows -> (B, Q, H).
* ``document(states, segment_of_token, S)`` / ``question(ids, mask)``: the evidence scorer's two sides
  (``longctx.model.evidence``); the document side is question-independent and cached with the states.
* ``score(doc, question)``: a keep-score per segment (B, S); ``select_segments`` keeps the best segments up to
  a token budget that never exceeds ``global_budget`` (the learned pruning, at sentence granularity).
* ``read(...)``: the global encoder over [question; kept tokens] (bidirectional, RoPE on *compact* positions:
  kept tokens are numbered in order with a gap between non-adjacent segments, so positions stay inside the
  range the layers were trained on whatever the document's length), then the heads: a logit per kept
  segment (is the answer here), a no-answer logit from [CLS], and start/end logits per kept token.

Why a bounded budget and compact positions: the global layers and heads then see the same kind of input at
4K and at 1M tokens (at most ``global_budget`` tokens, positions below ``global_budget`` plus the gaps), so
their behaviour cannot drift with length; the only length-dependent step is the evidence scorer's ranking,
which is a per-segment function (docs/model.md).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from longctx.attention import ring_attention
from longctx.model.encoder import BertEncoder, EncoderConfig
from longctx.model.evidence import DocSide, EvidenceScorer, QuerySide, SegmentScores
from longctx.model.parallel import StageDriver, sharded_global_stage
from longctx.model.rope import RotaryEmbedding, apply_rotary

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT = 2
N_TOKEN_FEATURES = 6


@dataclass
class ReaderConfig:
    # local encoder (MiniLM-L6 shape by default)
    vocab_size: int = 30522
    hidden: int = 384
    local_layers: int = 6
    heads: int = 12
    intermediate: int = 1536
    max_positions: int = 512
    type_vocab: int = 2
    ln_eps: float = 1e-12
    dropout: float = 0.0
    # evidence scorer (the pruning layer)
    evidence_dim: int = 128
    evidence_hidden: int = 32
    rho: float = 0.1  # kept share of a document's tokens ...
    min_budget: int = 512  # ... but at least this many tokens (short documents) ...
    global_budget: int = 1024  # ... and never more than this many: what the global layers are trained on
    max_segment_tokens: int = 160  # a kept segment contributes at most this many tokens
    segment_gap: int = 16  # position gap between non-adjacent kept segments
    # global encoder
    global_layers: int = 2
    global_heads: int = 12
    global_intermediate: int = 1536
    rope_base: float = 10000.0
    max_query_len: int = 96
    attention_backend: str = "auto"
    # inference
    chunk_batch: int = 16
    max_span_len: int = 64
    format: int = FORMAT

    def encoder_config(self) -> EncoderConfig:
        return EncoderConfig(
            vocab_size=self.vocab_size,
            hidden=self.hidden,
            layers=self.local_layers,
            heads=self.heads,
            intermediate=self.intermediate,
            max_positions=self.max_positions,
            type_vocab=self.type_vocab,
            ln_eps=self.ln_eps,
            dropout=self.dropout,
        )

    def budget(self, n_tokens: int, rho: float | None = None) -> int:
        """Kept tokens for a document of ``n_tokens``: rho of it, within [min_budget, global_budget]."""
        want = math.ceil((self.rho if rho is None else rho) * n_tokens)
        return max(1, min(n_tokens, self.global_budget, max(self.min_budget, want)))

    def max_position(self) -> int:
        """Largest position the global layers can see (query, kept tokens, gaps)."""
        return self.max_query_len + self.global_budget * (1 + self.segment_gap)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ReaderConfig:
        if d.get("format", 1) != FORMAT:
            raise ValueError(
                f"reader checkpoint format {d.get('format', 1)} is not {FORMAT} (this version reads "
                "evidence-scorer checkpoints; retrain or use the packaged checkpoint)"
            )
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown ReaderConfig keys: {sorted(unknown)}")
        return cls(**d)


class GlobalLayer(nn.Module):
    """Pre-LN bidirectional layer with RoPE; attention through the ring engine."""

    def __init__(self, cfg: ReaderConfig) -> None:
        super().__init__()
        h = cfg.hidden
        if h % cfg.global_heads:
            raise ValueError("hidden must be divisible by global_heads")
        self.heads = cfg.global_heads
        self.head_dim = h // cfg.global_heads
        self.backend = cfg.attention_backend
        self.attn_norm = nn.LayerNorm(h, eps=cfg.ln_eps)
        self.qkv = nn.Linear(h, 3 * h)
        self.o = nn.Linear(h, h)
        self.ffn_norm = nn.LayerNorm(h, eps=cfg.ln_eps)
        self.ffn_in = nn.Linear(h, cfg.global_intermediate)
        self.ffn_out = nn.Linear(cfg.global_intermediate, h)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(
        self,
        x: Tensor,
        cos: Tensor,
        sin: Tensor,
        key_mask: Tensor | None,
        group=None,
        shard_lengths: list[int] | None = None,
    ) -> Tensor:
        """``x`` is the whole sequence, or this rank's contiguous slice of it when ``group`` has several ranks
        (``shard_lengths``: every rank's slice length; see ``longctx.model.parallel``)."""
        b, t, h = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).view(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        out = ring_attention(
            q, k, v, group=group, key_padding_mask=key_mask, backend=self.backend, shard_lengths=shard_lengths
        )
        x = x + self.drop(self.o(out.transpose(1, 2).reshape(b, t, h)))
        return x + self.drop(self.ffn_out(nn.functional.gelu(self.ffn_in(self.ffn_norm(x)))))


@dataclass
class ReadOutput:
    segment_logits: Tensor  # (B, M) per kept segment, -inf on padding
    kept_segments: Tensor  # (B, M) segment ids, -1 on padding
    no_answer_logit: Tensor  # (B,)
    start_logits: Tensor  # (B, K) per kept token, -inf on padding
    end_logits: Tensor  # (B, K)
    kept_tokens: Tensor  # (B, K) document token indices, -1 on padding
    token_slot: Tensor  # (B, K) which kept segment (index into M) each kept token belongs to, -1 on padding
    aux: dict[str, Tensor] = field(default_factory=dict)


def segment_starts(segment_of_token: Tensor, n_segments: int) -> Tensor:
    """(S,) first token of each segment (tokens are assigned to segments in non-decreasing order)."""
    return torch.searchsorted(
        segment_of_token.contiguous(), torch.arange(n_segments, device=segment_of_token.device)
    )


class LongContextReader(nn.Module):
    def __init__(self, cfg: ReaderConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or ReaderConfig()
        h = cfg.hidden
        self.local = BertEncoder(cfg.encoder_config())
        self.evidence = EvidenceScorer(h, cfg.evidence_dim, cfg.evidence_hidden)
        self.input_norm = nn.LayerNorm(h, eps=cfg.ln_eps)
        self.segment = nn.Embedding(2, h)  # 0 = question, 1 = document
        self.token_features = nn.Linear(N_TOKEN_FEATURES, h)
        self.global_layers = nn.ModuleList(GlobalLayer(cfg) for _ in range(cfg.global_layers))
        self.final_norm = nn.LayerNorm(h, eps=cfg.ln_eps)
        self.span_head = nn.Linear(h, 2)
        self.segment_head = nn.Linear(h, 1)
        self.no_answer_head = nn.Linear(h, 1)
        self.evidence_skip = nn.Parameter(torch.tensor(0.5))
        self.rope = RotaryEmbedding(h // cfg.global_heads, cfg.rope_base, scaling="none")
        self.group = None  # None: local; a process group or a StageDriver: sequence-parallel (global_stage)
        for mod in (self.evidence, self.input_norm, self.segment, self.token_features, self.global_layers):
            mod.apply(_init)
        for mod in (self.final_norm, self.span_head, self.segment_head, self.no_answer_head):
            mod.apply(_init)
        # the match features are cosines in [-1, 1]: start them as loud as the states they are added to
        nn.init.normal_(self.token_features.weight, std=0.5)

    def set_attention_backend(self, name: str) -> None:
        """Kernel family or exact kernel the global layers' attention uses (see ``select_backend``)."""
        self.cfg.attention_backend = name
        for layer in self.global_layers:
            layer.backend = name

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # ---- local encoder --------------------------------------------------------------------------------
    def encode_document(self, layout, batch_size: int | None = None, progress=None) -> Tensor:
        """ChunkLayout (or any object with input_ids, attention_mask, owner_chunk, owner_pos) -> (N, H).
        ``progress(fraction)`` is called after each batch of chunks."""
        dev = self.device
        ids = torch.as_tensor(np.asarray(layout.input_ids), dtype=torch.long)
        mask = torch.as_tensor(np.asarray(layout.attention_mask), dtype=torch.long)
        owner_chunk = torch.as_tensor(np.asarray(layout.owner_chunk), dtype=torch.long, device=dev)
        owner_pos = torch.as_tensor(np.asarray(layout.owner_pos), dtype=torch.long, device=dev)
        bs = batch_size or self.cfg.chunk_batch
        width = ids.shape[1]
        out = []
        for s in range(0, ids.shape[0], bs):
            out.append(self.local(ids[s : s + bs].to(dev), mask[s : s + bs].to(dev)))
            if progress is not None:
                progress(min(s + bs, ids.shape[0]) / ids.shape[0])
        if not out:
            return torch.zeros(0, self.cfg.hidden, device=dev)
        states = torch.cat(out)
        return states.reshape(-1, states.shape[-1])[owner_chunk * width + owner_pos]

    def encode_query(self, query_ids: Tensor, query_mask: Tensor | None = None) -> Tensor:
        """Question rows ([CLS] q [SEP] [PAD]...) (B, Q) -> (B, Q, H)."""
        if query_ids.shape[1] > self.cfg.max_query_len:
            raise ValueError(f"query of {query_ids.shape[1]} tokens exceeds max_query_len")
        return self.local(
            query_ids.to(self.device), None if query_mask is None else query_mask.to(self.device)
        )

    # ---- evidence scorer ------------------------------------------------------------------------------
    def document(self, states: Tensor, segment_of_token: Tensor, n_segments: int) -> DocSide:
        return self.evidence.doc_side(states.to(self.device), segment_of_token.to(self.device), n_segments)

    def question(self, query_ids: Tensor, query_mask: Tensor) -> tuple[Tensor, Tensor, QuerySide]:
        """(question token states (B, Q, H), mask (B, Q) bool, the scorer's question side)."""
        mask = query_mask.to(self.device).bool()
        states = self.encode_query(query_ids, mask)
        return states, mask, self.evidence.query_side(states, mask)

    def score(self, doc: DocSide, query: QuerySide) -> SegmentScores:
        return self.evidence(doc, query)

    # ---- global encoder and heads ---------------------------------------------------------------------
    def global_stage(self, x: Tensor, cos: Tensor, sin: Tensor, key_mask: Tensor | None) -> Tensor:
        """The global layers over the whole [question; kept tokens] sequence (B, T, H) -> (B, T, H).

        ``self.group`` None: here, on this device. A process group of several ranks: sequence-parallel, every
        rank calling ``read`` with the same inputs (lockstep). A ``StageDriver`` (the multi-device worker's
        rank 0): the driver shards the stage over its ranks. See ``longctx.model.parallel``."""
        outer = x.dtype
        inner = self.global_layers[0].qkv.weight.dtype  # bf16 on CUDA (`ReaderPipeline.load`): fused kernels
        if inner != outer:
            x, cos, sin = x.to(inner), cos.to(inner), sin.to(inner)
        group = self.group
        if isinstance(group, StageDriver):
            x = group.run_global_stage(self.global_layers, x, cos, sin, key_mask)
        elif group is not None and dist.get_world_size(group) > 1:
            x = sharded_global_stage(self.global_layers, x, cos, sin, key_mask, group)
        else:
            for layer in self.global_layers:
                x = layer(x, cos, sin, key_mask, group)
        return x.to(outer)

    def read(
        self,
        q_states: Tensor,
        q_mask: Tensor,
        query: QuerySide,
        states: Tensor,
        doc: DocSide,
        scores: SegmentScores,
        kept: list[list[int]],
    ) -> ReadOutput:
        """Read the kept segments (per question, ascending segment ids) with the global layers."""
        cfg = self.cfg
        dev = self.device
        b, qn = q_mask.shape
        starts = segment_starts(doc.segment_of_token, doc.n_segments)
        lengths = doc.segment_len.long().clamp_max(cfg.max_segment_tokens)
        tok_rows, slot_rows, pos_rows, first_rows = [], [], [], []
        for segs in kept:
            toks, slots, pos, first = [], [], [], []
            p = cfg.max_query_len
            prev = None
            for m, s in enumerate(segs):
                lo = int(starts[s])
                n = int(lengths[s])
                if prev is not None and s != prev + 1:
                    p += cfg.segment_gap
                toks.append(torch.arange(lo, lo + n))
                slots.append(torch.full((n,), m))
                pos.append(torch.arange(p, p + n))
                f = torch.zeros(n)
                f[0] = 1.0
                first.append(f)
                p += n
                prev = s
            cat = (lambda xs, dt: torch.cat(xs).to(dt)) if toks else (lambda xs, dt: torch.zeros(0, dtype=dt))
            tok_rows.append(cat(toks, torch.long))
            slot_rows.append(cat(slots, torch.long))
            pos_rows.append(cat(pos, torch.long))
            first_rows.append(cat(first, torch.float32))
        k = max(1, max(len(t) for t in tok_rows))
        m_max = max(1, max(len(s) for s in kept))
        kept_tokens = torch.full((b, k), -1, dtype=torch.long)
        token_slot = torch.full((b, k), -1, dtype=torch.long)
        positions = torch.zeros(b, k, dtype=torch.long)
        first = torch.zeros(b, k)
        kept_segments = torch.full((b, m_max), -1, dtype=torch.long)
        for i in range(b):
            n = len(tok_rows[i])
            kept_tokens[i, :n] = tok_rows[i]
            token_slot[i, :n] = slot_rows[i]
            positions[i, :n] = pos_rows[i]
            first[i, :n] = first_rows[i]
            kept_segments[i, : len(kept[i])] = torch.as_tensor(kept[i], dtype=torch.long)
        kept_tokens, token_slot = kept_tokens.to(dev), token_slot.to(dev)
        positions, first, kept_segments = positions.to(dev), first.to(dev), kept_segments.to(dev)
        valid = kept_tokens >= 0
        safe_tok = kept_tokens.clamp_min(0)
        safe_seg = kept_segments.clamp_min(0)
        dtype = self.token_features.weight.dtype

        # gather the kept rows first: converting the whole (N, H) matrix per question grew with the document
        doc_states = states[safe_tok.to(states.device)].to(dev, dtype)  # (B, K, H)
        tok_vec = doc.tokens[safe_tok].to(dtype)  # (B, K, D)
        best, weighted = self.evidence.token_matches(tok_vec, query)
        seg_of = safe_seg.gather(1, token_slot.clamp_min(0))  # (B, K) segment id of each kept token
        ev = scores.logits.gather(1, seg_of)
        match = scores.match.gather(1, seg_of)
        sem = scores.sem.gather(1, seg_of)
        feats = torch.stack([best, weighted, torch.tanh(ev / 4.0), match, sem, first], dim=-1).to(dtype)
        x_doc = self.input_norm(doc_states) + self.segment.weight[1] + self.token_features(feats)
        x_q = self.input_norm(q_states.to(dtype)) + self.segment.weight[0]
        x = torch.cat([x_q, x_doc], dim=1)
        q_pos = torch.arange(qn, device=dev).expand(b, qn)
        cos, sin = self.rope.cos_sin(torch.cat([q_pos, positions], dim=1), dtype)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        key_mask = torch.cat([q_mask, valid], dim=1)
        if bool(key_mask.all()):
            # nothing to mask (one question, or rows of equal length): no mask lets the fused kernels
            # (flash, cuDNN) serve the global layers instead of the memory-efficient one
            key_mask = None
        x = self.global_stage(x, cos, sin, key_mask)
        x = self.final_norm(x)
        y = x[:, qn:]
        se = self.span_head(y).float()
        neg = torch.finfo(torch.float32).min
        start_logits = se[..., 0].masked_fill(~valid, neg)
        end_logits = se[..., 1].masked_fill(~valid, neg)
        # mean over each kept segment's tokens
        flat_slot = (token_slot.clamp_min(0) + torch.arange(b, device=dev).unsqueeze(1) * m_max).view(-1)
        w = valid.view(-1, 1).to(y.dtype)
        pooled = torch.zeros(b * m_max, y.shape[-1], dtype=y.dtype, device=dev)
        pooled.index_add_(0, flat_slot, y.reshape(-1, y.shape[-1]) * w)
        count = torch.zeros(b * m_max, 1, dtype=y.dtype, device=dev).index_add_(0, flat_slot, w)
        pooled = (pooled / count.clamp_min(1.0)).view(b, m_max, -1)
        seg_ev = scores.logits.gather(1, safe_seg)
        seg_logits = self.segment_head(pooled).squeeze(-1).float() + self.evidence_skip * seg_ev.float()
        seg_logits = seg_logits.masked_fill(kept_segments < 0, neg)
        no_answer = self.no_answer_head(x[:, 0]).squeeze(-1).float()
        return ReadOutput(
            seg_logits, kept_segments, no_answer, start_logits, end_logits, kept_tokens, token_slot
        )

    # ---- persistence ----------------------------------------------------------------------------------
    def save(self, directory: str | Path, fp16: bool = False) -> Path:
        from safetensors.torch import save_file

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        sd = {}
        for name, t in self.state_dict().items():
            t = t.detach().cpu()
            if fp16 and t.is_floating_point():
                t = t.half()
            sd[name] = t.contiguous()
        save_file(
            sd, str(d / WEIGHTS_NAME), metadata={"format": "pt", "dtype": "float16" if fp16 else "float32"}
        )
        (d / CONFIG_NAME).write_text(json.dumps(self.cfg.to_dict(), indent=2, sort_keys=True))
        return d

    @classmethod
    def load(
        cls,
        directory: str | Path,
        map_location: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> LongContextReader:
        from safetensors.torch import load_file

        d = Path(directory)
        cfg = ReaderConfig.from_dict(json.loads((d / CONFIG_NAME).read_text()))
        model = cls(cfg)
        sd = load_file(str(d / WEIGHTS_NAME), device=str(map_location))
        sd = {k: v.to(dtype) if v.is_floating_point() else v for k, v in sd.items()}
        model.load_state_dict(sd, strict=True)
        return model.to(device=map_location, dtype=dtype)


def _init(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Embedding):
        nn.init.normal_(m.weight, std=0.02)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def count_parameters(model: nn.Module) -> dict[str, int]:
    parts = {name: sum(p.numel() for p in mod.parameters()) for name, mod in model.named_children()}
    parts["total"] = sum(p.numel() for p in model.parameters())
    return parts


__all__ = [
    "LongContextReader",
    "ReadOutput",
    "ReaderConfig",
    "count_parameters",
    "segment_starts",
]
