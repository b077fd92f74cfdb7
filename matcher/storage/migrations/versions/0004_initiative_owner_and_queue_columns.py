"""initiatives: owner, archival, and the themes and countries the review queue filters by

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("initiatives", schema=None) as batch_op:
        batch_op.add_column(sa.Column("themes", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("countries", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(
            sa.Column("created_by", sa.String(length=128), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("coalition_proposals", schema=None) as batch_op:
        batch_op.create_index("ix_coalition_proposals_initiative_id", ["initiative_id"])
    _fill_initiative_columns()


def _fill_initiative_columns() -> None:
    """Existing initiatives: lists from their body, owner from their audit entry."""
    connection = op.get_bind()
    initiatives = sa.table(
        "initiatives",
        sa.column("id", sa.String),
        sa.column("body", sa.JSON),
        sa.column("themes", sa.Text),
        sa.column("countries", sa.Text),
        sa.column("created_by", sa.String),
    )
    audit = sa.table(
        "audit_log",
        sa.column("id", sa.Integer),
        sa.column("actor", sa.String),
        sa.column("action", sa.String),
        sa.column("entity_type", sa.String),
        sa.column("entity_id", sa.String),
    )
    creators = {
        row.entity_id: row.actor
        for row in connection.execute(
            sa.select(audit.c.entity_id, audit.c.actor)
            .where(audit.c.entity_type == "initiative", audit.c.action == "create")
            .order_by(audit.c.id)
        )
    }
    for row in connection.execute(sa.select(initiatives.c.id, initiatives.c.body)).all():
        body = row.body or {}
        connection.execute(
            initiatives.update()
            .where(initiatives.c.id == row.id)
            .values(
                themes=";".join(sorted(body.get("themes") or ())),
                countries=";".join(sorted(body.get("countries") or ())),
                created_by=creators.get(row.id, ""),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("coalition_proposals", schema=None) as batch_op:
        batch_op.drop_index("ix_coalition_proposals_initiative_id")
    with op.batch_alter_table("initiatives", schema=None) as batch_op:
        batch_op.drop_column("archived_at")
        batch_op.drop_column("created_by")
        batch_op.drop_column("countries")
        batch_op.drop_column("themes")
