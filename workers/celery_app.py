"""The worker's Celery app: the library's configured app (`longctx.broker.app`) with the task code registered.

`celery -A workers.celery_app worker ...` finds `app`; `longctx worker` is the supported entrypoint.
"""

from __future__ import annotations

import threading

from celery import Celery

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


app = get_app()
