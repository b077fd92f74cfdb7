"""flags: source of a screening match, and who dismissed a flag when

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("dismissed_by", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("dismissed_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("flags", schema=None) as batch_op:
        batch_op.drop_column("dismissed_on")
        batch_op.drop_column("dismissed_by")
        batch_op.drop_column("source")
