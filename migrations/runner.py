"""Apply Alembic migrations from code (`longctx db upgrade`, and at service start).

It lives beside the migration scripts it runs: `env.py` imports the storage models, so the runner sits above
`longctx.storage` in the layers, and storage itself knows nothing of Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from longctx.config import Settings, get_settings
from longctx.storage.session import normalise_url


def migrations_dir() -> Path:
    """The Alembic script folder: this package."""
    return Path(__file__).resolve().parent


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(settings: Settings | None = None, revision: str = "head") -> None:
    settings = settings or get_settings()
    settings.ensure_dirs()
    command.upgrade(alembic_config(settings.sql_url), revision)


def current_revision(settings: Settings | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from longctx.storage.session import get_engine

    with get_engine(settings).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
