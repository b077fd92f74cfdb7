"""Records the HTTP API reads and edits one at a time: organisations, partnerships,
initiatives, coalition proposals and their reviews, API keys, the audit log.

Every edit runs in one transaction with its audit entry. Editable records carry a
``version``: an update or delete that names the version it read (``If-Match``) fails with
:class:`StaleVersionError` when someone changed the record since, instead of overwriting.
Writes to the data the recommendation index is built from bump the ``data_version``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import ColumnElement

from matcher.domain.exceptions import (
    DuplicateIdError,
    NotFoundError,
    PartnerMatchError,
    ValidationError,
)
from matcher.domain.model import Capability, Membership, Organisation, Partnership
from matcher.domain.taxonomy import Taxonomies
from matcher.storage import tables
from matcher.storage.repository import AuditEntry, DataVersions
from matcher.storage.rows import record_to_row, row_to_record
from matcher.storage.sql import (
    audit_entry,
    aware,
    bump_data_version,
    insert_audit,
    read_versions,
    writer,
)

__all__ = [
    "StaleVersionError",
    "ConflictError",
    "Page",
    "OrganisationFilter",
    "OrganisationRecord",
    "PartnershipRecord",
    "InitiativeRecord",
    "ProposalRecord",
    "ReviewRecord",
    "KeyRecord",
    "DECISIONS",
    "SqlCatalog",
]

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")
D = TypeVar("D", bound="DataclassInstance")
E = TypeVar("E", Organisation, Partnership)
C = TypeVar("C", Capability, Membership)
R = TypeVar("R")

#: Review decisions and the proposal status each leads to.
DECISIONS: Mapping[str, str] = {
    "approve": "approved",
    "reject": "rejected",
    "request_changes": "changes_requested",
}


class StaleVersionError(PartnerMatchError):
    """The record changed since the version the caller read (HTTP 409)."""


class ConflictError(PartnerMatchError):
    """The change conflicts with other records (HTTP 409): deleting an organisation a
    pending proposal or an initiative names, deleting an initiative whose proposal was
    decided, changing an archived initiative."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing, with the total number of matching records."""

    items: list[T]
    total: int
    offset: int
    limit: int


@dataclass(frozen=True, slots=True)
class OrganisationFilter:
    """Filters of the organisation listing; ``None`` means "any".

    ``countries`` comes from a region (the caller resolves the region to its countries);
    ``capability`` matches the code and its descendants; ``text`` is a case-insensitive
    substring of the name.
    """

    kind: str | None = None
    sector: str | None = None
    country: str | None = None
    countries: frozenset[str] | None = None
    theme: str | None = None
    capability: str | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class OrganisationRecord:
    organisation: Organisation
    capabilities: tuple[Capability, ...]
    version: int


@dataclass(frozen=True, slots=True)
class PartnershipRecord:
    partnership: Partnership
    memberships: tuple[Membership, ...]
    version: int


@dataclass(frozen=True, slots=True)
class InitiativeRecord:
    id: str
    lead: str
    title: str
    body: Mapping[str, Any]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    created_by: str = ""
    archived_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    id: int
    proposal_id: int
    reviewer: str
    decision: str
    reason_code: str
    comment: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ProposalRecord:
    id: int
    initiative_id: str
    members: tuple[str, ...]
    score: float
    coalition: Mapping[str, Any]
    status: str
    proposed_by: str
    version: int
    created_at: dt.datetime
    reviews: tuple[ReviewRecord, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    digest: str
    role: str
    name: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _paged(
    connection: Connection,
    table: Any,
    condition: ColumnElement[bool],
    order: Any,
    offset: int,
    limit: int,
) -> tuple[int, Sequence[RowMapping]]:
    """The number of rows matching ``condition`` and one page of them in ``order``."""
    total = int(
        connection.execute(select(func.count()).select_from(table).where(condition)).scalar_one()
    )
    rows = (
        connection.execute(
            select(table).where(condition).order_by(order).offset(offset).limit(limit)
        )
        .mappings()
        .all()
    )
    return total, rows


def _check_proposal_id(proposal_id: int) -> None:
    """Ids are positive 32-bit integers: anything else names no proposal."""
    if not 0 < proposal_id < 2**31:
        raise NotFoundError(f"Proposal {proposal_id} not found")


def _contains_code(column: Any, code: str) -> ColumnElement[bool]:
    """``code`` is one of the ``;``-joined codes of a list column, matched exactly: ``%``
    and ``_`` in ``code`` are characters, not patterns."""
    return or_(
        column == code,
        column.startswith(f"{code};", autoescape=True),
        column.endswith(f";{code}", autoescape=True),
        column.contains(f";{code};", autoescape=True),
    )


def _equal(table: Any, **wanted: str | None) -> list[ColumnElement[bool]]:
    """Conditions that each column named in ``wanted`` equals its value, when one is given."""
    return [table.c[column] == value for column, value in wanted.items() if value]


def _one(connection: Connection, table: Any, column: Any, value: Any) -> RowMapping | None:
    """The row of ``table`` where ``column`` is ``value``, if any."""
    return connection.execute(select(table).where(column == value)).mappings().first()


def _get(connection: Connection, table: Any, record_id: str | int, what: str) -> RowMapping:
    """The row of ``table`` with this id; :class:`NotFoundError` naming ``what`` without."""
    row = _one(connection, table, table.c.id, record_id)
    if row is None:
        raise NotFoundError(f"{what} {record_id!r} not found")
    return row


def _missing_organisations(connection: Connection, org_ids: Iterable[str]) -> list[str]:
    """The ids of ``org_ids`` that name no stored organisation, sorted."""
    wanted = sorted(set(org_ids))
    if not wanted:
        return []
    table = tables.organisations
    found = set(connection.execute(select(table.c.id).where(table.c.id.in_(wanted))).scalars())
    return [org_id for org_id in wanted if org_id not in found]


def _children(
    connection: Connection,
    table: Any,
    parent: str,
    ids: Sequence[Any],
    order: str,
    convert: Callable[[RowMapping], T],
) -> dict[Any, list[T]]:
    """The rows of ``table`` whose column ``parent`` is one of ``ids``, in ``order``,
    converted and grouped by parent."""
    grouped: dict[Any, list[T]] = {}
    if not ids:
        return grouped
    statement = (
        select(table).where(table.c[parent].in_(ids)).order_by(table.c[parent], table.c[order])
    )
    for row in connection.execute(statement).mappings():
        grouped.setdefault(row[parent], []).append(convert(row))
    return grouped


def _from_row(kind: type[D], row: RowMapping, **values: Any) -> D:
    """A record of ``kind`` from the row's columns named after its fields, but ``values``."""
    names = [f.name for f in dataclasses.fields(kind) if f.name not in values]
    return kind(**{name: row[name] for name in names}, **values)


def _review(row: RowMapping) -> ReviewRecord:
    return _from_row(ReviewRecord, row, created_at=aware(row["created_at"]))


def _initiative(row: RowMapping) -> InitiativeRecord:
    archived = row["archived_at"]
    return _from_row(
        InitiativeRecord,
        row,
        version=int(row["version"]),
        created_at=aware(row["created_at"]),
        updated_at=aware(row["updated_at"]),
        archived_at=aware(archived) if archived is not None else None,
    )


@contextlib.contextmanager
def _duplicate_as(what: str, record_id: str, *, when: bool = True) -> Iterator[None]:
    """Turn a unique-key violation (``when`` given) into a :class:`DuplicateIdError`."""
    try:
        yield
    except IntegrityError as err:
        if not when:
            raise
        raise DuplicateIdError(f"{what} {record_id!r} already exists") from err


@dataclass(frozen=True, slots=True)
class _Entity(Generic[E, C, R]):
    """A versioned record of the data the index is built from, stored with its child rows
    (an organisation's capabilities, a partnership's memberships): how to read and write it."""

    what: str
    table: Any
    kind: type[E]
    children: Any
    parent: str  # the children's column naming the record
    order: str  # the children's column they are listed by
    child_kind: type[C]
    record: Callable[[E, tuple[C, ...], int], R]

    def records(self, connection: Connection, rows: Sequence[RowMapping]) -> list[R]:
        """The records of ``rows``, each with its children."""
        children = _children(
            connection,
            self.children,
            self.parent,
            [row["id"] for row in rows],
            self.order,
            functools.partial(row_to_record, self.child_kind),
        )
        return [
            self.record(
                row_to_record(self.kind, row),
                tuple(children.get(row["id"], ())),
                int(row["version"]),
            )
            for row in rows
        ]


_ORGANISATIONS = _Entity(
    "Organisation",
    tables.organisations,
    Organisation,
    tables.capabilities,
    "org_id",
    "capability",
    Capability,
    OrganisationRecord,
)
_PARTNERSHIPS = _Entity(
    "Partnership",
    tables.partnerships,
    Partnership,
    tables.memberships,
    "partnership_id",
    "org_id",
    Membership,
    PartnershipRecord,
)


class SqlCatalog:
    """The records of the API on an (already migrated) SQLAlchemy engine."""

    def __init__(self, engine: Engine, taxonomies: Taxonomies) -> None:
        self.engine = engine
        self.taxonomies = taxonomies

    # ---- data version ------------------------------------------------------------------

    def data_version(self) -> int:
        """The version of the data the engine serves (every write moves it)."""
        return self.versions().data

    def versions(self) -> DataVersions:
        """The data version and the version of the last write the index is built from."""
        with self.engine.connect() as connection:
            return read_versions(connection)

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(select(1))

    # ---- organisations -----------------------------------------------------------------

    def list_organisations(
        self, where: OrganisationFilter, *, offset: int = 0, limit: int = 50
    ) -> Page[OrganisationRecord]:
        """Organisations matching ``where``, by id."""
        table = tables.organisations
        conditions = _equal(table, kind=where.kind, sector=where.sector, country=where.country)
        if where.countries is not None:
            conditions.append(table.c.country.in_(sorted(where.countries)))
        if where.theme:
            conditions.append(_contains_code(table.c.themes, where.theme))
        if where.capability:
            capability = tables.capabilities
            conditions.append(
                exists().where(
                    and_(
                        capability.c.org_id == table.c.id,
                        or_(
                            capability.c.capability == where.capability,
                            capability.c.capability.startswith(
                                f"{where.capability}.", autoescape=True
                            ),
                        ),
                    )
                )
            )
        if where.text:
            escaped = where.text.lower().replace("\\", "\\\\").replace("%", "\\%")
            escaped = escaped.replace("_", "\\_")
            conditions.append(func.lower(table.c.name).like(f"%{escaped}%", escape="\\"))
        return self._listing(table, conditions, table.c.id, offset, limit, _ORGANISATIONS.records)

    def get_organisation(self, org_id: str) -> OrganisationRecord:
        """One organisation with its capabilities.

        Raises
        ------
        NotFoundError
        """
        return self._get_entity(_ORGANISATIONS, org_id)

    def create_organisation(
        self, organisation: Organisation, capabilities: Iterable[Capability], *, actor: str
    ) -> OrganisationRecord:
        """Insert a new organisation with its capabilities.

        Raises
        ------
        DuplicateIdError
            If the id is taken.
        """
        return self._save_organisation(
            organisation, capabilities, create=True, expected_version=None, actor=actor
        )

    def update_organisation(
        self,
        organisation: Organisation,
        capabilities: Iterable[Capability],
        *,
        expected_version: int | None,
        actor: str,
    ) -> OrganisationRecord:
        """Replace an organisation and its capabilities (optimistic concurrency).

        Raises
        ------
        NotFoundError
        StaleVersionError
            If ``expected_version`` is given and is not the stored version.
        """
        return self._save_organisation(
            organisation,
            capabilities,
            create=False,
            expected_version=expected_version,
            actor=actor,
        )

    def _save_organisation(
        self,
        organisation: Organisation,
        capabilities: Iterable[Capability],
        *,
        create: bool,
        expected_version: int | None,
        actor: str,
    ) -> OrganisationRecord:
        capabilities = tuple(capabilities)
        version = self._save_entity(
            _ORGANISATIONS,
            organisation,
            [c for c in capabilities if c.org_id == organisation.id],
            create=create,
            expected_version=expected_version,
            actor=actor,
            duplicates=create,  # an update names no new id: its errors are reported as they are
        )
        return OrganisationRecord(organisation, capabilities, version)

    def delete_organisation(self, org_id: str, *, expected_version: int | None, actor: str) -> None:
        """Delete an organisation (its capabilities, flags and memberships go with it).

        An organisation that a proposal awaiting a decision names, or that leads an
        initiative, stays: a reviewer would otherwise approve a coalition with a member that
        no longer exists.

        Raises
        ------
        NotFoundError
        StaleVersionError
        ConflictError
            If a pending proposal or an initiative names it (the message lists them).
        """
        with writer(self.engine).begin() as connection:
            self._next_version(
                connection, tables.organisations, org_id, expected_version, "Organisation"
            )
            self._check_unreferenced(connection, org_id)
            for child, column in (
                (tables.capabilities, tables.capabilities.c.org_id),
                (tables.flags, tables.flags.c.org_id),
                (tables.memberships, tables.memberships.c.org_id),
            ):
                connection.execute(delete(child).where(column == org_id))
            connection.execute(
                delete(tables.conflicts).where(
                    or_(tables.conflicts.c.org_a == org_id, tables.conflicts.c.org_b == org_id)
                )
            )
            connection.execute(
                delete(tables.organisations).where(tables.organisations.c.id == org_id)
            )
            bump_data_version(connection)
            insert_audit(connection, AuditEntry(actor, "delete", "organisation", org_id, {}))

    @staticmethod
    def _check_unreferenced(connection: Connection, org_id: str) -> None:
        proposals, initiatives = tables.coalition_proposals, tables.initiatives
        pending = list(
            connection.execute(
                select(proposals.c.id)
                .where(
                    proposals.c.status == "proposed",
                    _contains_code(proposals.c.members, org_id),
                )
                .order_by(proposals.c.id)
            ).scalars()
        )
        led = list(
            connection.execute(
                select(initiatives.c.id)
                .where(initiatives.c.lead == org_id)
                .order_by(initiatives.c.id)
            ).scalars()
        )
        if pending or led:
            named = []
            if pending:
                named.append(f"proposals awaiting a decision: {', '.join(map(str, pending))}")
            if led:
                named.append(f"initiatives it leads: {', '.join(led)}")
            raise ConflictError(
                f"Organisation {org_id!r} is still referenced ({'; '.join(named)}): "
                "decide the proposals and delete or archive the initiatives first"
            )

    # ---- partnerships ------------------------------------------------------------------

    def list_partnerships(
        self,
        *,
        theme: str | None = None,
        country: str | None = None,
        org_id: str | None = None,
        text: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Page[PartnershipRecord]:
        """Partnerships by id, filtered by theme, country, a member or a name substring."""
        table = tables.partnerships
        conditions: list[ColumnElement[bool]] = []
        if theme:
            conditions.append(_contains_code(table.c.themes, theme))
        if country:
            conditions.append(_contains_code(table.c.countries, country))
        if org_id:
            members = tables.memberships
            conditions.append(
                exists().where(
                    and_(members.c.partnership_id == table.c.id, members.c.org_id == org_id)
                )
            )
        if text:
            conditions.append(func.lower(table.c.name).contains(text.lower(), autoescape=True))
        return self._listing(table, conditions, table.c.id, offset, limit, _PARTNERSHIPS.records)

    def get_partnership(self, partnership_id: str) -> PartnershipRecord:
        """One partnership with its members.

        Raises
        ------
        NotFoundError
        """
        return self._get_entity(_PARTNERSHIPS, partnership_id)

    def save_partnership(
        self,
        partnership: Partnership,
        memberships: Iterable[Membership],
        *,
        create: bool,
        expected_version: int | None = None,
        actor: str,
    ) -> PartnershipRecord:
        """Create (``create=True``) or replace a partnership and its members.

        Raises
        ------
        DuplicateIdError
            Creating an id that exists.
        NotFoundError
            Replacing an unknown partnership, or a member that is not a stored organisation.
        StaleVersionError
        """
        memberships = tuple(memberships)
        version = self._save_entity(
            _PARTNERSHIPS,
            partnership,
            memberships,
            create=create,
            expected_version=expected_version,
            actor=actor,
            check=functools.partial(self._check_members, memberships=memberships),
        )
        return PartnershipRecord(
            partnership, tuple(sorted(memberships, key=lambda m: m.org_id)), version
        )

    def delete_partnership(
        self, partnership_id: str, *, expected_version: int | None, actor: str
    ) -> None:
        """Delete a partnership and its memberships.

        Raises
        ------
        NotFoundError
        StaleVersionError
        """
        members = tables.memberships
        self._delete(
            tables.partnerships,
            partnership_id,
            "Partnership",
            expected_version=expected_version,
            actor=actor,
            first=[delete(members).where(members.c.partnership_id == partnership_id)],
            data=True,
        )

    def _check_members(self, connection: Connection, memberships: Sequence[Membership]) -> None:
        missing = _missing_organisations(connection, {m.org_id for m in memberships})
        if missing:
            raise ValidationError(
                f"Organisation {missing[0]!r} not found", field="members", value=missing[0]
            )

    # ---- initiatives -------------------------------------------------------------------

    def list_initiatives(
        self,
        *,
        lead: str | None = None,
        include_archived: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> Page[InitiativeRecord]:
        """Initiatives by id, optionally of one lead; archived ones only if asked for."""
        table = tables.initiatives
        conditions = [table.c.lead == lead] if lead else []
        if not include_archived:
            conditions.append(table.c.archived_at.is_(None))
        return self._listing(
            table,
            conditions,
            table.c.id,
            offset,
            limit,
            lambda _, rows: [_initiative(row) for row in rows],
        )

    def get_initiative(self, initiative_id: str) -> InitiativeRecord:
        """One initiative.

        Raises
        ------
        NotFoundError
        """
        with self.engine.connect() as connection:
            return _initiative(_get(connection, tables.initiatives, initiative_id, "Initiative"))

    def save_initiative(
        self,
        initiative_id: str,
        body: Mapping[str, Any],
        *,
        create: bool,
        expected_version: int | None = None,
        actor: str,
    ) -> InitiativeRecord:
        """Create or replace an initiative (its validated body as JSON); a new one belongs
        to ``actor``.

        Raises
        ------
        DuplicateIdError
        NotFoundError
        StaleVersionError
        ConflictError
            If the initiative is archived.
        """
        now = _now()
        values = {
            "id": initiative_id,
            "lead": str(body["lead"]),
            "title": str(body.get("title") or ""),
            "body": dict(body),
            "themes": ";".join(sorted(body.get("themes") or ())),
            "countries": ";".join(sorted(body.get("countries") or ())),
            "updated_at": now,
        }
        with (
            _duplicate_as("Initiative", initiative_id),
            writer(self.engine).begin() as connection,
        ):
            self._write_entity(
                connection,
                tables.initiatives,
                values,
                create=create,
                expected_version=expected_version,
                what="Initiative",
                actor=actor,
                created={"created_at": now, "created_by": actor},
                before_update=self._check_not_archived,
            )
        return self.get_initiative(initiative_id)

    def delete_initiative(
        self, initiative_id: str, *, expected_version: int | None, actor: str
    ) -> None:
        """Delete an initiative and its proposals awaiting a decision. An initiative with a
        decided proposal is kept (its decisions are records): archive it instead.

        Raises
        ------
        NotFoundError
        StaleVersionError
        ConflictError
            If one of its proposals was decided.
        """
        with writer(self.engine).begin() as connection:
            self._next_version(
                connection, tables.initiatives, initiative_id, expected_version, "Initiative"
            )
            proposals = tables.coalition_proposals
            decided = list(
                connection.execute(
                    select(proposals.c.id)
                    .where(
                        proposals.c.initiative_id == initiative_id,
                        proposals.c.status != "proposed",
                    )
                    .order_by(proposals.c.id)
                ).scalars()
            )
            if decided:
                raise ConflictError(
                    f"Initiative {initiative_id!r} has decided proposals "
                    f"({', '.join(map(str, decided))}): archive it instead of deleting it"
                )
            ids = list(
                connection.execute(
                    select(proposals.c.id).where(proposals.c.initiative_id == initiative_id)
                ).scalars()
            )
            if ids:
                connection.execute(
                    delete(tables.reviews).where(tables.reviews.c.proposal_id.in_(ids))
                )
                connection.execute(delete(proposals).where(proposals.c.id.in_(ids)))
            connection.execute(
                delete(tables.initiatives).where(tables.initiatives.c.id == initiative_id)
            )
            insert_audit(connection, AuditEntry(actor, "delete", "initiative", initiative_id, {}))

    def archive_initiative(
        self, initiative_id: str, *, expected_version: int | None, actor: str
    ) -> InitiativeRecord:
        """Archive an initiative: kept with its proposals and reviews, left out of listings,
        closed to edits and new proposals.

        Raises
        ------
        NotFoundError
        StaleVersionError
        ConflictError
            If it is archived already.
        """
        table = tables.initiatives
        with writer(self.engine).begin() as connection:
            version = self._next_version(
                connection, table, initiative_id, expected_version, "Initiative"
            )
            self._check_not_archived(connection, initiative_id)
            connection.execute(
                update(table)
                .where(table.c.id == initiative_id)
                .values(archived_at=_now(), version=version)
            )
            insert_audit(
                connection,
                AuditEntry(actor, "archive", "initiative", initiative_id, {"version": version}),
            )
        return self.get_initiative(initiative_id)

    @staticmethod
    def _check_not_archived(connection: Connection, initiative_id: str) -> None:
        table = tables.initiatives
        archived = connection.execute(
            select(table.c.archived_at).where(table.c.id == initiative_id)
        ).scalar()
        if archived is not None:
            raise ConflictError(f"Initiative {initiative_id!r} is archived")

    # ---- coalition proposals and reviews -----------------------------------------------

    def _proposals(
        self, connection: Connection, rows: Sequence[RowMapping]
    ) -> list[ProposalRecord]:
        reviews = _children(
            connection, tables.reviews, "proposal_id", [r["id"] for r in rows], "id", _review
        )
        return [
            _from_row(
                ProposalRecord,
                row,
                members=tuple(m for m in row["members"].split(";") if m),
                score=float(row["score"]),
                coalition=row["body"],
                version=int(row["version"]),
                created_at=aware(row["created_at"]),
                reviews=tuple(reviews.get(row["id"], ())),
            )
            for row in rows
        ]

    def create_proposal(
        self, initiative_id: str, coalition: Mapping[str, Any], *, actor: str
    ) -> ProposalRecord:
        """Save a recommended coalition of an initiative for review.

        Raises
        ------
        NotFoundError
            If the initiative is unknown.
        ConflictError
            If the initiative is archived.
        """
        members = sorted(str(m["id"]) for m in coalition.get("members", ()))
        with writer(self.engine).begin() as connection:
            if not self._exists(connection, tables.initiatives, initiative_id):
                raise NotFoundError(f"Initiative {initiative_id!r} not found")
            self._check_not_archived(connection, initiative_id)
            result = connection.execute(
                insert(tables.coalition_proposals).returning(tables.coalition_proposals.c.id),
                {
                    "initiative_id": initiative_id,
                    "members": ";".join(members),
                    "score": float(coalition.get("score", 0.0)),
                    "body": dict(coalition),
                    "status": "proposed",
                    "proposed_by": actor,
                    "version": 1,
                    "created_at": _now(),
                },
            )
            proposal_id = int(result.scalar_one())
            insert_audit(
                connection,
                AuditEntry(
                    actor,
                    "propose",
                    "proposal",
                    str(proposal_id),
                    {"initiative": initiative_id, "members": members},
                ),
            )
        return self.get_proposal(proposal_id)

    def get_proposal(self, proposal_id: int) -> ProposalRecord:
        """One proposal with its reviews.

        Raises
        ------
        NotFoundError
        """
        _check_proposal_id(proposal_id)
        with self.engine.connect() as connection:
            row = _get(connection, tables.coalition_proposals, proposal_id, "Proposal")
            return self._proposals(connection, [row])[0]

    def list_proposals(
        self,
        *,
        status: str | None = None,
        lead: str | None = None,
        theme: str | None = None,
        country: str | None = None,
        member: str | None = None,
        sort: str = "-created_at",
        offset: int = 0,
        limit: int = 50,
    ) -> Page[ProposalRecord]:
        """Proposals filtered by status, by their initiative's lead, theme or country and by
        one of their members.

        ``sort`` is ``created_at``, ``score`` or ``id``, with ``-`` for descending.
        """
        proposals, initiatives = tables.coalition_proposals, tables.initiatives
        joined = proposals.join(initiatives, proposals.c.initiative_id == initiatives.c.id)
        conditions: list[ColumnElement[bool]] = []
        if status:
            conditions.append(proposals.c.status == status)
        if lead:
            conditions.append(initiatives.c.lead == lead)
        if theme:
            conditions.append(_contains_code(initiatives.c.themes, theme))
        if country:
            conditions.append(_contains_code(initiatives.c.countries, country))
        if member:
            conditions.append(_contains_code(proposals.c.members, member))
        condition = and_(True, *conditions)
        columns = {
            "created_at": proposals.c.created_at,
            "score": proposals.c.score,
            "id": proposals.c.id,
        }
        column = columns[sort.lstrip("-")]
        order = [column.desc() if sort.startswith("-") else column.asc(), proposals.c.id.desc()]
        with self.engine.connect() as connection:
            total = int(
                connection.execute(
                    select(func.count()).select_from(joined).where(condition)
                ).scalar_one()
            )
            rows = (
                connection.execute(
                    select(proposals)
                    .select_from(joined)
                    .where(condition)
                    .order_by(*order)
                    .offset(offset)
                    .limit(limit)
                )
                .mappings()
                .all()
            )
            return Page(self._proposals(connection, rows), total, offset, limit)

    def decided_proposals(self) -> list[tuple[ProposalRecord, InitiativeRecord]]:
        """Every approved or rejected proposal with its reviews, and its initiative, oldest
        first: what the engine learns from the reviewers' decisions."""
        proposals, initiatives = tables.coalition_proposals, tables.initiatives
        with self.engine.connect() as connection:
            rows = (
                connection.execute(
                    select(proposals)
                    .where(proposals.c.status.in_((DECISIONS["approve"], DECISIONS["reject"])))
                    .order_by(proposals.c.id)
                )
                .mappings()
                .all()
            )
            records = self._proposals(connection, rows)
            wanted = sorted({r.initiative_id for r in records})
            found = (
                connection.execute(select(initiatives).where(initiatives.c.id.in_(wanted)))
                .mappings()
                .all()
                if wanted
                else []
            )
        by_id = {row["id"]: _initiative(row) for row in found}
        return [(r, by_id[r.initiative_id]) for r in records if r.initiative_id in by_id]

    def decide(
        self,
        proposal_id: int,
        *,
        reviewer: str,
        decision: str,
        reason_code: str,
        comment: str,
        expected_version: int | None,
    ) -> ProposalRecord:
        """Record a reviewer's decision on a proposal still awaiting one.

        The status changes only if the proposal is still ``proposed`` at the version the
        reviewer saw: of several reviewers deciding at once exactly one succeeds. An
        approval or a rejection bumps the data version: the engine learns from it (an
        approved coalition becomes a partnership of the history at the next index build,
        so an approval moves the index version too; a rejection lowers its members for that
        lead without a new index).

        Raises
        ------
        NotFoundError
        StaleVersionError
            If someone decided first, or the version is not the one given.
        ConflictError
            Approving a proposal a member of which no longer exists.
        ValueError
            For an unknown decision.
        """
        if decision not in DECISIONS:
            raise ValueError(f"Unknown decision {decision!r}")
        _check_proposal_id(proposal_id)
        table = tables.coalition_proposals
        with writer(self.engine).begin() as connection:
            row = _get(connection, table, proposal_id, "Proposal")
            version = int(row["version"])
            if decision == "approve":
                self._check_members_exist(connection, proposal_id, row["members"])
            if expected_version is not None and expected_version != version:
                raise StaleVersionError(
                    f"Proposal {proposal_id} is at version {version}, not {expected_version}: "
                    f"someone changed it since (now {row['status']})"
                )
            changed = connection.execute(
                update(table)
                .where(
                    and_(
                        table.c.id == proposal_id,
                        table.c.version == version,
                        table.c.status == "proposed",
                    )
                )
                .values(status=DECISIONS[decision], version=version + 1)
            ).rowcount
            if changed != 1:
                current = connection.execute(
                    select(table.c.status).where(table.c.id == proposal_id)
                ).scalar_one()
                raise StaleVersionError(
                    f"Proposal {proposal_id} was already decided: it is {current}"
                )
            connection.execute(
                insert(tables.reviews),
                {
                    "proposal_id": proposal_id,
                    "reviewer": reviewer,
                    "decision": decision,
                    "reason_code": reason_code,
                    "comment": comment,
                    "created_at": _now(),
                },
            )
            insert_audit(
                connection,
                AuditEntry(
                    reviewer,
                    decision,
                    "proposal",
                    str(proposal_id),
                    {"reason_code": reason_code, "comment": comment, "version": version + 1},
                ),
            )
            if decision in ("approve", "reject"):
                # an approval adds a partnership to the history; a rejection only a penalty
                bump_data_version(connection, index=decision == "approve")
        return self.get_proposal(proposal_id)

    @staticmethod
    def _check_members_exist(connection: Connection, proposal_id: int, members: str) -> None:
        missing = _missing_organisations(connection, {m for m in members.split(";") if m})
        if missing:
            raise ConflictError(
                f"Proposal {proposal_id} cannot be approved: its member(s) "
                f"{', '.join(map(repr, missing))} no longer exist"
            )

    # ---- API keys ----------------------------------------------------------------------

    def add_key(self, key_id: str, digest: str, *, role: str, name: str, actor: str) -> KeyRecord:
        """Store a new API key's digest (never the key itself)."""
        now = _now()
        with writer(self.engine).begin() as connection:
            connection.execute(
                insert(tables.api_keys),
                {"id": key_id, "digest": digest, "role": role, "name": name, "created_at": now},
            )
            insert_audit(connection, AuditEntry(actor, "create", "api_key", key_id, {"role": role}))
        return KeyRecord(key_id, digest, role, name, now, None)

    def find_key(self, key_id: str) -> KeyRecord | None:
        """The stored key with this public id, if any."""
        table = tables.api_keys
        with self.engine.connect() as connection:
            row = _one(connection, table, table.c.id, key_id)
        if row is None:
            return None
        revoked = row["revoked_at"]
        return _from_row(
            KeyRecord,
            row,
            created_at=aware(row["created_at"]),
            revoked_at=aware(revoked) if revoked is not None else None,
        )

    def revoke_key(self, key_id: str, *, actor: str) -> None:
        """Revoke a key (kept, with when).

        Raises
        ------
        NotFoundError
        """
        table = tables.api_keys
        with writer(self.engine).begin() as connection:
            changed = connection.execute(
                update(table)
                .where(and_(table.c.id == key_id, table.c.revoked_at.is_(None)))
                .values(revoked_at=_now())
            ).rowcount
            if changed != 1:
                raise NotFoundError(f"API key {key_id!r} not found or already revoked")
            insert_audit(connection, AuditEntry(actor, "revoke", "api_key", key_id, {}))

    # ---- audit -------------------------------------------------------------------------

    def list_audit(
        self,
        *,
        entity_type: str | None = None,
        entity_id: str | None = None,
        actor: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Page[AuditEntry]:
        """Audit entries, newest first."""
        table = tables.audit_log
        conditions = _equal(table, entity_type=entity_type, entity_id=entity_id, actor=actor)
        return self._listing(
            table,
            conditions,
            table.c.id.desc(),
            offset,
            limit,
            lambda _, rows: [audit_entry(row) for row in rows],
        )

    # ---- helpers -----------------------------------------------------------------------

    def _listing(
        self,
        table: Any,
        conditions: Sequence[ColumnElement[bool]],
        order: Any,
        offset: int,
        limit: int,
        records: Callable[[Connection, Sequence[RowMapping]], list[T]],
    ) -> Page[T]:
        """One page of the rows of ``table`` matching all ``conditions``, as records."""
        with self.engine.connect() as connection:
            total, rows = _paged(connection, table, and_(True, *conditions), order, offset, limit)
            return Page(records(connection, rows), total, offset, limit)

    def _get_entity(self, entity: _Entity[E, C, R], record_id: str) -> R:
        """One stored record with its children.

        Raises
        ------
        NotFoundError
        """
        with self.engine.connect() as connection:
            row = _get(connection, entity.table, record_id, entity.what)
            return entity.records(connection, [row])[0]

    def _save_entity(
        self,
        entity: _Entity[E, C, R],
        record: E,
        children: Sequence[C],
        *,
        create: bool,
        expected_version: int | None,
        actor: str,
        duplicates: bool = True,
        check: Callable[[Connection], None] | None = None,
    ) -> int:
        """Write a record (:meth:`_write_entity`) and replace its children in one transaction,
        after ``check``; the version written. With ``duplicates``, a unique-key violation is
        a :class:`DuplicateIdError`."""
        with (
            _duplicate_as(entity.what, record.id, when=duplicates),
            writer(self.engine).begin() as connection,
        ):
            if check is not None:
                check(connection)
            version = self._write_entity(
                connection,
                entity.table,
                record_to_row(record),
                create=create,
                expected_version=expected_version,
                what=entity.what,
                actor=actor,
            )
            if not create:
                column = entity.children.c[entity.parent]
                connection.execute(delete(entity.children).where(column == record.id))
            rows = [record_to_row(child) for child in children]
            if rows:
                connection.execute(insert(entity.children), rows)
            bump_data_version(connection)
        return version

    def _write_entity(
        self,
        connection: Connection,
        table: Any,
        values: Mapping[str, Any],
        *,
        create: bool,
        expected_version: int | None,
        what: str,
        actor: str,
        created: Mapping[str, Any] | None = None,
        before_update: Callable[[Connection, str], None] | None = None,
    ) -> int:
        """Insert (``create``, at version 1, with ``created``) or update the versioned row
        ``values`` of ``table``, with its audit entry; the version written. An update checks
        the version, then calls ``before_update`` with the row's id.

        Raises
        ------
        DuplicateIdError
            Creating an id that exists.
        NotFoundError
        StaleVersionError
        """
        record_id = values["id"]
        if create:
            if self._exists(connection, table, record_id):
                raise DuplicateIdError(f"{what} {record_id!r} already exists")
            version = 1
            connection.execute(insert(table), {**values, "version": version, **(created or {})})
        else:
            version = self._next_version(connection, table, record_id, expected_version, what)
            if before_update is not None:
                before_update(connection, record_id)
            connection.execute(
                update(table).where(table.c.id == record_id).values(**values, version=version)
            )
        action = "create" if create else "update"
        entry = AuditEntry(actor, action, what.lower(), record_id, {"version": version})
        insert_audit(connection, entry)
        return version

    def _delete(
        self,
        table: Any,
        record_id: str,
        what: str,
        *,
        expected_version: int | None,
        actor: str,
        first: Iterable[Executable] = (),
        data: bool = False,
    ) -> None:
        """Delete a versioned row of ``table`` after the statements ``first`` (its
        dependants), with its audit entry, in one transaction; ``data``: a row the
        recommendation index is built from (the data version moves on).

        Raises
        ------
        NotFoundError
        StaleVersionError
        """
        with writer(self.engine).begin() as connection:
            self._next_version(connection, table, record_id, expected_version, what)
            for statement in first:
                connection.execute(statement)
            connection.execute(delete(table).where(table.c.id == record_id))
            if data:
                bump_data_version(connection)
            insert_audit(connection, AuditEntry(actor, "delete", what.lower(), record_id, {}))

    @staticmethod
    def _exists(connection: Connection, table: Any, record_id: str) -> bool:
        return (
            connection.execute(select(table.c.id).where(table.c.id == record_id)).first()
            is not None
        )

    @staticmethod
    def _next_version(
        connection: Connection,
        table: Any,
        record_id: str,
        expected_version: int | None,
        what: str,
    ) -> int:
        """Lock-free optimistic check: the stored version must be ``expected_version``.

        The caller's UPDATE then sets ``version + 1``; two writers racing on one version
        cannot both pass, as the second UPDATE matches no row (checked by the caller's
        transaction isolation on SQLite; on PostgreSQL the row lock of the first UPDATE).
        """
        version = connection.execute(
            select(table.c.version).where(table.c.id == record_id).with_for_update()
        ).scalar()
        if version is None:
            raise NotFoundError(f"{what} {record_id!r} not found")
        if expected_version is not None and int(version) != expected_version:
            raise StaleVersionError(
                f"{what} {record_id!r} is at version {version}, not {expected_version}: "
                "someone changed it since you read it"
            )
        return int(version) + 1
