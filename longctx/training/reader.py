"""Train the reader (`longctx train reader`): evidence scorer, global layers and heads, on cached states.

The local encoder (all-MiniLM-L6-v2, sha256-checked) stays frozen; its states of every training text are
cached (`training.reader_data`), so a step costs the trained parts only: the evidence scorer over every unit
of a document of 1K-24K tokens, and the global layers over the kept units of each question. Losses per
question:

* **evidence** (listwise): the gold units' share of the softmax over all of the document's unit scores --
  the pruning layer learns to rank the answer first among every competitor, whatever the length;
* **read**: softmax over [no answer; kept units]; the target is the kept gold units, or "no answer" when the
  document has none or none was kept (so the heads learn to abstain when the evidence is not there);
* **span** (auxiliary, short answers only): start and end tokens among the kept tokens.

The kept set is what inference keeps (best units up to a budget drawn from 256..``global_budget``), with the
gold units forced in for ``force_gold`` of the questions, so the global layers see realistic competitors.
Runs are resumable: a checkpoint (trained weights, optimiser, step) every ``checkpoint_every`` steps.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from longctx.model.evidence import select_segments
from longctx.model.reader_model import LongContextReader, ReaderConfig
from longctx.model.tokenization import TOKENIZER_DIR, query_ids

from .reader_data import DEFAULT_MIX, SOURCES, Sources, TrainDoc

log = logging.getLogger(__name__)
CHECKPOINT = "train-state.pt"


@dataclass
class TrainConfig:
    out_dir: str = "runs/reader"
    cache_dir: str = "runs/cache"
    steps: int = 6000
    lr: float = 3e-4
    min_lr_ratio: float = 0.1
    warmup: int = 200
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    max_questions: int = 8
    force_gold: float = 0.7
    span_weight: float = 0.3
    label_smoothing: float = 0.05
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    cuad_contracts: int = 120
    short_contracts: int = 300
    seed: int = 0
    log_every: int = 20
    checkpoint_every: int = 200
    eval_docs: int = 12  # per source, from held-back seeds, every checkpoint
    threads: int = 2
    init: str = "minilm"  # the local encoder's weights: "minilm" (all-MiniLM-L6-v2) or "random" (tests)
    model: dict = field(default_factory=dict)  # ReaderConfig overrides

    @classmethod
    def load(cls, path: str | Path | None, overrides: list[str] = ()) -> TrainConfig:
        data = json.loads(Path(path).read_text()) if path else {}
        for item in overrides:
            key, _, value = item.partition("=")
            data[key] = json.loads(value) if value[:1] in '[{0123456789-tfn"' else value
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        return cls(**data)


# ---- one document -----------------------------------------------------------------------------------------
def _query_rows(model: LongContextReader, questions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    rows = [query_ids(q, model.cfg.max_query_len) for q in questions]
    width = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = True
    return ids, mask


FILLERS = (
    "Please tell me: ",
    "Quick question - ",
    "Can you check: ",
    "I need to know: ",
    "In this document, ",
)


def augment_question(q: str, rng: random.Random) -> str:
    """Surface noise a user's question has (case, punctuation, lead-ins), so the answer line does not hinge
    on the exact form of the training questions."""
    if rng.random() < 0.15:
        q = q.lower()
    if rng.random() < 0.2:
        q = q.rstrip("?").rstrip()
    if rng.random() < 0.1:
        q = rng.choice(FILLERS) + q[:1].lower() + q[1:]
    return q


def _token_span(offsets: np.ndarray, s: int, e: int) -> tuple[int, int]:
    first = int(np.searchsorted(offsets[:, 1], s, side="right"))
    last = int(np.searchsorted(offsets[:, 0], e, side="left")) - 1
    return first, max(first, last)


def document_losses(
    model: LongContextReader, doc: TrainDoc, rng: random.Random, tc: TrainConfig, train: bool = True
) -> tuple[torch.Tensor, dict[str, float]]:
    qas = doc.questions[: tc.max_questions]
    if not qas or len(doc.units) == 0:
        return torch.zeros(()), {}
    cfg = model.cfg
    states = doc.states.float()
    seg_of_tok = torch.as_tensor(doc.units.token_unit)
    n_units = len(doc.units)
    dside = model.document(states, seg_of_tok, n_units)
    texts = [augment_question(q.question, rng) if train else q.question for q in qas]
    ids, mask = _query_rows(model, texts)
    with torch.no_grad():
        q_states = model.encode_query(ids, mask).float()
    query = model.evidence.query_side(q_states, mask)
    scores = model.score(dside, query)
    gold = [doc.gold_units(q) for q in qas]
    logits = scores.logits
    ev_losses = []
    for b, g in enumerate(gold):
        if g:
            row = logits[b]
            ev_losses.append(torch.logsumexp(row, 0) - torch.logsumexp(row[g], 0))
    n_tok = states.shape[0]
    kept = []
    for b, g in enumerate(gold):
        budget = min(n_tok, rng.choice([256, 512, 768, cfg.global_budget])) if train else cfg.budget(n_tok)
        pinned = g if (g and train and rng.random() < tc.force_gold) else None
        kept.append(
            select_segments(logits[b].detach(), dside.segment_len, budget, cfg.max_segment_tokens, pinned)
        )
    out = model.read(q_states, mask, query, states, dside, scores, kept)
    full = torch.cat([out.no_answer_logit.unsqueeze(1), out.segment_logits], 1)
    target = torch.zeros_like(full, dtype=torch.bool)
    for b, g in enumerate(gold):
        hit = torch.isin(out.kept_segments[b], torch.as_tensor(g or [-2], dtype=torch.long))
        if g and bool(hit.any()):
            target[b, 1:] = hit
        else:
            target[b, 0] = True
    read = torch.logsumexp(full, 1) - torch.logsumexp(full.masked_fill(~target, float("-inf")), 1)
    if train and tc.label_smoothing > 0:  # keep the logits moderate: a calibrated line under new wording
        valid = full > torch.finfo(full.dtype).min / 2
        uniform = -(torch.log_softmax(full, 1) * valid).sum(1) / valid.sum(1)
        read = (1 - tc.label_smoothing) * read + tc.label_smoothing * uniform
    span_losses = []
    for b, qa in enumerate(qas):
        if not gold[b] or not target[b, 1:].any():
            continue
        starts, ends = [], []
        for s, e in qa.spans:
            ts, te = _token_span(doc.offsets, s, e)
            if te - ts < 48:
                starts.append(ts)
                ends.append(te)
        if not starts:
            continue
        kt = out.kept_tokens[b]
        gs = torch.isin(kt, torch.as_tensor(starts))
        ge = torch.isin(kt, torch.as_tensor(ends))
        if gs.any() and ge.any():
            for lg, gm in ((out.start_logits[b], gs), (out.end_logits[b], ge)):
                span_losses.append(torch.logsumexp(lg, 0) - torch.logsumexp(lg[gm], 0))
    ev = torch.stack(ev_losses).mean() if ev_losses else logits.sum() * 0.0
    rd = read.mean()
    sp = torch.stack(span_losses).mean() if span_losses else rd * 0.0
    loss = ev + rd + tc.span_weight * sp
    # metrics: top-1 right (answer unit first and above no-answer; or no-answer for unanswerable), kept recall
    with torch.no_grad():
        right, recall, n_ans = 0, 0, 0
        for b, g in enumerate(gold):
            row = full[b]
            best = int(row.argmax())
            if g:
                n_ans += 1
                recall += bool(target[b, 1:].any())
                right += best > 0 and int(out.kept_segments[b, best - 1]) in g
            else:
                right += best == 0
    stats = {
        "loss": float(loss.detach()),
        "evidence": float(ev.detach()),
        "read": float(rd.detach()),
        "span": float(sp.detach()),
        "right": right / len(gold),
        "kept_recall": recall / max(n_ans, 1),
        "questions": len(gold),
    }
    return loss, stats


# ---- the run ----------------------------------------------------------------------------------------------
def build_model(tc: TrainConfig, fast_encoder: bool = True) -> LongContextReader:
    """The reader with its frozen local encoder (bf16 where the CPU multiplies bf16 fast, for training)."""
    from longctx.core.hardware import fast_cpu_bf16
    from longctx.model.pretrained import load_minilm_into

    model = LongContextReader(ReaderConfig(**tc.model))
    if tc.init == "minilm":
        load_minilm_into(model.local)
    elif tc.init != "random":
        raise ValueError(f"init must be 'minilm' or 'random', not {tc.init!r}")
    for p in model.local.parameters():
        p.requires_grad_(False)
    model.local.eval()
    if fast_encoder and fast_cpu_bf16():
        model.local.to(torch.bfloat16)
    return model


def _lr(tc: TrainConfig, step: int) -> float:
    if step < tc.warmup:
        return tc.lr * (step + 1) / tc.warmup
    t = (step - tc.warmup) / max(1, tc.steps - tc.warmup)
    return tc.lr * (tc.min_lr_ratio + (1 - tc.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def _trainable(model: LongContextReader) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if not k.startswith("local.")}


def save_state(path: Path, model, opt, step: int, tc: TrainConfig, history: list) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": _trainable(model),
            "opt": opt.state_dict(),
            "step": step,
            "config": asdict(tc),
            "history": history,
        },
        tmp,
    )
    tmp.replace(path)


def pick_source(tc: TrainConfig, rng: random.Random) -> str:
    names = [s for s in SOURCES if tc.mix.get(s, 0) > 0]
    return rng.choices(names, weights=[tc.mix[s] for s in names])[0]


def evaluate(model, sources: Sources, tc: TrainConfig) -> dict[str, dict[str, float]]:
    model.eval()
    out = {}
    with torch.no_grad():
        for s in SOURCES:
            if tc.mix.get(s, 0) <= 0:
                continue
            agg: dict[str, float] = {}
            n = 0
            for i in range(tc.eval_docs):
                doc = sources.draw(s, 10_000_000 + i)
                _, st = document_losses(model, doc, random.Random(i), tc, train=False)
                if not st:
                    continue
                w = st["questions"]
                for k, v in st.items():
                    agg[k] = agg.get(k, 0.0) + v * w
                n += w
            out[s] = {k: round(v / max(n, 1), 4) for k, v in agg.items() if k != "questions"}
    model.train()
    model.local.eval()
    return out


def train(tc: TrainConfig, data_root: Path, resume: bool = True, stop_at: int | None = None) -> dict:
    torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)
    out = Path(tc.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(tc), indent=2))
    model = build_model(tc)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=tc.lr, weight_decay=tc.weight_decay)
    step, history = 0, []
    ckpt = out / CHECKPOINT
    if resume and ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"], strict=False)
        opt.load_state_dict(state["opt"])
        step, history = int(state["step"]), list(state.get("history", []))
        log.info("resumed at step %d", step)
    sources = Sources(
        model,
        data_root,
        Path(tc.cache_dir),
        cuad_contracts=tc.cuad_contracts,
        short_contracts=tc.short_contracts,
        log=log.info,
    )
    t0 = time.monotonic()
    sources.warm([s for s in SOURCES if tc.mix.get(s, 0) > 0])
    log.info("data ready in %.0f s", time.monotonic() - t0)
    model.train()
    model.local.eval()
    window: list[dict] = []
    t_last = time.monotonic()
    while step < tc.steps and (stop_at is None or step < stop_at):
        rng = random.Random(f"{tc.seed}|{step}")
        source = pick_source(tc, rng)
        doc = sources.draw(source, rng.randrange(1 << 30))
        loss, st = document_losses(model, doc, rng, tc)
        for g in opt.param_groups:
            g["lr"] = _lr(tc, step)
        opt.zero_grad(set_to_none=True)
        if st:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, tc.grad_clip)
            opt.step()
            window.append({"source": source, **st})
        step += 1
        if step % tc.log_every == 0 and window:
            dt = time.monotonic() - t_last
            t_last = time.monotonic()
            mean = {k: round(float(np.mean([w[k] for w in window])), 4) for k in window[0] if k != "source"}
            rec = {
                "kind": "train",
                "step": step,
                "lr": round(_lr(tc, step), 7),
                "s_per_step": round(dt / len(window), 3),
                **mean,
            }
            history.append(rec)
            log.info(json.dumps(rec))
            window = []
        if step % tc.checkpoint_every == 0 or step == tc.steps:
            ev = evaluate(model, sources, tc)
            history.append({"kind": "eval", "step": step, **ev})
            log.info("eval %s", json.dumps(ev))
            save_state(ckpt, model, opt, step, tc, history)
    return {"step": step, "history": history[-5:]}


def export(out_dir: str | Path, dest: str | Path, fp16: bool = True) -> Path:
    """The deployable reader (model.safetensors + config.json + tokenizer.json) from a run's state."""
    import shutil

    state = torch.load(Path(out_dir) / CHECKPOINT, map_location="cpu", weights_only=False)
    tc = TrainConfig(**state["config"])
    model = build_model(tc, fast_encoder=False)  # export the encoder's own fp32 weights (then fp16)
    model.load_state_dict(state["model"], strict=False)
    d = model.save(dest, fp16=fp16)
    shutil.copyfile(TOKENIZER_DIR / "tokenizer.json", Path(d) / "tokenizer.json")
    return Path(d)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="longctx train reader", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=None, help="TrainConfig JSON (default: the built-in defaults)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    ap.add_argument("--data-dir", type=Path, default=None, help="shared data (default: settings)")
    ap.add_argument("--no-resume", action="store_true", help="start over")
    ap.add_argument("--stop-at", type=int, default=None, help="stop after this step (resumable)")
    ap.add_argument("--export", metavar="DEST", help="after training, write the deployable reader here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout, force=True)
    try:
        tc = TrainConfig.load(args.config, args.set)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    root = args.data_dir
    if root is None:
        from longctx.config import get_settings

        root = get_settings().data_root
    if root is None:
        print("shared data not found (set LONGCTX_SHARED_DATA_DIR or --data-dir)", file=sys.stderr)
        return 2
    train(tc, Path(root), resume=not args.no_resume, stop_at=args.stop_at)
    if args.export:
        print(f"exported to {export(tc.out_dir, args.export)}")
    return 0


__all__ = ["TrainConfig", "build_model", "document_losses", "evaluate", "export", "main", "train"]
