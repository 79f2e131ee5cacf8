"""Training configuration: a JSON file -> :class:`TrainConfig`, plus ``key=value`` overrides.

Overrides use dotted keys for nested dicts (``model.hidden=64``); the value is parsed as JSON when it parses
(``steps=20``, ``needle_lengths=[2048,4096]``, ``init="random"``) and taken as a plain string otherwise
(``init=random``). Unknown keys raise ``ValueError``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from longctx.datasets.needles import TASKS
from longctx.model.pruning import MODES
from longctx.model.reader_model import ReaderConfig

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def _default_schedule() -> list[dict]:
    return [
        {"step": 0, "mode": "soft_topk", "rho": 0.5},
        {"step": 1000, "mode": "straight_through", "rho": 0.2},
    ]


@dataclass
class TrainConfig:
    seed: int = 0
    model: dict = field(default_factory=dict)  # ReaderConfig fields (missing ones take their defaults)
    init: str = "minilm"  # "minilm" (needs the [train] extra) | "random"
    init_checkpoint: str | None = None  # warm start from a training checkpoint's model weights
    # data mix: each example is CUAD with probability cuad_weight, else a needle task (cycled by index)
    cuad_weight: float = 0.0
    cuad_split: str = "train"
    cuad_contracts: int = 0  # use only this many contracts of the split (seeded pick); 0 = all
    cuad_positive: float = 0.0  # probability a CUAD draw is a question with an answer; 0 = uniform draw
    needle_tasks: list[str] = field(default_factory=lambda: list(TASKS))
    needle_lengths: list[int] = field(default_factory=lambda: [2048, 4096, 8192])  # target tokens
    needle_depths: list[float] | None = None  # None: uniform in [0, 1]
    haystack: str = "cuad"  # "cuad" (the contracts of the split) | "synthetic" (generated filler, no data)
    # needle_mode "spliced" (needs freeze_local): needles spliced into cached CUAD haystack states in token
    # space (training.spliced), every example new; "text": generated documents encoded whole
    needle_mode: str = "text"
    splice_context: int = 48  # haystack tokens encoded with each needle on either side (spliced mode)
    needle_pool: int = 0  # > 0: example i uses needle document i % needle_pool (reused: see freeze_local)
    # freeze_local: the local encoder keeps its initial (pretrained) weights and document states are
    # encoded once per text (training.state_cache); only fusion, pruning, global layers and heads train
    freeze_local: bool = False
    state_cache: str | None = None  # directory of cached states (default: <out_dir>/state_cache)
    data_root: str | None = None
    # pruning curriculum: the entry with the largest step <= the current step applies
    prune_schedule: list[dict] = field(default_factory=_default_schedule)
    # loss weights
    span_weight: float = 1.0
    no_answer_weight: float = 0.5  # extra BCE on the no-answer logit
    keep_weight: float = 1.0
    budget_weight: float = 0.1
    # optimisation
    lr: float = 1e-4
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    weight_decay: float = 0.01
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    warmup_steps: int = 100
    steps: int = 1000
    grad_accum: int = 1  # documents per optimiser step
    grad_clip: float = 1.0
    max_doc_tokens: int = 8192  # crop (keeping the answer) above this
    chunk_overlap: int = 0
    # evaluation / logging / checkpoints
    eval_every: int = 200  # 0 = only at the end
    eval_examples: int = 16
    eval_lengths: list[int] | None = None  # None: needle_lengths
    eval_rho: float = 1.0  # rho the eval loss / EM are read at (keep recall uses the schedule's rho)
    log_every: int = 1
    checkpoint_every: int = 200
    keep_checkpoints: int = 3
    out_dir: str = "runs/default"
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N"
    dtype: str = "bf16"  # autocast dtype on CUDA: "bf16" | "fp16" | "fp32"; CPU always runs fp32

    def __post_init__(self) -> None:
        self.validate()

    # ---- validation ------------------------------------------------------------------------------------
    def validate(self) -> None:
        ReaderConfig.from_dict(self.model)  # raises on unknown model keys
        if self.init not in ("minilm", "random"):
            raise ValueError(f"init must be 'minilm' or 'random', not {self.init!r}")
        if self.needle_mode not in ("text", "spliced"):
            raise ValueError(f"needle_mode must be 'text' or 'spliced', not {self.needle_mode!r}")
        if self.needle_mode == "spliced" and not self.freeze_local:
            raise ValueError("needle_mode 'spliced' needs freeze_local (it splices cached encoder states)")
        if self.haystack not in ("cuad", "synthetic"):
            raise ValueError(f"haystack must be 'cuad' or 'synthetic', not {self.haystack!r}")
        if not 0.0 <= self.cuad_weight <= 1.0:
            raise ValueError("cuad_weight must be within [0, 1]")
        if self.cuad_weight < 1.0 and not self.needle_tasks:
            raise ValueError("needle_tasks is empty but cuad_weight < 1")
        bad = [t for t in self.needle_tasks if t not in TASKS]
        if bad:
            raise ValueError(f"unknown needle tasks {bad}; valid: {', '.join(TASKS)}")
        if not self.needle_lengths or min(self.needle_lengths) < 16:
            raise ValueError("needle_lengths must be non-empty, each >= 16 tokens")
        if self.needle_depths is not None and not all(0.0 <= d <= 1.0 for d in self.needle_depths):
            raise ValueError("needle_depths must lie within [0, 1]")
        if not self.prune_schedule:
            raise ValueError("prune_schedule must have at least one entry")
        for entry in self.prune_schedule:
            extra = set(entry) - {"step", "mode", "rho"}
            if extra or "step" not in entry:
                raise ValueError(f"prune_schedule entry {entry}: needs 'step', allows 'mode' and 'rho'")
            if entry.get("mode", MODES[0]) not in MODES:
                raise ValueError(f"prune_schedule mode must be one of {MODES}")
            rhos = entry.get("rho", 0.5)
            rhos = rhos if isinstance(rhos, list) else [rhos]
            if not rhos or not all(0.0 < float(r) <= 1.0 for r in rhos):
                raise ValueError("prune_schedule rho must be within (0, 1] (or a list of such)")
        if self.steps < 1 or self.grad_accum < 1 or self.warmup_steps < 0:
            raise ValueError("steps and grad_accum must be >= 1, warmup_steps >= 0")
        if self.lr <= 0:
            raise ValueError("lr must be > 0")
        if self.dtype not in ("bf16", "fp16", "fp32"):
            raise ValueError(f"dtype must be bf16, fp16 or fp32, not {self.dtype!r}")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N, not {self.device!r}")

    # ---- derived ---------------------------------------------------------------------------------------
    def reader_config(self) -> ReaderConfig:
        return ReaderConfig.from_dict(self.model)

    def prune_at(self, step: int) -> tuple[str, float]:
        """(mode, rho) in force at optimiser step ``step`` (0-based). A list of rhos cycles by step, so
        one run trains the reader at several compression ratios."""
        mode, rho = self.reader_config().prune_mode, self.reader_config().rho
        for entry in sorted(self.prune_schedule, key=lambda e: e["step"]):
            if entry["step"] <= step:
                mode, rho = entry.get("mode", mode), entry.get("rho", rho)
        if isinstance(rho, list):
            rho = rho[step % len(rho)]
        return mode, float(rho)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    # ---- loading ---------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown TrainConfig keys: {sorted(unknown)}")
        return cls(**d)

    @classmethod
    def load(cls, path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
        d = json.loads(Path(path).read_text())
        return cls.from_dict(apply_overrides(d, overrides or []))


def parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_overrides(d: dict, overrides: list[str]) -> dict:
    """Apply ``key=value`` / ``a.b=value`` overrides to a config dict (a copy); unknown keys raise."""
    out = json.loads(json.dumps(d))
    top = {f.name for f in fields(TrainConfig)}
    model_keys = {f.name for f in fields(ReaderConfig)}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"override {item!r} is not key=value")
        path = key.split(".")
        if path[0] not in top:
            raise ValueError(f"unknown config key {path[0]!r} in override {item!r}")
        if len(path) == 1:
            out[key] = parse_value(raw)
        elif len(path) == 2 and path[0] == "model":
            if path[1] not in model_keys:
                raise ValueError(f"unknown model key {path[1]!r} in override {item!r}")
            out.setdefault("model", {})[path[1]] = parse_value(raw)
        else:
            raise ValueError(f"override {item!r}: only 'model.<key>' may be dotted")
    return out


__all__ = ["CONFIG_DIR", "TrainConfig", "apply_overrides", "parse_value"]
