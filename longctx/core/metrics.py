"""Prometheus metric definitions and the helpers that observe them.

They live here, below every layer that counts something (the API's requests and uploads, the job service's
finished jobs, the workers' task durations), so that none of those has to import the API to count. How the
metrics are exported is the API's business (`longctx.api.metrics.render`): with `PROMETHEUS_MULTIPROC_DIR`
set, every process writes to that folder and `/metrics` aggregates them.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

UPLOADS = Counter("longctx_uploads_total", "Uploads received, by outcome.", ["outcome"])
UPLOAD_BYTES = Counter("longctx_upload_bytes_total", "Bytes of accepted uploads.")
JOBS_CREATED = Counter("longctx_jobs_created_total", "Analysis jobs created, by kind.", ["kind"])
JOBS_FINISHED = Counter("longctx_jobs_finished_total", "Analysis jobs finished, by final status.", ["status"])
JOB_SECONDS = Histogram(
    "longctx_job_duration_seconds",
    "Run time of analysis jobs (start to finish).",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
TASK_SECONDS = Histogram(
    "longctx_task_duration_seconds",
    "Worker task durations, by task and outcome.",
    ["task", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
)
REQUESTS = Counter(
    "longctx_http_requests_total",
    "HTTP requests, by method, route and status.",
    ["method", "route", "status"],
)


def observe_task(task: str, outcome: str, seconds: float) -> None:
    TASK_SECONDS.labels(task=task, outcome=outcome).observe(seconds)


def observe_job(status: str, seconds: float | None) -> None:
    JOBS_FINISHED.labels(status=status).inc()
    if seconds is not None:
        JOB_SECONDS.observe(seconds)
