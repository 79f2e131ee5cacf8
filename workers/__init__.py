"""Celery workers: queue `cpu` (ingest, deletes, webhooks) and queue `gpu` (analysis jobs).

Messages carry ids only (JSON); the SQL tables are the source of truth for state and progress.
Start a worker with `longctx worker --queues cpu` / `longctx worker --queues gpu --devices 0,1`.
"""
