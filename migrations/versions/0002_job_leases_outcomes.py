"""job leases, error codes, per-document outcomes; document parse leases

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 02:10:00

A running job and a parsing document carry a lease that their worker renews; the reaper re-queues or fails
what a dead worker left. Per-document outcomes of a job move from JSON in `jobs.timings` to rows. At most one
live document per tenant and content (identical uploads racing each other were both stored before): older
databases may hold such twins, and all but the first of each are marked failed before the index is built.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OUTCOMES = ("pending", "waiting", "ok", "failed")
LIVE_DOCUMENT = "status IN ('queued', 'parsing', 'ready')"


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("lease_token", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("worker", sa.String(length=128), nullable=True))
        batch_op.create_index("ix_jobs_status_lease", ["status", "lease_expires_at"], unique=False)
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
    _retire_live_twins()
    op.create_index(
        "uq_documents_live_content",
        "documents",
        ["tenant_id", "sha256"],
        unique=True,
        sqlite_where=sa.text(LIVE_DOCUMENT),
        postgresql_where=sa.text(LIVE_DOCUMENT),
    )
    op.create_table(
        "job_documents",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=512), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*OUTCOMES, name="outcome_status", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("analyze_seconds", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_documents_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_documents")),
        sa.UniqueConstraint("job_id", "document_id", name="uq_job_documents_job_document"),
    )
    with op.batch_alter_table("job_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_documents_document_id"), ["document_id"], unique=False)


def _retire_live_twins() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(f"SELECT id, tenant_id, sha256 FROM documents WHERE {LIVE_DOCUMENT} ORDER BY created_at, id")
    ).all()
    first: dict[tuple[str, str], str] = {}
    for doc_id, tenant_id, sha in rows:
        original = first.setdefault((tenant_id, sha), doc_id)
        if original != doc_id:
            conn.execute(
                sa.text("UPDATE documents SET status = 'failed', error = :error WHERE id = :id"),
                {"id": doc_id, "error": f"duplicate upload of document {original}; use that one"},
            )


def downgrade() -> None:
    with op.batch_alter_table("job_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_documents_document_id"))
    op.drop_table("job_documents")
    op.drop_index("uq_documents_live_content", table_name="documents")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("attempts")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_status_lease")
        batch_op.drop_column("worker")
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("lease_token")
        batch_op.drop_column("error_code")
