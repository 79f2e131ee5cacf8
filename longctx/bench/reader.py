"""``longctx bench reader``: where the packaged reader's time goes, stage by stage, cold and cached.

One generated document per length (the NIAH fact generator: CUAD validation contracts as haystack when the
shared data is present, else generated contracts, with two fact needles), two questions about it:

* **cold** -- the first question: the document is tokenized, encoded and indexed, then the question read;
* **cached** -- the second question on the same document: the pipeline's document state (encoder states,
  reading units, evidence document side) and the BM25 index are reused, so only the per-question stages run.
  With several ``--rho`` values the cached question is asked once per value.

The stages are timed from outside the reader: this module calls the reader's own stage functions, in the
order ``ReaderPipeline.answer`` does (``DocumentStates.get`` / ``SpanAnswerer.trace`` for a free question),
on the packaged checkpoint, and then asks ``pipeline.answer`` the same question on a fresh cache and checks
the answers are equal ("same answer"), so the breakdown is of the path the service runs. The pipeline's own
wall time is reported next to the sum of the stages.

Document stages (cold only): ``tokenize`` (tokenizer + chunk layout), ``encode`` (the local encoder),
``units`` (reading units + the evidence scorer's document side), ``index`` (the lexical reader's BM25 index,
used for the hybrid's pinned passages). Question stages: ``query`` (question encoder + scorer's question
side), ``prune`` (evidence scores + selection of the kept units, BM25 pins included), ``gather`` (the kept
tokens' inputs to the global layers), ``global`` (the global layers, split off by forward hooks),
``heads`` (span / unit / no-answer heads), ``ranker`` (answer line, ranking and citations).

Peak memory: resident set size sampled every 10 ms on CPU; ``torch.cuda.max_memory_allocated`` on a GPU.
The device is CUDA when available (``--device``). Multi-rank reading is not part of this command: the world
size is 1 whatever ``--world-sizes`` asks (the output says so).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import resource
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from longctx.analysis.document_state import DocumentState, DocumentStates, text_key
from longctx.analysis.factory import PACKAGED_CHECKPOINT
from longctx.analysis.lexical import LexicalReader
from longctx.analysis.pipeline import ReaderPipeline
from longctx.analysis.reader import Answer, Query, ReaderDocument
from longctx.analysis.span_reader import _sigmoid
from longctx.attention.kernels import select_backend
from longctx.model.tokenization import chunk_layout, load_tokenizer, query_ids, tokenize_text

from .load import write_block

DOC_STAGES = ("tokenize", "encode", "units", "index")
QUESTION_STAGES = ("query", "prune", "gather", "global", "heads", "ranker")
STAGES = DOC_STAGES + QUESTION_STAGES
DEPTHS = (0.3, 0.7)  # needle depths: one question for the cold read, one for the cached read
CPU_LENGTHS = (4096, 32768, 131072)
GPU_LENGTHS = (131072, 1048576)
#: reader time for a 1M-token document, one question, on one H100/H200 (issue #15)
TARGETS = {"cold_s": 1.5, "cached_s": 0.3, "tokens": 1 << 20}
MARKER = "longctx-bench-reader"


# ---- small helpers -----------------------------------------------------------------------------------------
def parse_lengths(text: str) -> list[int]:
    """ "4K,32K,1M" -> [4096, 32768, 1048576] (K = 1024, M = 1024**2)."""
    out = []
    for part in text.split(","):
        p = part.strip().upper()
        if p:
            mult = 1024 if p.endswith("K") else 1024**2 if p.endswith("M") else 1
            out.append(int(float(p.rstrip("KM")) * mult))
    return out


def parse_rhos(text: str) -> list[float | None]:
    """ "default,0.05" -> [None, 0.05] (None: the checkpoint's rho)."""
    return [None if p.strip() in ("", "default") else float(p) for p in text.split(",")]


def length_label(n: int) -> str:
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20}M"
    return f"{n >> 10}K" if n >= 1024 and n % 1024 == 0 else str(n)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Clock:
    """Seconds per stage, with the device synchronised at every boundary."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds: dict[str, float] = {}

    def now(self) -> float:
        _sync(self.device)
        return time.perf_counter()

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = self.now()
        yield
        self.add(name, self.now() - t0)


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class PeakMemory:
    """Peak memory while the block runs: RSS sampled every ``interval`` s (CPU), or the CUDA allocator's
    peak. Without /proc the process's lifetime peak (``ru_maxrss``) is reported instead."""

    def __init__(self, device: torch.device, interval: float = 0.01) -> None:
        self.device = device
        self.interval = interval
        self.peak_rss: int | None = None
        self.peak_cuda: int | None = None
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            rss = _rss_bytes()
            if rss is not None:
                self.peak_rss = max(self.peak_rss or 0, rss)

    def __enter__(self) -> PeakMemory:
        self.peak_rss = _rss_bytes()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        rss = _rss_bytes()
        if rss is None:  # no /proc: the lifetime peak (kilobytes on Linux)
            self.peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        else:
            self.peak_rss = max(self.peak_rss or 0, rss)
        if self.device.type == "cuda":
            self.peak_cuda = torch.cuda.max_memory_allocated(self.device)

    def as_dict(self) -> dict:
        gib = 1 << 30
        return {
            "peak_rss_gib": None if self.peak_rss is None else round(self.peak_rss / gib, 3),
            "peak_cuda_gib": None if self.peak_cuda is None else round(self.peak_cuda / gib, 3),
        }


@contextmanager
def _global_layer_marks(model, clock: Clock, marks: dict) -> Iterator[None]:
    """Time stamps when the first global layer starts and the last one ends (forward hooks)."""
    layers = model.global_layers

    def before(_module, _args):
        marks.setdefault("global_start", clock.now())

    def after(_module, _args, _out):
        marks["global_end"] = clock.now()

    hooks = [layers[0].register_forward_pre_hook(before), layers[-1].register_forward_hook(after)]
    try:
        yield
    finally:
        for h in hooks:
            h.remove()


def _answers_key(answers: Sequence[Answer]) -> list[tuple]:
    return [(a.text, a.char_start, a.char_end, a.page) for a in answers]


def _same(staged: Sequence[Answer], piped: Sequence[Answer]) -> tuple[bool, float]:
    """(same spans and texts, largest score difference)."""
    diff = max((abs(a.score - b.score) for a, b in zip(staged, piped, strict=False)), default=0.0)
    return _answers_key(staged) == _answers_key(piped) and len(staged) == len(piped), diff


def _state_stats(pipeline) -> dict:
    """The pipeline's work counters (``pipeline.stats()``, else the state cache's); a row keeps what its
    ``pipeline.answer`` call changed (cold: one encoder pass and one index build; cached: memory hits)."""
    if hasattr(pipeline, "stats"):
        return dict(pipeline.stats())
    states = pipeline.states
    out = dict(states.stats()) if hasattr(states, "stats") else {"encoder_passes": states.encoded}
    lex = pipeline.lexical_reader()
    if hasattr(lex, "stats"):
        out.update(lex.stats())
    return out


# ---- documents ---------------------------------------------------------------------------------------------
def haystack(kind: str = "auto", data_root: Path | None = None) -> tuple[str, tuple[str, ...]]:
    """("cuad" | "generated", texts): CUAD validation contracts when present (``auto``), else generated
    contracts (no shared data needed)."""
    if kind in ("auto", "cuad"):
        try:
            from longctx.datasets.needles import cuad_haystack

            docs = cuad_haystack("validation", data_root)
            if docs:
                return "cuad", docs
        except (OSError, ValueError, KeyError):
            if kind == "cuad":
                raise
    from longctx.datasets.short_contracts import short_contract

    return "generated", tuple(short_contract(s, "train", pages=8).text for s in range(40, 46))


def make_document(length: int, seed: int, hay: Sequence[str]):
    """(document, [question 1, question 2], [value 1, value 2]) with two needles at ``DEPTHS``."""
    from longctx.datasets.facts import make_fact_document

    fd = make_fact_document(
        length, DEPTHS, seed, "eval", "validation", haystack=hay, absent=0, measure=length <= 262144
    )
    questions = [q for q in fd.questions if q.fact is not None][: len(DEPTHS)]
    doc = ReaderDocument.from_text(f"bench-reader-{length}-{seed}", fd.text)
    return doc, [Query(q.text) for q in questions], [fd.facts[q.fact].value for q in questions]


# ---- the staged path ---------------------------------------------------------------------------------------
@torch.inference_mode()
def document_stages(span, document: ReaderDocument, lexical: LexicalReader, clock: Clock) -> DocumentState:
    """``DocumentStates.get`` + the span reader's document side + the BM25 index, one stage at a time."""
    model = span.model
    with clock.stage("tokenize"):
        tok = load_tokenizer()
        doc = tokenize_text(document.text, tok)
        layout = chunk_layout(doc, min(510, model.cfg.max_positions - 2), 0, tok)
    with clock.stage("encode"):
        states = model.encode_document(layout)
    state = DocumentState(text_key(document.text), np.asarray(doc.offsets).reshape(-1, 2), states)
    with clock.stage("units"):
        span.states.units(document, state)
        span.states.evidence(document, state)
    with clock.stage("index"):
        lexical.index(document)
    return state


@torch.inference_mode()
def question_stages(
    span, document: ReaderDocument, state: DocumentState, query: Query, clock: Clock, top_k: int
) -> tuple[list[Answer], int]:
    """``SpanAnswerer.trace`` for one question, one stage at a time: (answers, kept tokens)."""
    model = span.model
    units = span.states.units(document, state)
    dside = span.states.evidence(document, state)
    with clock.stage("query"):
        row = query_ids(query.text, model.cfg.max_query_len)
        ids = torch.tensor([row], dtype=torch.long)
        mask = torch.ones(1, len(row), dtype=torch.bool)
        q_states, q_mask, qside = model.question(ids, mask)
    with clock.stage("prune"):
        scores = model.score(dside, qside)
        kept = [span._kept(document, state, query, scores.logits[0], dside.segment_len)]
    marks: dict[str, float] = {}
    with _global_layer_marks(model, clock, marks):
        t0 = clock.now()
        read = model.read(q_states, q_mask, qside, state.states, dside, scores, kept)
        t1 = clock.now()
    start, end = marks.get("global_start", t0), marks.get("global_end", t0)
    clock.add("gather", start - t0)
    clock.add("global", end - start)
    clock.add("heads", t1 - end)
    with clock.stage("ranker"):
        na = float(read.no_answer_logit[0])
        logits = {
            int(u): float(read.segment_logits[0, m])
            for m, u in enumerate(read.kept_segments[0].tolist())
            if u >= 0
        }
        order = torch.argsort(scores.logits[0].float(), descending=True, stable=True)
        rank = np.empty(len(units), dtype=np.int64)  # computed by trace for every question: kept in the cost
        rank[order.cpu().numpy()] = np.arange(len(units))
        ranked = sorted(logits.items(), key=lambda kv: -kv[1])
        scored = [(u, _sigmoid(lg - na + span.answer_bias)) for u, lg in ranked]
        answers = span._answers(document, units, scored, top_k)
    kept_tokens = int((read.kept_tokens[0] >= 0).sum())
    return answers, kept_tokens


def _fresh_span(pipeline):
    """The pipeline's span reader with an empty state cache and its own lexical reader (a cold start)."""
    span = copy.copy(pipeline.span)
    span.states = DocumentStates(pipeline.model)
    lexical = LexicalReader.default()
    span.lexical_provider = lambda: lexical
    return span, lexical


@contextmanager
def _rho(pipeline, rho: float | None, budget: int | None) -> Iterator[None]:
    old = (pipeline.span.rho, pipeline.span.budget)
    pipeline.span.rho, pipeline.span.budget = rho, budget
    try:
        yield
    finally:
        pipeline.span.rho, pipeline.span.budget = old


def _timed_answer(pipeline, document: ReaderDocument, query: Query, top_k: int) -> tuple[list[Answer], float]:
    """``pipeline.answer`` for one question and its wall time."""
    device = pipeline.model.device
    _sync(device)
    t = time.perf_counter()
    answers = pipeline.answer(document, [query], top_k)[0]
    _sync(device)
    return answers, time.perf_counter() - t


def _row(run: str, pipeline, n_tokens: int, clock: Clock, kept: int, mem: PeakMemory) -> dict:
    stages = {s: clock.seconds[s] for s in STAGES if s in clock.seconds}
    return {
        "run": run,
        "tokens": n_tokens,
        "rho": pipeline.span.rho if pipeline.span.rho is not None else pipeline.model.cfg.rho,
        "budget": pipeline.span._budget(n_tokens),
        "kept_tokens": kept,
        "stages": stages,
        "stage_sum_s": sum(stages.values()),
        **mem.as_dict(),
    }


def _compare(row: dict, staged, piped, wall: float, value: str, before: dict, after: dict) -> dict:
    same, diff = _same(staged, piped)
    row.update(
        pipeline_s=wall,
        tokens_per_s=row["tokens"] / wall if wall else None,
        same_answer=same,
        score_diff=diff,
        found=piped[0].text is not None and value in piped[0].text,
        cache={k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)},
    )
    return row


def bench_length(
    pipeline,
    length: int,
    rhos: list[float | None],
    budget: int | None,
    hay,
    seed: int,
    top_k: int,
    log,
    repeats: int = 3,
):
    """The cold row (one read: a first question happens once) and the cached row(s), one per rho, each the
    best of ``repeats`` reads, of one document length."""
    device = pipeline.model.device
    t0 = time.perf_counter()
    document, queries, values = make_document(length, seed, hay)
    generate_s = time.perf_counter() - t0
    rows = []
    with _rho(pipeline, rhos[0], budget):
        # cold, staged: a copy of the span reader with empty caches and its own lexical reader
        span, lexical = _fresh_span(pipeline)
        clock = Clock(device)
        with PeakMemory(device) as mem:
            state = document_stages(span, document, lexical, clock)
            staged, kept = question_stages(span, document, state, queries[0], clock, top_k)
        n_tokens = state.n_tokens
        row = _row("cold", pipeline, n_tokens, clock, kept, mem)
        del state, span, lexical
        # cold, the pipeline itself: nothing of this document is in its caches yet
        before = _state_stats(pipeline)
        piped, wall = _timed_answer(pipeline, document, queries[0], top_k)
        rows.append(_compare(row, staged, piped, wall, values[0], before, _state_stats(pipeline)))
    for rho in rhos:
        with _rho(pipeline, rho, budget):
            clocks = []
            with PeakMemory(device) as mem:
                for _ in range(repeats):
                    clock = Clock(device)
                    t = clock.now()
                    state = pipeline.states.get(document)  # the pipeline's cache: no encoder pass
                    pipeline.lexical_reader().index(document)  # and its BM25 index
                    clock.add("lookup", clock.now() - t)
                    staged, kept = question_stages(pipeline.span, document, state, queries[1], clock, top_k)
                    clocks.append(clock)
            best = Clock(
                device
            )  # best of the repeats, stage by stage (a shared machine's noise is one-sided)
            best.seconds = {k: min(c.seconds[k] for c in clocks) for k in clocks[0].seconds}
            row = _row("cached", pipeline, n_tokens, best, kept, mem)
            row.update(cache_lookup_s=best.seconds["lookup"], repeats=repeats)
            before = _state_stats(pipeline)
            walls = [_timed_answer(pipeline, document, queries[1], top_k) for _ in range(repeats)]
            piped, wall = walls[0][0], min(w for _, w in walls)
            rows.append(_compare(row, staged, piped, wall, values[1], before, _state_stats(pipeline)))
    for r in rows:
        r.update(length=length, generate_s=generate_s)
        log(_progress(r))
    return rows


def _progress(row: dict) -> str:
    return (
        f"  {length_label(row['length'])} {row['run']} rho={row['rho']:g}: "
        f"pipeline {row['pipeline_s']:.3f} s, stages {row['stage_sum_s']:.3f} s, "
        f"same answer {row['same_answer']}"
    )


# ---- run + report ------------------------------------------------------------------------------------------
def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def load_pipeline(checkpoint: Path, device: torch.device, encoder_dtype: str, backend: str | None):
    pipeline = ReaderPipeline.load(checkpoint, attention_backend=backend, encoder_dtype=encoder_dtype)
    if pipeline.model.device != device:
        pipeline.model.to(device)
    return pipeline


def targets(rows: list[dict], device: torch.device) -> dict:
    """The 1M-token targets, checked on the rows of a document of about 1M tokens (GPU runs only)."""
    big = [r for r in rows if r["length"] >= TARGETS["tokens"]]
    out = {"cold_target_s": TARGETS["cold_s"], "cached_target_s": TARGETS["cached_s"], "applies": False}
    if device.type != "cuda" or not big:
        out["note"] = "targets are for one H100/H200 at 1M tokens; this run has no such row"
        return out
    cold = min(r["pipeline_s"] for r in big if r["run"] == "cold")
    cached = min(r["pipeline_s"] for r in big if r["run"] == "cached")
    out.update(
        applies=True,
        cold_s=cold,
        cached_s=cached,
        cold_ok=cold <= TARGETS["cold_s"],
        cached_ok=cached <= TARGETS["cached_s"],
    )
    return out


def run(
    lengths: Sequence[int],
    rhos: list[float | None],
    *,
    budget: int | None = None,
    device: str = "auto",
    encoder_dtype: str = "auto",
    attention_backend: str | None = None,
    checkpoint: Path = PACKAGED_CHECKPOINT,
    haystack_kind: str = "auto",
    data_root: Path | None = None,
    world_sizes: Sequence[int] = (1,),
    seed: int = 0,
    top_k: int = 3,
    repeats: int = 3,
    command: str = "longctx bench reader",
    log=print,
) -> dict:
    dev = _device(device)
    load_start = [round(x, 2) for x in os.getloadavg()]
    t0 = time.perf_counter()
    pipeline = load_pipeline(Path(checkpoint), dev, encoder_dtype, attention_backend)
    load_s = time.perf_counter() - t0
    model = pipeline.model
    hay_kind, hay = haystack(haystack_kind, data_root)
    # warm-up (not reported): the tokenizer, the kernels' first calls, the allocator
    bench_length(pipeline, 2048, rhos[:1], budget, hay, seed + 999, top_k, lambda _m: None, 1)
    gl = model.global_layers[0]
    kernel = select_backend(
        gl.backend, dev, next(gl.parameters()).dtype, need_mask=True, head_dim=gl.head_dim
    ).name
    rows = []
    for length in lengths:
        log(f"bench reader: {length_label(length)} ...")
        rows.extend(bench_length(pipeline, int(length), rhos, budget, hay, seed, top_k, log, repeats))
    enc = str(next(model.local.parameters()).dtype).removeprefix("torch.")
    glob = str(next(gl.parameters()).dtype).removeprefix("torch.")
    return {
        "command": command,
        "device": _device_name(dev),
        "device_type": dev.type,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "encoder_dtype": enc,
        "global_dtype": glob,
        "attention_kernel": kernel,
        "checkpoint": str(checkpoint),
        "haystack": hay_kind,
        "state_cache_on_disk": getattr(pipeline.states, "store", None) is not None,
        "repeats": repeats,
        "world_sizes": [1],
        "world_sizes_asked": list(world_sizes),
        "world_note": "1 only: multi-rank reading is not run by this command",
        "model_load_s": load_s,
        "machine": {
            "cpus": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "platform": platform.platform(terse=True),
            "load_average_start": load_start,
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "rows": rows,
        "targets": targets(rows, dev),
        "all_same_answer": all(r["same_answer"] for r in rows),
    }


def _s(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        "Command:",
        "",
        "```",
        result["command"],
        "```",
        "",
        f"Device: {result['device']}; torch {result['torch']}; local encoder {result['encoder_dtype']}, "
        f"global layers {result['global_dtype']} on `{result['attention_kernel']}`; haystack "
        f"{result['haystack']}; world size {result['world_note']}. Machine: {m['cpus']} CPUs, "
        f"load average (1 min) at the start {m['load_average_start'][0]}, at the end "
        f"{m['load_average'][0]}.",
        "",
        "Seconds per stage; *cold* = first question on the document (tokenize, encode, index included; one "
        "read), *cached* = second question on the same document (state and index from the cache; best of "
        f"{result.get('repeats', 1)} reads, stage by stage, and of the pipeline's times). *stages* = the "
        "sum of the stages run one by one; *pipeline* = `pipeline.answer` for the same question, timed on "
        "its own (tokens/s from it); *encodes / index builds* = what that call added to the pipeline's "
        "cache counters; *same* = the staged answer equals the pipeline's.",
        "",
        "| length | tokens | run | rho | budget | kept | " + " | ".join(STAGES) + " | stages | pipeline "
        "| tokens/s | peak mem (GiB) | encodes / index builds | same |",
        "|---|---:|---|---:|---:|---:|" + "---:|" * len(STAGES) + "---:|---:|---:|---:|---:|---|",
    ]
    for r in result["rows"]:
        mem = r["peak_cuda_gib"] if r["peak_cuda_gib"] is not None else r["peak_rss_gib"]
        cells = [_s(r["stages"].get(s)) if s in r["stages"] else "—" for s in STAGES]
        lines.append(
            f"| {length_label(r['length'])} | {r['tokens']} | {r['run']} | {r['rho']:g} | {r['budget']} "
            f"| {r['kept_tokens']} | " + " | ".join(cells) + f" | {_s(r['stage_sum_s'])} "
            f"| {_s(r['pipeline_s'])} | {r['tokens_per_s']:,.0f} | {_s(mem)} "
            f"| {r['cache'].get('encoder_passes', 0)} / {r['cache'].get('index_builds', 0)} "
            f"| {'yes' if r['same_answer'] else '**no**'} |"
        )
    t = result["targets"]
    if t["applies"]:
        lines += [
            "",
            f"Targets at 1M tokens: cold {t['cold_s']:.2f} s (target <= {t['cold_target_s']} s: "
            f"{'met' if t['cold_ok'] else 'not met'}), cached {t['cached_s']:.2f} s (target <= "
            f"{t['cached_target_s']} s: {'met' if t['cached_ok'] else 'not met'}).",
        ]
    mem_kind = "CUDA allocator peak" if result["device_type"] == "cuda" else "resident set size, sampled"
    lines += ["", f"Peak memory: {mem_kind}, during the staged run."]
    return "\n".join(lines) + "\n"


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="longctx bench reader", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lengths", type=parse_lengths, default=None, help="e.g. 4K,32K,128K,1M (default: 4K,32K,128K on "
        "CPU, 128K,1M on a GPU)"
    )  # fmt: skip
    parser.add_argument("--rho", type=parse_rhos, default=[None], help="kept share(s), e.g. default,0.05")
    parser.add_argument("--budget", type=int, default=None, help="cap on the tokens the global layers read")
    parser.add_argument("--world-sizes", type=_ints, default=[1], help="accepted; this command runs W=1 only")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--encoder-dtype", default="auto", choices=["auto", "float32", "bfloat16"])
    parser.add_argument("--attention-backend", default=None, help="global layers' kernel (default: config)")
    parser.add_argument("--checkpoint", type=Path, default=PACKAGED_CHECKPOINT)
    parser.add_argument("--haystack", default="auto", choices=["auto", "cuad", "generated"])
    parser.add_argument("--data-dir", type=Path, default=None, help="shared data folder (CUAD)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="cached reads per rho (best of)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=None, help="JSON results file")
    parser.add_argument("--markdown", type=Path, default=None, help="page to write the table block to")
    parser.add_argument("--label", default="cpu", help="name of the block in --markdown")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = _device(args.device)
    lengths = args.lengths or list(GPU_LENGTHS if dev.type == "cuda" else CPU_LENGTHS)
    if any(w != 1 for w in args.world_sizes):
        print(
            "longctx bench reader: world sizes: 1 only (multi-rank reading is not run here)", file=sys.stderr
        )
    command = ("longctx bench reader " + " ".join(sys.argv[1:] if argv is None else argv)).strip()
    data_root = args.data_dir
    if data_root is None:
        from longctx.config import get_settings

        data_root = get_settings().data_root
    result = run(
        lengths,
        args.rho,
        budget=args.budget,
        device=args.device,
        encoder_dtype=args.encoder_dtype,
        attention_backend=args.attention_backend,
        checkpoint=args.checkpoint,
        haystack_kind=args.haystack,
        data_root=data_root,
        world_sizes=args.world_sizes,
        seed=args.seed,
        top_k=args.top_k,
        repeats=max(1, args.repeats),
        command=command,
    )
    text = markdown(result)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, default=str))
    if args.markdown:
        write_block(args.markdown, args.label, text, marker=MARKER, title="# Benchmarks")
    if not result["all_same_answer"]:
        print("bench reader: a staged answer differs from pipeline.answer (see 'same')", file=sys.stderr)
        return 1
    return 0


__all__ = ["STAGES", "TARGETS", "bench_length", "haystack", "main", "make_document", "markdown", "run"]
