"""The long-context extractive reader: local encoder -> query fusion + pruning -> global encoder -> heads.

Shapes (one document of N tokens, B queries of Q tokens incl. [CLS]/[SEP], K = ceil(rho * N) kept):

* ``encode_document(layout)``: chunks (n_chunks, C+2) -> local encoder -> token states (N, H), gathered at
  each token's owner position. Query-independent: compute once per document and reuse.
* ``encode_query(ids, mask)``: the same local encoder over the query rows -> (B, Q, H).
* pruning: (B, N, H) x (B, Q, H) -> keep-logits (B, N), kept indices (B, K) ascending.
* global encoder: [query; kept] (B, Q+K, H), bidirectional, RoPE on original positions (query at 0..Q-1,
  document token i at ``max_query_len + i``), attention through :func:`longctx.attention.ring_attention`
  (``group=None`` runs locally).
* heads: start/end logits (B, K) for the kept tokens, a no-answer logit (B,) from the query's [CLS] state.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from longctx.attention import ring_attention
from longctx.model.encoder import BertEncoder, EncoderConfig
from longctx.model.pruning import PruningLayer, budget_loss, keep_count, keep_loss
from longctx.model.rope import RotaryEmbedding

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


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
    # global encoder
    global_layers: int = 2
    global_heads: int = 12
    global_intermediate: int = 1536
    rope_base: float = 10000.0
    rope_max_positions: int = 1 << 20
    rope_train_positions: int = 32768
    rope_scaling: str = "ntk"
    max_query_len: int = 128
    attention_backend: str = "auto"
    # pruning
    rho: float = 0.2
    prune_mode: str = "straight_through"
    prune_temperature: float = 1.0
    keep_loss_weight: float = 1.0
    budget_loss_weight: float = 0.1
    keep_pos_weight: float | None = None
    force_keep_answer: bool = True  # in training, gold answer tokens are always kept
    # inference
    chunk_batch: int = 64
    max_span_len: int = 30

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

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ReaderConfig:
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

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, key_mask: Tensor | None, group=None) -> Tensor:
        from longctx.model.rope import apply_rotary

        b, t, h = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).view(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        out = ring_attention(q, k, v, group=group, key_padding_mask=key_mask, backend=self.backend)
        x = x + self.drop(self.o(out.transpose(1, 2).reshape(b, t, h)))
        return x + self.drop(self.ffn_out(F.gelu(self.ffn_in(self.ffn_norm(x)))))


@dataclass
class ReaderOutput:
    start_logits: Tensor  # (B, K)
    end_logits: Tensor  # (B, K)
    no_answer_logit: Tensor  # (B,)
    kept_index: Tensor  # (B, K) original document token indices, ascending
    keep_logits: Tensor | None  # (B, N); None when pruning was skipped
    loss: Tensor | None = None
    aux: dict[str, Tensor] = field(default_factory=dict)


@dataclass
class DecodedSpans:
    spans: list[tuple[int, int, float]]  # (token_start, token_end inclusive, score), best first
    no_answer_score: float  # compare with a span's score: answer only if span score > no_answer_score


class LongContextReader(nn.Module):
    def __init__(self, cfg: ReaderConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or ReaderConfig()
        self.local = BertEncoder(cfg.encoder_config())
        self.pruning = PruningLayer(
            cfg.hidden, cfg.heads, cfg.rho, cfg.prune_mode, cfg.prune_temperature, cfg.ln_eps
        )
        self.segment = nn.Embedding(2, cfg.hidden)  # 0 = query, 1 = document
        self.global_layers = nn.ModuleList(GlobalLayer(cfg) for _ in range(cfg.global_layers))
        self.final_norm = nn.LayerNorm(cfg.hidden, eps=cfg.ln_eps)
        self.span_head = nn.Linear(cfg.hidden, 2)
        self.no_answer_head = nn.Linear(cfg.hidden, 1)
        self.rope = RotaryEmbedding(
            cfg.hidden // cfg.global_heads,
            cfg.rope_base,
            cfg.rope_max_positions,
            cfg.rope_train_positions,
            cfg.rope_scaling,
        )
        self.group = None  # a torch.distributed group to shard the global sequence over (None: local)
        for mod in (self.pruning, self.segment, self.global_layers, self.final_norm):
            mod.apply(_init)
        for lin in (self.span_head, self.no_answer_head):
            lin.apply(_init)

    def set_attention_backend(self, name: str) -> None:
        """Kernel family or exact kernel the global layers' attention uses (see ``select_backend``)."""
        self.cfg.attention_backend = name
        for layer in self.global_layers:
            layer.backend = name

    # ---- encoding -------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

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
        """Query rows ([CLS] q [SEP] [PAD]...) (B, Q) -> (B, Q, H)."""
        if query_ids.shape[1] > self.cfg.max_query_len:
            raise ValueError(f"query of {query_ids.shape[1]} tokens exceeds max_query_len")
        return self.local(
            query_ids.to(self.device), None if query_mask is None else query_mask.to(self.device)
        )

    # ---- forward --------------------------------------------------------------------------------------
    def forward(
        self,
        query_ids: Tensor,
        query_mask: Tensor | None = None,
        *,
        layout=None,
        doc_states: Tensor | None = None,
        answer_start: Tensor | None = None,
        answer_end: Tensor | None = None,
        keep_labels: Tensor | None = None,
        answer_spans: list[list[tuple[int, int]]] | None = None,
        prune: bool = True,
        rho: float | None = None,
        select_index: Tensor | None = None,
        pin_mask: Tensor | None = None,
    ) -> ReaderOutput:
        """Read a document (``doc_states`` (N, H) from :meth:`encode_document`, or ``layout``), B queries.

        answer_start/answer_end (B,): gold document token indices, -1 = no answer. ``answer_spans``: every
        gold span per query (inclusive token indices); when given, the span loss is the marginal likelihood
        over all of them (multi-value / multi-query tasks), else over the one answer_start/answer_end.
        keep_labels (B, N): 1 on answer/evidence tokens, 0 elsewhere, -1 ignored. Losses are computed when
        answers are given. ``select_index`` (B, K) ascending: keep exactly these tokens instead of the learned
        top-k (the random / BM25 selection ablations); the keep-scores are still computed. ``pin_mask`` (B, N)
        bool, inference only: these tokens are kept first and the rest of the budget goes to the best
        keep-scores (the reader pins the lexically best passages so that the span head always sees them).
        """
        if doc_states is None:
            if layout is None:
                raise ValueError("give doc_states or layout")
            doc_states = self.encode_document(layout)
        dev = self.device
        query_ids = query_ids.to(dev)
        b, qn = query_ids.shape
        if query_mask is None:
            query_mask = torch.ones_like(query_ids)
        query_mask = query_mask.to(dev).bool()
        query = self.encode_query(query_ids, query_mask)
        n = doc_states.shape[0]

        keep_logits = None
        if prune and not self.training and answer_start is None and doc_states.dim() == 2:
            # inference: score in blocks, then fuse only the kept tokens (fusion is per token, so this
            # equals the training path with gate 1, in O(block) memory instead of O(B * N * H))
            keep_logits = self.pruning.scores_blockwise(doc_states, query, query_mask)
            if select_index is not None:
                kept_index = select_index.to(dev)
            else:
                kk = keep_count(n, self.cfg.rho if rho is None else rho)
                ranked = keep_logits
                if pin_mask is not None:
                    ranked = keep_logits.masked_fill(pin_mask.to(dev).bool(), float("inf"))
                kept_index = ranked.topk(kk, dim=1).indices.sort(dim=1).values
            kept = self.pruning.fusion(doc_states[kept_index], query, query_mask)
        elif prune:
            force = None
            if self.training and self.cfg.force_keep_answer and answer_start is not None:
                force = torch.zeros(b, n, dtype=torch.bool, device=dev)
                for pos in (answer_start, answer_end):
                    pos = pos.to(dev)
                    ok = pos >= 0
                    force[ok.nonzero().squeeze(-1), pos[ok]] = True
                for i, spans in enumerate(answer_spans or []):
                    for s0, e0 in spans:
                        force[i, s0] = force[i, e0] = True
            pr = self.pruning(doc_states, query, query_mask, rho=rho, force_keep=force)
            keep_logits, kept_index = pr.keep_logits, pr.kept_index
            if select_index is not None:
                kept_index = select_index.to(dev)
                pr.gate = torch.ones(kept_index.shape, dtype=pr.fused.dtype, device=dev)
            kept = pr.fused.gather(1, kept_index.unsqueeze(-1).expand(-1, -1, pr.fused.shape[-1]))
            kept = kept * pr.gate.unsqueeze(-1).to(kept.dtype)
        else:
            kept_index = torch.arange(n, device=dev).expand(b, n)
            kept = self.pruning.fusion(doc_states.unsqueeze(0).expand(b, -1, -1), query, query_mask)
        k = kept_index.shape[1]

        x = torch.cat([query + self.segment.weight[0], kept + self.segment.weight[1]], dim=1)
        q_pos = torch.arange(qn, device=dev).expand(b, qn)
        positions = torch.cat([q_pos, kept_index + self.cfg.max_query_len], dim=1)
        cos, sin = self.rope.cos_sin(positions, x.dtype)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        key_mask = torch.cat([query_mask, torch.ones(b, k, dtype=torch.bool, device=dev)], dim=1)
        for layer in self.global_layers:
            x = layer(x, cos, sin, key_mask, self.group)
        x = self.final_norm(x)
        se = self.span_head(x[:, qn:]).float()
        start_logits, end_logits = se[..., 0], se[..., 1]
        no_answer = self.no_answer_head(x[:, 0]).squeeze(-1).float()
        out = ReaderOutput(start_logits, end_logits, no_answer, kept_index, keep_logits)
        if answer_start is not None and answer_end is not None:
            if answer_spans is None:
                answer_spans = [
                    [(s0, e0)] if s0 >= 0 else []
                    for s0, e0 in zip(answer_start.tolist(), answer_end.tolist(), strict=True)
                ]
            self._losses(out, answer_start.to(dev), answer_end.to(dev), answer_spans, keep_labels, rho)
        return out

    def _losses(self, out: ReaderOutput, a_start: Tensor, a_end: Tensor, spans, keep_labels, rho) -> None:
        cfg = self.cfg
        b, k = out.start_logits.shape
        na = out.no_answer_logit.unsqueeze(1)
        losses = []
        for which, logits in ((0, out.start_logits), (1, out.end_logits)):
            # gold set per row over [no-answer, kept tokens]: index 0 for a no-answer query, else the kept
            # positions holding any gold start (end); rows whose every gold token was pruned are skipped
            gold = torch.zeros(b, k + 1, dtype=torch.bool, device=logits.device)
            valid = torch.ones(b, dtype=torch.bool, device=logits.device)
            for i, row in enumerate(spans):
                if not row:
                    gold[i, 0] = True
                    continue
                pos = torch.tensor([sp[which] for sp in row], device=logits.device)
                hit = (out.kept_index[i].unsqueeze(0) == pos.unsqueeze(1)).any(0)
                gold[i, 1:] = hit
                valid[i] = bool(hit.any())
            full = torch.cat([na, logits], 1)
            nll = torch.logsumexp(full, 1) - torch.logsumexp(full.masked_fill(~gold, float("-inf")), 1)
            losses.append(nll[valid].mean() if valid.any() else full.sum() * 0.0)
        span = 0.5 * (losses[0] + losses[1])
        aux = {"span_loss": span}
        loss = span
        if out.keep_logits is not None:
            if keep_labels is None:  # default labels: the answer span's tokens
                keep_labels = torch.zeros_like(out.keep_logits)
                for i, row in enumerate(spans):
                    for s0, e0 in row:
                        keep_labels[i, s0 : e0 + 1] = 1.0
            kl = keep_loss(out.keep_logits, keep_labels.to(out.keep_logits.device), cfg.keep_pos_weight)
            bl = budget_loss(out.keep_logits, cfg.rho if rho is None else rho)
            aux.update(keep_loss=kl, budget_loss=bl)
            loss = loss + cfg.keep_loss_weight * kl + cfg.budget_loss_weight * bl
        out.loss = loss
        out.aux = aux

    # ---- decoding -------------------------------------------------------------------------------------
    @torch.no_grad()
    def decode_spans(
        self, out: ReaderOutput, max_span_len: int | None = None, top_n: int = 5
    ) -> list[DecodedSpans]:
        """Best spans per query: start <= end among kept tokens, end - start < max_span_len (original
        positions). Span score = start + end logit; no-answer score = 2 * no-answer logit."""
        L = max_span_len or self.cfg.max_span_len
        res = []
        for b in range(out.start_logits.shape[0]):
            s, e, idx = out.start_logits[b].float(), out.end_logits[b].float(), out.kept_index[b]
            k = s.shape[0]
            na = 2.0 * float(out.no_answer_logit[b])
            if k == 0:
                res.append(DecodedSpans([], na))
                continue
            w = min(L, k)
            j = torch.arange(k, device=s.device).unsqueeze(1) + torch.arange(w, device=s.device)  # (K, w)
            valid = j < k
            jc = j.clamp_max(k - 1)
            valid &= (idx[jc] - idx.unsqueeze(1)) < L
            scores = (s.unsqueeze(1) + e[jc]).masked_fill(~valid, float("-inf"))
            flat = scores.flatten()
            top = flat.topk(min(top_n, int(valid.sum())))
            spans = []
            for val, f in zip(top.values.tolist(), top.indices.tolist(), strict=True):
                i, o = divmod(f, w)
                spans.append((int(idx[i]), int(idx[i + o]), float(val)))
            res.append(DecodedSpans(spans, na))
        return res

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


__all__ = ["DecodedSpans", "LongContextReader", "ReaderConfig", "ReaderOutput", "count_parameters"]
