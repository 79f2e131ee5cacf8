"""The worker's Celery app: the library's configured app (`longctx.broker.app`) with the task code registered.

`celery -A workers.celery_app worker ...` finds `app`; `longctx worker` is the supported entrypoint. Every
worker process also runs the reaper (`longctx.recovery.Reaper`) while it is up, so a production deployment
without `serve` still brings back the jobs of a dead worker.
"""

from __future__ import annotations

import threading

from celery import Celery, signals

from longctx.broker import app as broker_app
from longctx.config import Settings
from workers import tasks

_registered: set[int] = set()
_lock = threading.Lock()


def get_app(settings: Settings | None = None) -> Celery:
    """The configured app for these settings, with this package's tasks registered on it (once per app)."""
    celery = broker_app.get_app(settings)
    with _lock:
        if id(celery) not in _registered:
            tasks.register(celery)
            _registered.add(id(celery))
    return celery


def reset_apps() -> None:
    """Forget cached apps (tests switch brokers between cases)."""
    with _lock:
        _registered.clear()
    broker_app.reset_apps()


_reaper = None


@signals.worker_ready.connect
def _start_reaper(**_kwargs) -> None:  # noqa: ANN003
    global _reaper
    from longctx.recovery import Reaper

    if _reaper is None:
        _reaper = Reaper().start()


@signals.worker_shutdown.connect
def _stop_reaper(**_kwargs) -> None:  # noqa: ANN003
    global _reaper
    if _reaper is not None:
        _reaper.stop()
        _reaper = None


app = get_app()
