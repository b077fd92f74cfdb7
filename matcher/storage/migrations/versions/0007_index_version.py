"""data_version: ``index_version``, the version of the last write the index is built from
(a rejection moves ``version`` only: the engine takes it without rebuilding its index)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("data_version", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("index_version", sa.Integer(), server_default="0", nullable=False)
        )
    op.execute("UPDATE data_version SET index_version = version")


def downgrade() -> None:
    with op.batch_alter_table("data_version", schema=None) as batch_op:
        batch_op.drop_column("index_version")
