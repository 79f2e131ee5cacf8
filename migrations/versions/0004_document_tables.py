"""Tables recovered from PDF pages, and structured detail on findings

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 06:00:00

Financial statements are answered from their cells: each recovered table is stored with its page, its columns
(headers, periods), rows (labels, units, scales) and every cell's character span (`document_tables.body`);
a finding answered from a cell, or computed from several, keeps the row and column labels, the period, the
unit and the formula with its inputs in `findings.detail`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "document_tables",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column(
            "document_id",
            sa.String(length=36),
            sa.ForeignKey("documents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("char_start", sa.Integer(), nullable=True),
        sa.Column("char_end", sa.Integer(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
    )
    op.create_index("ix_document_tables_document", "document_tables", ["document_id", "position"])
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("detail", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_column("detail")
    op.drop_index("ix_document_tables_document", table_name="document_tables")
    op.drop_table("document_tables")
