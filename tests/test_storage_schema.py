"""Models and migrations agree, on SQLite and (when reachable) PostgreSQL; SQLite runs in WAL mode."""

from __future__ import annotations

import uuid

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from longctx.storage.models import Base
from longctx.storage.session import make_engine
from migrations.runner import alembic_config
from tests.util import postgres_reachable

EXPECTED_TABLES = {"tenants", "api_keys", "documents", "pages", "jobs", "findings", "audit_log", "batches"}


def _diff(engine) -> list:  # noqa: ANN001
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, Base.metadata)


def test_sqlite_migrations_match_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES
    assert _diff(engine) == []
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
    # Downgrade removes everything and upgrade works again.
    command.downgrade(alembic_config(url), "base")
    assert not EXPECTED_TABLES & set(inspect(make_engine(url)).get_table_names())
    command.upgrade(alembic_config(url), "head")


@pytest.mark.integration
@pytest.mark.skipif(
    not postgres_reachable(), reason="PostgreSQL not reachable at 127.0.0.1:5432 (database test)"
)
def test_postgres_migrations_match_models():
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    try:
        command.upgrade(alembic_config(url), "head")
        engine = create_engine(url)
        assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES
        assert _diff(engine) == []
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
