"""The Celery application as configured from `longctx.config.Settings`: broker, queues, routes, task names.

One app per broker URL (and key prefix) per process. This app is what every sender uses (the API, the job
service, `serve`): sending needs only task names, never the task code. Workers register their task
functions on the same app (`workers.celery_app`), so a worker process sends and consumes through one app.
"""

from __future__ import annotations

import contextlib
import threading

from celery import Celery
from kombu import Exchange, Queue

from longctx.broker.transport import is_embedded, resolve_broker_url
from longctx.config import Settings, get_settings

CPU_QUEUE = "cpu"
GPU_QUEUE = "gpu"

TASK_INGEST = "longctx.ingest"
TASK_ANALYZE = "longctx.analyze"
TASK_DELETE = "longctx.delete_document"
TASK_WEBHOOK = "longctx.webhook"

ROUTES = {
    TASK_INGEST: {"queue": CPU_QUEUE},
    TASK_DELETE: {"queue": CPU_QUEUE},
    TASK_WEBHOOK: {"queue": CPU_QUEUE},
    TASK_ANALYZE: {"queue": GPU_QUEUE},
}

_apps: dict[tuple[str, str], Celery] = {}
_lock = threading.Lock()


def broker_key_prefix() -> str:
    """Optional key prefix for a shared Redis (`LONGCTX_BROKER_PREFIX`), so several deployments or test runs
    can use one server without seeing each other's queues."""
    return get_settings().broker_prefix


def make_app(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    url = resolve_broker_url(settings.celery_broker_url)
    app = Celery("longctx", broker=url, set_as_current=False)
    transport_options: dict = {}
    if is_embedded(url):
        transport_options = {"connect_args": {"timeout": settings.sqlite_busy_timeout_ms / 1000}}
    elif url.startswith(("redis://", "rediss://")):
        # visibility_timeout: an unacked message is redelivered after this long. A dead worker's *job* comes
        # back sooner through its lapsed lease (the reaper); this bounds a message lost before its claim.
        transport_options = {"visibility_timeout": settings.broker_visibility_timeout_s}
        if broker_key_prefix():
            transport_options["global_keyprefix"] = broker_key_prefix()
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,  # state lives in SQL
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_routes=ROUTES,
        task_queues=(
            Queue(CPU_QUEUE, Exchange(CPU_QUEUE), routing_key=CPU_QUEUE),
            Queue(GPU_QUEUE, Exchange(GPU_QUEUE), routing_key=GPU_QUEUE),
        ),
        task_default_queue=CPU_QUEUE,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        enable_utc=True,
        timezone="UTC",
    )
    return app


def get_app(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    key = (settings.celery_broker_url, broker_key_prefix())
    with _lock:
        app = _apps.get(key)
        if app is None:
            app = make_app(settings)
            _apps[key] = app
        return app


def reset_apps() -> None:
    """Forget cached apps (tests switch brokers between cases)."""
    from kombu import pools

    with _lock:
        for app in _apps.values():
            with contextlib.suppress(Exception):
                app.pool.force_close_all()
        _apps.clear()
        # kombu keeps process-wide producer/connection pools keyed by connection: a new app for the same
        # broker URL would take the closed pool above ("Acquire on closed pool"); drop them too.
        pools.reset()
