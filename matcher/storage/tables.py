"""The database schema (SQLAlchemy Core). Alembic migrations create it; tests compare them.

List-valued fields are stored as the interchange format writes them: codes sorted and joined
with ``;``. Every table a person edits through the API has a ``version`` for optimistic
concurrency (ETag / If-Match).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "metadata",
    "organisations",
    "capabilities",
    "partnerships",
    "memberships",
    "flags",
    "conflicts",
    "taxonomy_terms",
    "initiatives",
    "coalition_proposals",
    "reviews",
    "audit_log",
    "api_keys",
    "data_version",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(64)
CODE = String(64)


def _serial_id() -> Column[int]:
    """The id the database numbers the rows of a table by."""
    return Column("id", Integer, primary_key=True, autoincrement=True)


def _parent(name: str, type_: Any, target: str, **options: Any) -> Column[Any]:
    """A column naming the parent row ``target`` (``table.id``): a child row goes with its
    parent (``ON DELETE CASCADE``)."""
    return Column(name, type_, ForeignKey(target, ondelete="CASCADE"), **options)


organisations = Table(
    "organisations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("sector", String(32), nullable=False),
    Column("country", String(2)),
    Column("size", String(16)),
    Column("themes", Text, nullable=False, server_default=""),
    Column("resources", Text, nullable=False, server_default=""),
    Column("motivations", Text, nullable=False, server_default=""),
    Column("gc_status", String(32)),
    Column("verified_on", Date),
    Column("max_active", Integer),
    Column("description", Text, nullable=False, server_default=""),
    Column("aliases", Text, nullable=False, server_default=""),
    Column("source", Text, nullable=False, server_default=""),
    Column("identifiers", Text, nullable=False, server_default=""),
    Column("version", Integer, nullable=False, server_default="1"),
    Index("ix_organisations_kind", "kind"),
    Index("ix_organisations_country", "country"),
)

capabilities = Table(
    "capabilities",
    metadata,
    _parent("org_id", ID, "organisations.id", primary_key=True),
    Column("capability", CODE, primary_key=True),
    Column("strength", Float, nullable=False),
    Column("quantity", Float),
    Column("unit", String(16)),
    Column("source", Text, nullable=False, server_default=""),
    Index("ix_capabilities_capability", "capability"),
)

partnerships = Table(
    "partnerships",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", Text, nullable=False),
    Column("start_year", Integer),
    Column("end_year", Integer),
    Column("countries", Text, nullable=False, server_default=""),
    Column("themes", Text, nullable=False, server_default=""),
    Column("activity_types", Text, nullable=False, server_default=""),
    Column("amount_usd", Float),
    Column("outcome", String(16)),
    Column("source", Text, nullable=False, server_default=""),
    Column("description", Text, nullable=False, server_default=""),
    Column("version", Integer, nullable=False, server_default="1"),
)

memberships = Table(
    "memberships",
    metadata,
    _parent("partnership_id", ID, "partnerships.id", primary_key=True),
    _parent("org_id", ID, "organisations.id", primary_key=True),
    Column("role", String(16), nullable=False),
    Column("contribution_usd", Float),
    Index("ix_memberships_org_id", "org_id"),
)

flags = Table(
    "flags",
    metadata,
    _serial_id(),
    _parent("org_id", ID, "organisations.id", nullable=False),
    Column("category", CODE, nullable=False),
    Column("level", String(16), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("date", Date),
    Column("source", Text, nullable=False, server_default=""),
    Column("dismissed_by", Text, nullable=False, server_default=""),
    Column("dismissed_on", Date),
    Index("ix_flags_org_id", "org_id"),
)

conflicts = Table(
    "conflicts",
    metadata,
    _parent("org_a", ID, "organisations.id", primary_key=True),
    _parent("org_b", ID, "organisations.id", primary_key=True),
    Column("reason", Text, nullable=False, server_default=""),
)

taxonomy_terms = Table(
    "taxonomy_terms",
    metadata,
    Column("vocabulary", String(16), primary_key=True),
    Column("code", CODE, primary_key=True),
    Column("label", Text, nullable=False),
    Column("parent", CODE),
    Column("sdg", String(64)),
    Column("description", Text, nullable=False, server_default=""),
    Column("source", Text, nullable=False, server_default=""),
    Column("label_fr", Text),
)

initiatives = Table(
    "initiatives",
    metadata,
    Column("id", ID, primary_key=True),
    Column("lead", ID, nullable=False),
    Column("title", Text, nullable=False, server_default=""),
    Column("body", JSON, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # copies of the body's lists, ;-joined, so that the review queue filters in SQL
    Column("themes", Text, nullable=False, server_default=""),
    Column("countries", Text, nullable=False, server_default=""),
    # who created it (the audit actor): brokers edit only their own initiatives
    Column("created_by", String(128), nullable=False, server_default=""),
    Column("archived_at", DateTime(timezone=True)),
)

coalition_proposals = Table(
    "coalition_proposals",
    metadata,
    _serial_id(),
    _parent("initiative_id", ID, "initiatives.id", nullable=False),
    Column("members", Text, nullable=False),
    Column("score", Float, nullable=False),
    Column("body", JSON, nullable=False),
    Column("status", String(32), nullable=False, server_default="proposed"),
    Column("proposed_by", String(128), nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_coalition_proposals_status", "status"),
    Index("ix_coalition_proposals_initiative_id", "initiative_id"),
)

reviews = Table(
    "reviews",
    metadata,
    _serial_id(),
    _parent("proposal_id", Integer, "coalition_proposals.id", nullable=False),
    Column("reviewer", String(128), nullable=False),
    Column("decision", String(32), nullable=False),
    Column("reason_code", String(64), nullable=False),
    Column("comment", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("proposal_id", "reviewer", "created_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    _serial_id(),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity_type", String(32), nullable=False),
    Column("entity_id", String(128), nullable=False),
    Column("detail", JSON, nullable=False),
    Index("ix_audit_log_entity", "entity_type", "entity_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),  # the public part of the key
    Column("digest", String(128), nullable=False),  # HMAC-SHA256 of the secret part
    Column("role", String(16), nullable=False),
    Column("name", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

#: One row: ``version`` is bumped by every write to the data the engine serves;
#: ``index_version`` is the version of the last write the index itself is built from (every
#: write but a rejection, which the engine takes without rebuilding its index).
data_version = Table(
    "data_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("index_version", Integer, nullable=False, server_default="0"),
)
