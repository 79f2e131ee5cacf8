"""The multi-device worker: one process per device in a ``torch.distributed`` group; rank 0 takes the tasks.

``longctx worker --queues gpu --devices 0,1`` runs two ranks on GPUs 0 and 1 (NCCL); ``--devices cpu:2`` runs
two CPU ranks (gloo), so everything here is testable without a GPU. One device (``--devices 0``) is the
ordinary single-process worker.

* **Rank 0 is the worker process.** It loads the reader, consumes Celery tasks (solo pool), encodes
  documents, runs the evidence scorer and the selection, writes SQL -- everything the single-device worker
  does. Its model's ``group`` is this module's :class:`RankGroup`, so ``LongContextReader.read`` hands the
  global stage to it (``longctx.model.parallel``).
* **Ranks 1..W-1 are followers**: child processes that hold only a copy of the global layers (weights sent by
  rank 0 at start, so every rank reads with the same weights) and wait on a pipe from rank 0. For each global
  stage rank 0 sends the stage's shape down the pipes, scatters each rank its contiguous slice of the
  [question; kept tokens] sequence, all ranks run the layers with ring attention, and rank 0 gathers the
  output. Waiting on a pipe, not on a collective, means an idle worker never trips the collective timeout,
  and a follower whose rank 0 vanished sees the pipe close and exits.
* **Failure**: a follower that has died, a collective that fails (peer gone) or exceeds
  ``LONGCTX_COLLECTIVE_TIMEOUT_S`` (a hung rank) makes the stage raise :class:`RankFailure`, a
  ``WorkerFault`` whose reason the job's document gets as its error. Rank 0 then kills the followers and
  destroys the group; the next stage (or the next task, :func:`before_job`) starts fresh ones. A follower that
  dies while the worker is idle is replaced before the next task, so that task is not failed.
* **Why the leader/follower split** rather than every rank running the whole pipeline in lockstep: one source
  of truth for what is read (no risk of ranks selecting different tokens and hanging in mismatched
  collectives), no duplicated encoding, and followers need neither the database nor the document.
"""

from __future__ import annotations

import contextlib
import io
import logging
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from longctx.core.spawn import start_clean
from longctx.jobs.errors import WorkerFault
from longctx.model.parallel import StageShape, follow_global_stage, lead_global_stage

log = logging.getLogger(__name__)

TIMEOUT_ENV = "LONGCTX_COLLECTIVE_TIMEOUT_S"
#: How long one collective of a stage may take before the stage fails (a hung rank).
DEFAULT_TIMEOUT_S = 120.0
#: How long followers may take to start (spawn, import torch, build the layers).
STARTUP_TIMEOUT_S = 300.0
#: How long an idle follower may take to answer the health check before each task.
PING_TIMEOUT_S = 5.0


class RankFailure(WorkerFault):
    """A rank of the multi-device worker stopped or hung during a global stage."""


@dataclass(frozen=True)
class DeviceSpec:
    """What ``--devices`` asks for: ``cpu:N`` (N gloo ranks) or GPU ids ``0,1,...`` (one NCCL rank each)."""

    kind: str  # "cpu" | "cuda"
    world: int
    ids: tuple[str, ...] = ()  # the GPU ids (CUDA_VISIBLE_DEVICES), rank r on the r-th

    @property
    def backend(self) -> str:
        return "gloo" if self.kind == "cpu" else "nccl"

    @property
    def visible_devices(self) -> str:
        """CUDA_VISIBLE_DEVICES for the worker: the listed GPUs, or none for CPU ranks."""
        return ",".join(self.ids) if self.kind == "cuda" else ""

    def device(self, rank: int) -> torch.device:
        return torch.device("cpu") if self.kind == "cpu" else torch.device("cuda", rank)


def parse_devices(text: str) -> DeviceSpec:
    """``cpu``, ``cpu:N`` or comma-separated GPU ids; ValueError with the reason otherwise."""
    t = text.strip()
    if t == "cpu" or t.startswith("cpu:"):
        n = t.partition(":")[2] or "1"
        if not n.isdigit() or int(n) < 1:
            raise ValueError(f"--devices {text!r}: expected cpu:N with N >= 1 CPU ranks")
        return DeviceSpec("cpu", int(n))
    ids = tuple(x.strip() for x in t.split(","))
    if not t or any(not x for x in ids) or len(set(ids)) != len(ids):
        raise ValueError(f"--devices {text!r}: expected distinct GPU ids like 0,1 or cpu:N")
    return DeviceSpec("cuda", len(ids), ids)


def collective_timeout_s() -> float:
    value = os.environ.get(TIMEOUT_ENV)
    return float(value) if value else DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class _FollowerInit:
    """Everything a follower needs, sent once at spawn (picklable)."""

    host: str
    port: int
    spec: DeviceSpec
    timeout_s: float
    startup_timeout_s: float
    threads: int
    config: dict[str, Any]
    weights: bytes  # the global layers' state dict (torch.save)
    dtype: str


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "is running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
        return f"was killed by signal {-code}"
    return f"exited with code {code}"


class RankGroup:
    """Rank 0's side of the worker's rank group: starts the followers, drives each global stage, restarts.

    Set as ``model.group`` (:func:`attach`), it is the model's ``StageDriver``."""

    def __init__(
        self,
        model: nn.Module,
        spec: DeviceSpec,
        *,
        timeout_s: float | None = None,
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
    ) -> None:
        if spec.world < 2:
            raise ValueError("a rank group needs at least two ranks")
        self.model = model
        self.spec = spec
        self.timeout_s = float(timeout_s if timeout_s is not None else collective_timeout_s())
        self.startup_timeout_s = float(startup_timeout_s)
        self.starts = 0  # how many times the followers were (re)started
        self.stages = 0  # global stages run across the ranks
        self._lock = threading.RLock()
        self._procs: list[Any] = []
        self._conns: list[Any] = []
        self._store = None
        self._up = False

    # ---- state ----------------------------------------------------------------------------------------
    @property
    def world(self) -> int:
        return self.spec.world

    @property
    def up(self) -> bool:
        return self._up

    @property
    def pids(self) -> list[int]:
        """The followers' process ids (rank 1 first)."""
        return [p.pid for p in self._procs]

    def _dead(self) -> list[tuple[int, int | None]]:
        return [(r, p.exitcode) for r, p in enumerate(self._procs, start=1) if not p.is_alive()]

    # ---- start / stop ---------------------------------------------------------------------------------
    def _init(self, port: int) -> _FollowerInit:
        layers = self.model.global_layers
        buf = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in layers.state_dict().items()}, buf)
        cpus = os.cpu_count() or 1
        return _FollowerInit(
            host="127.0.0.1",
            port=port,
            spec=self.spec,
            timeout_s=self.timeout_s,
            startup_timeout_s=self.startup_timeout_s,
            threads=max(1, cpus // self.world) if self.spec.kind == "cpu" else max(1, min(4, cpus)),
            config=self.model.cfg.to_dict(),
            weights=buf.getvalue(),
            dtype=str(next(layers.parameters()).dtype).removeprefix("torch."),
        )

    def start(self) -> RankGroup:
        """Spawn the followers and form the process group (rank 0 is this process). No-op when up."""
        with self._lock:
            if self._up:
                return self
            self._teardown()
            if dist.is_initialized():
                raise RuntimeError("torch.distributed is already initialised in this process")
            if self.spec.kind == "cuda":
                # a collective timeout raises on the waiting rank instead of the watchdog ending the process
                # (inherited by the followers, spawned below)
                os.environ.setdefault("TORCH_NCCL_BLOCKING_WAIT", "1")
                torch.cuda.set_device(0)
            startup = timedelta(seconds=self.startup_timeout_s)
            store = dist.TCPStore("127.0.0.1", 0, self.world, True, startup, wait_for_workers=False)
            init = self._init(store.port)
            ctx = mp.get_context("spawn")
            t0 = time.monotonic()
            try:
                for rank in range(1, self.world):
                    parent, child = ctx.Pipe()
                    proc = ctx.Process(
                        target=_follower_main,
                        args=(rank, init, child),
                        name=f"longctx-rank{rank}",
                        daemon=True,
                    )
                    start_clean(proc)  # the child needs its target's module, not whatever __main__ is
                    child.close()
                    self._procs.append(proc)
                    self._conns.append(parent)
                self._await_ready(time.monotonic() + self.startup_timeout_s)
                dist.init_process_group(
                    self.spec.backend,
                    store=store,
                    rank=0,
                    world_size=self.world,
                    timeout=timedelta(seconds=self.timeout_s),
                )
            except BaseException:
                self._teardown()
                raise
            self._store = store
            self._up = True
            self.starts += 1
            log.info(
                "rank group up: %d %s ranks (%s), followers %s, %.1f s",
                self.world, self.spec.kind, self.spec.backend, self.pids, time.monotonic() - t0,
            )  # fmt: skip
            return self

    def _await_ready(self, deadline: float) -> None:
        waiting = dict(enumerate(self._conns, start=1))
        while waiting:
            for rank, conn in list(waiting.items()):
                proc = self._procs[rank - 1]
                try:
                    if conn.poll(0.05):
                        conn.recv()
                        del waiting[rank]
                        continue
                except EOFError:  # it died before saying it is ready
                    proc.join(5)
                if not proc.is_alive():
                    raise RuntimeError(f"rank {rank} {_describe_exit(proc.exitcode)} at start")
            if time.monotonic() > deadline:
                raise TimeoutError(f"ranks {sorted(waiting)} did not start in {self.startup_timeout_s:g} s")

    def _teardown(self) -> None:
        """Kill the followers (they hold no state) and destroy the process group."""
        for proc in self._procs:
            if proc.is_alive():
                proc.kill()
        for proc in self._procs:
            proc.join(10)
        for conn in self._conns:
            conn.close()
        self._procs, self._conns = [], []
        if dist.is_initialized():
            try:
                dist.destroy_process_group()
            except Exception:  # noqa: BLE001 - a broken group is dropped either way
                log.warning("destroying the broken process group failed", exc_info=True)
        self._store = None
        self._up = False

    def stop(self) -> None:
        """Ask the followers to exit, then tear the group down (the worker is shutting down)."""
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.send(("stop",))
            for proc in self._procs:
                proc.join(10)
            self._teardown()

    def _unresponsive(self) -> list[int]:
        """Ranks that do not answer a ping on their pipe within PING_TIMEOUT_S (dead, stopped or stuck).
        A dead follower's pipe reports end-of-file as soon as the process is gone, before it is reaped."""
        bad = []
        for rank, conn in enumerate(self._conns, start=1):
            try:
                conn.send(("ping",))
            except OSError:
                bad.append(rank)
        deadline = time.monotonic() + PING_TIMEOUT_S
        for rank, conn in enumerate(self._conns, start=1):
            if rank in bad:
                continue
            try:
                ok = conn.poll(max(0.0, deadline - time.monotonic())) and conn.recv() == ("pong",)
            except (EOFError, OSError):
                ok = False
            if not ok:
                bad.append(rank)
        return bad

    def ensure_healthy(self) -> None:
        """Between tasks: replace followers that died or hung while idle, restart a group torn down by a
        failure. A start that fails is logged; the next stage tries again and fails its document with the
        reason."""
        with self._lock:
            bad = self._unresponsive() if self._up else []
            if bad:
                for rank in bad:
                    self._procs[rank - 1].join(1.0)
                what = "; ".join(
                    f"rank {r} {_describe_exit(code)}" if (code := self._procs[r - 1].exitcode) is not None
                    else f"rank {r} did not answer"
                    for r in bad
                )  # fmt: skip
                log.warning("rank group: %s while idle; restarting", what)
                self._teardown()
            if not self._up:
                try:
                    self.start()
                except Exception:  # noqa: BLE001
                    log.exception("rank group: could not start the ranks")

    # ---- the global stage (StageDriver) ---------------------------------------------------------------
    def run_global_stage(
        self, layers: Sequence[nn.Module], x: Tensor, cos: Tensor, sin: Tensor, key_mask: Tensor | None
    ) -> Tensor:
        if layers is not self.model.global_layers:
            raise ValueError("this rank group serves the global layers of the model it was attached to")
        with self._lock:
            if not self._up:
                try:
                    self.start()
                except Exception as exc:
                    raise RankFailure(
                        f"the multi-device worker could not start its {self.world} ranks "
                        f"({type(exc).__name__}: {str(exc)[:200]})"
                    ) from exc
            dead = self._dead()
            if dead:
                reason = self._reason(None, dead)
                self._teardown()
                raise RankFailure(reason)
            shape = StageShape.of(x, cos, key_mask)
            backend = getattr(layers[0], "backend", "auto")
            try:
                for conn in self._conns:
                    conn.send(("stage", shape, backend))
                out = lead_global_stage(layers, x, cos, sin, key_mask)
                self.stages += 1
                return out
            except BaseException as exc:
                reason = self._reason(exc, self._await_deaths(2.0))
                log.error("rank group: %s", reason)
                self._teardown()
                if not isinstance(exc, Exception):
                    raise
                raise RankFailure(reason) from exc

    def _await_deaths(self, seconds: float) -> list[tuple[int, int | None]]:
        """A peer's death often reaches rank 0 as a broken connection before the process is reaped."""
        deadline = time.monotonic() + seconds
        while not (dead := self._dead()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return dead

    @staticmethod
    def _dead_text(dead: list[tuple[int, int | None]]) -> str:
        return "; ".join(f"rank {r} {_describe_exit(code)}" for r, code in dead)

    def _reason(self, exc: BaseException | None, dead: list[tuple[int, int | None]]) -> str:
        after = "; the worker restarts its ranks for the next document"
        if dead:
            return f"a rank of the multi-device worker stopped ({self._dead_text(dead)}){after}"
        text = str(exc).lower()
        if "timeout" in text or "timed out" in text:
            return (
                f"a collective of the multi-device worker did not finish within {self.timeout_s:g} s "
                f"({TIMEOUT_ENV}): a rank hung{after}"
            )
        return f"the multi-device worker's ranks failed in the global stage ({type(exc).__name__}){after}"


# ---- followers ---------------------------------------------------------------------------------------------
def _build_layers(init: _FollowerInit, device: torch.device) -> nn.ModuleList:
    from longctx.model.reader_model import GlobalLayer, ReaderConfig

    cfg = ReaderConfig.from_dict(init.config)
    layers = nn.ModuleList(GlobalLayer(cfg) for _ in range(cfg.global_layers))
    layers.load_state_dict(torch.load(io.BytesIO(init.weights), map_location="cpu"))
    return layers.to(device=device, dtype=getattr(torch, init.dtype)).eval()


def _follower_main(rank: int, init: _FollowerInit, conn) -> None:
    """A follower: join the group, then run one global stage per message from rank 0 until told to stop
    (or until rank 0's end of the pipe closes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches rank 0, which stops the followers
    torch.set_num_threads(init.threads)
    device = init.spec.device(rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    layers = _build_layers(init, device)
    conn.send(("ready", rank))
    store = dist.TCPStore(
        init.host, init.port, init.spec.world, False, timedelta(seconds=init.startup_timeout_s)
    )
    dist.init_process_group(
        init.spec.backend,
        store=store,
        rank=rank,
        world_size=init.spec.world,
        timeout=timedelta(seconds=init.timeout_s),
    )
    try:
        with torch.inference_mode():
            while True:
                try:
                    msg = conn.recv()
                except (EOFError, OSError):
                    return
                if msg[0] == "ping":
                    conn.send(("pong",))
                    continue
                if msg[0] != "stage":
                    return
                _, shape, backend = msg
                for layer in layers:
                    layer.backend = backend
                try:
                    follow_global_stage(layers, shape, None, device)
                except Exception as exc:  # rank 0 saw it too and restarts the group; no traceback spam
                    sys.stderr.write(f"longctx rank {rank}: stage failed ({type(exc).__name__}); exiting\n")
                    return
    finally:
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


# ---- the worker ------------------------------------------------------------------------------------------
_active: RankGroup | None = None


def attach(reader: Any, spec: DeviceSpec, *, timeout_s: float | None = None) -> RankGroup:
    """Start a rank group for the reader's model and make it the model's global-stage driver."""
    global _active
    model = getattr(reader, "model", None)
    if model is None or not hasattr(model, "global_layers"):
        raise ValueError(
            f"several devices need the neural reader (this worker's reader is {type(reader).__name__}); "
            "set LONGCTX_READER=neural or use one device"
        )
    group = RankGroup(model, spec, timeout_s=timeout_s).start()
    model.group = group
    _active = group
    return group


def detach(group: RankGroup) -> None:
    """Stop the group's ranks; its model reads on this device again."""
    global _active
    group.stop()
    if group.model.group is group:
        group.model.group = None
    if _active is group:
        _active = None


def start_worker_ranks(devices: str | None, settings) -> RankGroup | None:
    """``longctx worker --devices``: the rank group of this worker's reader, or None for one device."""
    if not devices:
        return None
    spec = parse_devices(devices)
    if spec.world < 2:
        return None
    from longctx.jobs.readers import load_reader

    return attach(load_reader(settings), spec)


def before_job() -> None:
    """Called by the analysis task before each job: the worker's ranks are up (or being restarted)."""
    if _active is not None:
        _active.ensure_healthy()


__all__ = [
    "DEFAULT_TIMEOUT_S",
    "TIMEOUT_ENV",
    "DeviceSpec",
    "RankFailure",
    "RankGroup",
    "attach",
    "before_job",
    "detach",
    "parse_devices",
    "start_worker_ranks",
]
