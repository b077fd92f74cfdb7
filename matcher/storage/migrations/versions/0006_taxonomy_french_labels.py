"""taxonomy_terms: a data directory's own terms keep their French label (``label_fr``)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("taxonomy_terms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("label_fr", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("taxonomy_terms", schema=None) as batch_op:
        batch_op.drop_column("label_fr")
