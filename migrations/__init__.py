"""Alembic migrations for the longctx schema (a package so that installed copies can find them)."""
