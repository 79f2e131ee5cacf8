"""OCR: document parse progress and OCR summary; per-page OCR confidence and word boxes

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08 10:00:00

Scanned pages are read by OCR while the document parses: the documents row shows how far the parse is
(`parse_progress`, `parse_stage`) and which pages were OCRed with what confidence (`ocr`); each OCR page keeps
its mean confidence and its word boxes, so answers on low-confidence pages are flagged and a viewer can draw
the cited words on the scan.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parse_progress", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("parse_stage", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("ocr", sa.JSON(), nullable=True))
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ocr_confidence", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("ocr_words", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.drop_column("ocr_words")
        batch_op.drop_column("ocr_confidence")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("ocr")
        batch_op.drop_column("parse_stage")
        batch_op.drop_column("parse_progress")
