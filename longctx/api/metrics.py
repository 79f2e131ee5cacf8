"""Prometheus metrics export (`/metrics`); the counters themselves are defined in `longctx.core.metrics`.

Counters and histograms live in the process that observes them (API: uploads, requests; workers:
task durations). When `PROMETHEUS_MULTIPROC_DIR` is set (`longctx serve` sets it to `<data>/metrics`),
every process writes to that folder and `/metrics` on the API aggregates them. In a multi-host deployment
point Prometheus at each worker (`longctx worker --metrics-port`) too. Gauges of jobs and documents by
status are read from SQL at scrape time, so they are right whichever process changed the rows.
"""

from __future__ import annotations

import logging
import os

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)


class SqlStateCollector:
    """Jobs and documents by status, counted in SQL at scrape time."""

    def __init__(self, settings):  # noqa: ANN001
        self.settings = settings

    def collect(self):  # noqa: ANN201
        from sqlalchemy import func, select

        from longctx.storage.models import Document, Job
        from longctx.storage.session import session_scope

        jobs = GaugeMetricFamily(
            "longctx_jobs", "Analysis jobs in the database, by status.", labels=["status"]
        )
        docs = GaugeMetricFamily(
            "longctx_documents", "Documents in the database, by status.", labels=["status"]
        )
        try:
            with session_scope(self.settings) as s:
                for status, n in s.execute(select(Job.status, func.count()).group_by(Job.status)):
                    jobs.add_metric([status.value], n)
                for status, n in s.execute(select(Document.status, func.count()).group_by(Document.status)):
                    docs.add_metric([status.value], n)
        except Exception:  # noqa: BLE001 - /metrics must answer even when the database does not
            log.warning("metrics: database unavailable", exc_info=True)
        yield jobs
        yield docs


def render(settings) -> tuple[bytes, str]:  # noqa: ANN001
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        base = CollectorRegistry()
        multiprocess.MultiProcessCollector(base)
    else:
        from prometheus_client import REGISTRY as base
    sql = CollectorRegistry(auto_describe=False)
    sql.register(SqlStateCollector(settings))
    return generate_latest(base) + generate_latest(sql), CONTENT_TYPE_LATEST
