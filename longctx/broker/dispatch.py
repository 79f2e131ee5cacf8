"""Enqueue helpers: called only after the rows they name are committed (ids only in messages).

Sending needs the task's name and queue only, so the API and the job service enqueue work without importing
the workers that run it. Every task is idempotent, so a duplicate message is harmless.
"""

from __future__ import annotations

import logging

from longctx.broker.app import TASK_ANALYZE, TASK_DELETE, TASK_INGEST, TASK_WEBHOOK, get_app
from longctx.config import Settings, get_settings

log = logging.getLogger(__name__)

RETRY_POLICY = {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2.0}


def _send(name: str, args: list, settings: Settings | None = None, countdown: float | None = None) -> None:
    app = get_app(settings or get_settings())
    app.send_task(name, args=args, countdown=countdown, retry=True, retry_policy=RETRY_POLICY)


def enqueue_ingest(document_id: str, settings: Settings | None = None) -> None:
    _send(TASK_INGEST, [document_id], settings)


def enqueue_analyze(job_id: str, settings: Settings | None = None, countdown: float | None = None) -> None:
    _send(TASK_ANALYZE, [job_id], settings, countdown)


def enqueue_delete(document_id: str, tenant_id: str, actor: str, settings: Settings | None = None) -> None:
    _send(TASK_DELETE, [document_id, tenant_id, actor], settings)


def enqueue_webhook(job_id: str, settings: Settings | None = None, countdown: float | None = None) -> None:
    _send(TASK_WEBHOOK, [job_id], settings, countdown)
