"""Shared fixtures: an isolated data dir per test (LONGCTX_DATA_DIR + fresh engines), a migrated database,
tenants with API keys, an in-process API client whose queue runs tasks inline, and reachability checks for
the real PostgreSQL / Redis used by `integration` tests (skipped with a visible reason when absent)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass

import pytest

from tests.util import isolated_env

PG_ADMIN_URL = os.environ.get("LONGCTX_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(host: str, port: int) -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def postgres_unavailable_reason() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2, autocommit=True):
            return None
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}: {str(exc)[:120]}"


def redis_unavailable_reason() -> str | None:
    if not _port_open(REDIS_HOST, REDIS_PORT):
        return f"Redis not reachable at {REDIS_HOST}:{REDIS_PORT}"
    try:
        import redis

        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=2).ping()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"Redis not usable at {REDIS_HOST}:{REDIS_PORT}: {type(exc).__name__}: {exc}"


@pytest.fixture(autouse=True)
def _keep_main_module() -> Iterator[None]:
    """Streamlit's AppTest runs the page as `__main__` and leaves it there; a later test that starts
    processes with the `spawn` method would make each child re-run that script (NameError in the child).
    Put the real `__main__` back after every test."""
    import sys

    main = sys.modules.get("__main__")
    saved = dict(vars(main)) if main is not None else None
    yield
    if main is not None and saved is not None:
        sys.modules["__main__"] = main
        if vars(main) != saved:  # AppTest rewrites the module's own attributes (__file__, __spec__, ...)
            vars(main).clear()
            vars(main).update(saved)


@pytest.fixture
def data_env(monkeypatch, tmp_path):  # noqa: ANN001, ANN201
    """A fresh data dir (SQLite database + embedded broker), migrated; yields the Settings."""
    from longctx.config import get_settings
    from longctx.storage.session import dispose_engines
    from migrations.runner import upgrade

    isolated_env(monkeypatch, tmp_path)
    _reset_workers()
    settings = get_settings()
    upgrade(settings)
    yield settings
    _reset_workers()
    dispose_engines()


def _reset_workers() -> None:
    try:
        from workers.celery_app import reset_apps
    except ImportError:
        return
    reset_apps()


@dataclass
class TenantKey:
    tenant_id: str
    name: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}


@pytest.fixture
def make_tenant(data_env):  # noqa: ANN001, ANN201
    """`make_tenant("acme")` -> TenantKey (tenant row + a fresh API key)."""
    from longctx.storage import repositories as repo
    from longctx.storage.session import session_scope

    def make(name: str | None = None) -> TenantKey:
        name = name or f"t-{uuid.uuid4().hex[:8]}"
        with session_scope(data_env) as s:
            tenant = repo.get_or_create_tenant(s, name)
            key = repo.create_api_key(s, tenant, "test")
            return TenantKey(tenant.id, name, key.secret)

    return make


@dataclass
class InlineQueue:
    """Stands in for the broker in in-process API tests: records every message and (when `run`) executes it
    right away in the calling thread, exactly as a worker would (same task functions)."""

    sent: list[tuple[str, list]]
    run: bool = True
    fail: bool = False

    def __call__(self, name: str, args: list, settings=None, countdown=None) -> None:  # noqa: ANN001
        if self.fail:
            raise ConnectionError("broker down (test)")
        self.sent.append((name, list(args)))
        if self.run:
            self.execute(name, args)

    @staticmethod
    def execute(name: str, args: list) -> object:
        from longctx.broker.app import TASK_ANALYZE, TASK_DELETE, TASK_INGEST, TASK_WEBHOOK
        from workers import tasks

        if name == TASK_INGEST:
            return tasks.run_ingest(*args)
        if name == TASK_ANALYZE:
            return tasks.run_analyze(None, *args)
        if name == TASK_DELETE:
            return tasks.run_delete(*args)
        if name == TASK_WEBHOOK:
            return tasks.run_webhook(None, *args)
        raise AssertionError(f"unknown task {name}")


@pytest.fixture
def inline_queue(data_env, monkeypatch) -> InlineQueue:  # noqa: ANN001
    import longctx.broker.dispatch as dispatch

    q = InlineQueue(sent=[])
    monkeypatch.setattr(dispatch, "_send", q)
    return q


@pytest.fixture
def client(data_env, inline_queue) -> Iterator:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from longctx.api.app import create_app

    with TestClient(create_app(data_env)) as c:
        yield c


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A uniquely named PostgreSQL database for this test run (dropped afterwards); skips when unreachable."""
    yield from _pg_database()


@pytest.fixture
def fresh_pg_database() -> Iterator[str]:
    """A PostgreSQL database of this test alone (a `serve` that must bootstrap its own tenant and key)."""
    yield from _pg_database()


def _pg_database() -> Iterator[str]:
    reason = postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    import psycopg

    name = f"longctx_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        from longctx.storage.session import dispose_engines

        dispose_engines()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_broker() -> Iterator[tuple[str, str]]:
    """(broker URL, key prefix) on a Redis db of its own with a unique key prefix; keys removed afterwards."""
    reason = redis_unavailable_reason()
    if reason:
        pytest.skip(reason)
    import redis

    db = 13
    prefix = f"longctx-test-{uuid.uuid4().hex[:10]}:"
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
    try:
        yield url, prefix
    finally:
        r = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
        keys = list(r.scan_iter(match=f"{prefix}*")) + list(r.scan_iter(match=f"*{prefix}*"))
        if keys:
            r.delete(*set(keys))
