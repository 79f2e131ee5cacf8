"""`longctx serve`: the embedded default in one command.

It applies migrations, makes sure an API key exists (first start: tenant `default`, key written to
`<data>/api-key`, mode 0600), re-enqueues unfinished work, and then supervises real processes:

* the REST API (uvicorn) on 127.0.0.1:PORT,
* a Celery worker for the `cpu` queue (ingest, deletes, webhooks; thread pool, parsing runs in its own
  sandboxed child processes),
* a Celery worker for the `gpu` queue (analysis; solo pool, so CUDA is initialised in that process only),
* the Streamlit UI (`webui/app.py`, when present and not `--no-ui`).

Every `reaper_interval_s` it runs the reaper (`longctx.recovery.reap`): a job or parse whose worker died
(its lease lapsed) is re-queued or failed, so a killed worker's job ends once the worker is restarted.

Each child runs in its own process group and gets SIGTERM when this supervisor dies (PR_SET_PDEATHSIG),
so Ctrl-C / SIGTERM stops everything, grandchildren included: SIGTERM to each group, a grace period, then
SIGKILL.
A child that exits on its own is restarted (at most `MAX_RESTARTS` times), after that the service stops.
The broker is the SQLite-file transport (see `longctx.broker.transport`) unless `LONGCTX_BROKER_URL` names
another; with `LONGCTX_BROKER_URL=redis://...` and `LONGCTX_DATABASE_URL=postgresql://...` the same code runs
the production way.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from longctx.config import PACKAGE_DIR, Settings, get_settings

log = logging.getLogger("longctx.serve")

GRACE_S = 15.0
MAX_RESTARTS = 3
HOUSEKEEPING_S = 600.0
API_KEY_FILE = "api-key"


def webui_app_path() -> Path | None:
    """`webui/app.py` of this installation, if the UI is present."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("webui")
    except (ImportError, ValueError):
        spec = None
    candidates = []
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) / "app.py" for p in spec.submodule_search_locations]
    candidates.append(PACKAGE_DIR.parent / "webui" / "app.py")
    return next((p for p in candidates if p.is_file()), None)


def streamlit_command(app_py: Path, port: int, host: str) -> list[str]:
    """The command line that runs the UI (headless, no usage statistics) with this interpreter."""
    return [
        sys.executable, "-m", "streamlit", "run", str(app_py),
        "--server.port", str(port), "--server.address", host,
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip


def _child_setup() -> None:  # runs in the child between fork and exec
    os.setpgid(0, 0)
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: die with the supervisor
    except OSError:
        pass


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    restarts: int = 0
    started_at: float = 0.0
    extra_env: dict[str, str] = field(default_factory=dict)

    def start(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(self.argv, env={**env, **self.extra_env}, preexec_fn=_child_setup)  # noqa: PLW1509
        self.started_at = time.monotonic()
        log.info("started %s (pid %s)", self.name, self.proc.pid)

    def signal_group(self, sig: int) -> None:
        if self.proc is None or self.proc.poll() is not None and sig != signal.SIGKILL:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)


def ensure_bootstrap_key(settings: Settings) -> str | None:
    """First start: create tenant `default` with a key saved to `<data>/api-key` (0600). Returns the key."""
    from sqlalchemy import func, select

    from longctx.storage import repositories as repo
    from longctx.storage.models import ApiKey
    from longctx.storage.session import session_scope

    path = settings.resolved_data_dir / API_KEY_FILE
    if path.is_file():
        return path.read_text().strip() or None
    with session_scope(settings) as s:
        if s.scalar(select(func.count()).select_from(ApiKey)):
            return None  # keys were made by an admin; do not invent one
        tenant = repo.get_or_create_tenant(s, "default")
        key = repo.create_api_key(s, tenant, "serve bootstrap")
        repo.audit(
            s,
            tenant_id=tenant.id,
            actor="system",
            action="create",
            object_type="api_key",
            object_id=key.record.id,
            detail={"name": "serve bootstrap"},
        )
        secret = key.secret
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    return secret


def _wait_http(url: str, timeout: float, procs: list[Child]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if any(c.proc is not None and c.proc.poll() is not None for c in procs):
            return False
        time.sleep(0.2)
    return False


class Supervisor:
    def __init__(  # noqa: ANN001
        self,
        children: list[Child],
        env: dict[str, str],
        housekeeping=None,
        reaper=None,
        reaper_s: float = 10.0,
    ):
        self.children = children
        self.housekeeping = housekeeping
        self.reaper = reaper
        self.reaper_s = reaper_s
        self.env = env
        self.stopping = False
        self.exit_code = 0

    def _on_signal(self, signum: int, _frame) -> None:  # noqa: ANN001
        if not self.stopping:
            log.info("received %s, stopping", signal.Signals(signum).name)
        self.stopping = True

    def run(self, on_started=None) -> int:  # noqa: ANN001
        old = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        }
        try:
            for child in self.children:
                child.start(self.env)
            if on_started is not None and not self.stopping:
                on_started(self)
            next_housekeeping = time.monotonic() + HOUSEKEEPING_S
            next_reap = time.monotonic() + self.reaper_s
            while not self.stopping:
                if self.reaper is not None and time.monotonic() > next_reap:
                    next_reap = time.monotonic() + self.reaper_s
                    try:
                        self.reaper()
                    except Exception:  # noqa: BLE001 - a database hiccup: the next tick tries again
                        log.warning("reaper pass failed", exc_info=True)
                if self.housekeeping is not None and time.monotonic() > next_housekeeping:
                    next_housekeeping = time.monotonic() + HOUSEKEEPING_S
                    try:
                        self.housekeeping()
                    except Exception:  # noqa: BLE001 - housekeeping never stops the service
                        log.warning("housekeeping failed", exc_info=True)
                for child in self.children:
                    code = child.proc.poll() if child.proc is not None else None
                    if code is None or self.stopping:
                        continue
                    if child.restarts >= MAX_RESTARTS:
                        log.error(
                            "%s exited with %s again; giving up and stopping the service", child.name, code
                        )
                        self.exit_code = 1
                        self.stopping = True
                        break
                    child.restarts += 1
                    log.warning(
                        "%s exited with %s; restarting (%d/%d)",
                        child.name,
                        code,
                        child.restarts,
                        MAX_RESTARTS,
                    )
                    time.sleep(min(5.0, 0.5 * 2**child.restarts))
                    child.start(self.env)
                time.sleep(0.2)
        finally:
            self.shutdown()
            for sig, handler in old.items():
                signal.signal(sig, handler)
        return self.exit_code

    def shutdown(self) -> None:
        for child in self.children:
            child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_S
        for child in self.children:
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0fs; killing it", child.name, GRACE_S)
        for child in self.children:  # grandchildren too (parse processes, pool processes)
            child.signal_group(signal.SIGKILL)
            if child.proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.proc.wait(timeout=5)
        log.info("stopped")


def build_children(
    settings: Settings, *, host: str, port: int, ui_port: int, ui: bool, cpu_concurrency: int = 2
) -> list[Child]:
    py = sys.executable
    cli = [py, "-m", "longctx.cli"]
    children = [
        Child("api", [*cli, "api", "--host", host, "--port", str(port), "--no-migrate"]),
        Child(
            "worker-cpu",
            [
                *cli,
                "worker",
                "--queues",
                "cpu",
                "--pool",
                "threads",
                "--concurrency",
                str(cpu_concurrency),
                "--name",
                f"cpu-{port}@%h",
            ],
        ),
        Child(
            "worker-gpu", [*cli, "worker", "--queues", "gpu", "--pool", "solo", "--name", f"gpu-{port}@%h"]
        ),
    ]
    app_py = webui_app_path() if ui else None
    if app_py is not None:
        children.append(Child("ui", streamlit_command(app_py, ui_port, host)))
    elif ui:
        log.info("no webui/app.py in this installation; starting without the UI")
    return children


def serve(
    *,
    data_dir: Path | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    ui_port: int | None = None,
    ui: bool = True,
    cpu_concurrency: int = 2,
) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s serve %(levelname)s %(message)s")
    if data_dir is not None:
        os.environ["LONGCTX_DATA_DIR"] = str(Path(data_dir).expanduser().resolve())
    settings = get_settings()
    port = port or settings.api_port
    ui_port = ui_port or settings.ui_port
    os.environ.update(
        {"LONGCTX_API_HOST": host, "LONGCTX_API_PORT": str(port), "LONGCTX_UI_PORT": str(ui_port)}
    )
    os.environ.setdefault("LONGCTX_API_URL", f"http://{host}:{port}")
    settings = get_settings()
    settings.ensure_dirs()

    from migrations.runner import upgrade

    upgrade(settings)
    key = ensure_bootstrap_key(settings)

    # Metrics of every process land in one folder and are aggregated by the API's /metrics.
    metrics_dir = settings.resolved_data_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    env = dict(os.environ)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    env.setdefault("PYTHONUNBUFFERED", "1")

    from longctx.broker.app import get_app
    from longctx.broker.transport import prune_delivered
    from longctx.recovery import recover

    try:
        with get_app(settings).connection_for_write() as conn:  # creates the broker tables before the workers
            conn.ensure_connection(max_retries=3)
            conn.default_channel  # noqa: B018
        prune_delivered(settings.celery_broker_url, older_than_s=0)  # no worker runs yet: all are stale
        recover(settings)
    except Exception:  # a broker problem shows in the workers' logs and /readyz
        log.exception("could not re-enqueue unfinished work")

    children = build_children(
        settings, host=host, port=port, ui_port=ui_port, ui=ui, cpu_concurrency=cpu_concurrency
    )

    def started(sup: Supervisor) -> None:
        if _wait_http(f"http://{host}:{port}/healthz", 60.0, sup.children):
            info = {
                "api": f"http://{host}:{port}",
                "docs": f"http://{host}:{port}/docs",
                "data_dir": str(settings.resolved_data_dir),
                "broker": _redact(settings.celery_broker_url),
                "database": _redact(settings.sql_url),
            }
            if any(c.name == "ui" for c in sup.children):
                info["ui"] = f"http://{host}:{ui_port}"
            if key:
                info["api_key_file"] = str(settings.resolved_data_dir / API_KEY_FILE)
            print("longctx is up: " + json.dumps(info), flush=True)
        else:
            log.error("the API did not come up; see the log above")

    def housekeeping() -> None:
        from longctx.broker.transport import prune_delivered

        removed = prune_delivered(settings.celery_broker_url)
        if removed:
            log.info("pruned %d delivered broker messages", removed)

    def reaper() -> None:
        from longctx.recovery import reap

        reap(settings)

    return Supervisor(children, env, housekeeping, reaper, settings.reaper_interval_s).run(on_started=started)


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        prefix = "sqla+" if url.startswith("sqla+") else ""
        return prefix + make_url(url.removeprefix("sqla+")).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return url.split("@")[-1]
