"""Conversion between domain objects and table rows (plain dicts of column values).

The same rows feed the SQL repository and the in-memory one, so both store exactly the same
thing. List fields become the interchange text (codes sorted, joined with ``;``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from matcher.domain.dataset import Dataset
from matcher.domain.model import Capability, Conflict, Flag, Membership, Organisation, Partnership
from matcher.domain.taxonomy import Taxonomies, Term, Vocabulary
from matcher.formats.datadir import LIST_SEPARATOR
from matcher.formats.datadir_writer import format_cell

__all__ = ["Row", "ENTITY_TABLES", "dataset_rows", "rows_to_dataset"]

Row = dict[str, Any]

#: Table -> vocabulary name in ``taxonomy_terms``.
_VOCABULARIES = {"themes": "themes", "capabilities": "capabilities"}
#: Tables whose rows are entities with an ``id`` and a ``version``.
ENTITY_TABLES = ("organisations", "partnerships")


def _text(value: Any) -> str:
    return format_cell(value)


def _optional_text(value: Any) -> str | None:
    return format_cell(value) or None


def _split(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(part for part in text.split(LIST_SEPARATOR) if part)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def organisation_row(org: Organisation) -> Row:
    return {
        "id": org.id,
        "name": org.name,
        "kind": _text(org.kind),
        "sector": _text(org.sector),
        "country": org.country,
        "size": _optional_text(org.size),
        "themes": _text(org.themes),
        "resources": _text(org.resources),
        "motivations": _text(org.motivations),
        "gc_status": _optional_text(org.gc_status),
        "verified_on": org.verified_on,
        "max_active": org.max_active,
        "description": org.description,
        "aliases": _text(org.aliases),
        "source": org.source,
        "identifiers": _text(org.identifiers),
    }


def capability_row(capability: Capability) -> Row:
    return {
        "org_id": capability.org_id,
        "capability": capability.capability,
        "strength": float(capability.strength),
        "quantity": _float(capability.quantity),
        "unit": capability.unit or None,
        "source": capability.source,
    }


def partnership_row(partnership: Partnership) -> Row:
    return {
        "id": partnership.id,
        "name": partnership.name,
        "start_year": partnership.start_year,
        "end_year": partnership.end_year,
        "countries": _text(partnership.countries),
        "themes": _text(partnership.themes),
        "activity_types": _text(partnership.activity_types),
        "amount_usd": _float(partnership.amount_usd),
        "outcome": _optional_text(partnership.outcome),
        "source": partnership.source,
        "description": partnership.description,
    }


def membership_row(membership: Membership) -> Row:
    return {
        "partnership_id": membership.partnership_id,
        "org_id": membership.org_id,
        "role": _text(membership.role),
        "contribution_usd": _float(membership.contribution_usd),
    }


def flag_row(flag: Flag) -> Row:
    return {
        "org_id": flag.org_id,
        "category": flag.category,
        "level": _text(flag.level),
        "note": flag.note,
        "date": flag.date,
        "source": flag.source,
        "dismissed_by": flag.dismissed_by,
        "dismissed_on": flag.dismissed_on,
    }


def conflict_row(conflict: Conflict) -> Row:
    org_a, org_b = sorted((conflict.org_a, conflict.org_b))
    return {"org_a": org_a, "org_b": org_b, "reason": conflict.reason}


def _term_rows(vocabulary: Vocabulary, builtin: Vocabulary, name: str) -> list[Row]:
    return [
        {
            "vocabulary": name,
            "code": term.code,
            "label": term.label,
            "parent": term.parent,
            "sdg": term.attributes.get("sdg") or None,
            "description": term.description,
            "source": term.source,
        }
        for code, term in vocabulary.items()
        if code not in builtin
    ]


def dataset_rows(dataset: Dataset, builtin: Taxonomies) -> dict[str, list[Row]]:
    """The rows of every table for ``dataset``; taxonomy terms not in ``builtin`` included."""
    return {
        "taxonomy_terms": _term_rows(dataset.taxonomies.themes, builtin.themes, "themes")
        + _term_rows(dataset.taxonomies.capabilities, builtin.capabilities, "capabilities"),
        "organisations": [organisation_row(o) for o in dataset.organisations.values()],
        "partnerships": [partnership_row(p) for p in dataset.partnerships.values()],
        "capabilities": [capability_row(c) for c in dataset.capabilities],
        "memberships": [membership_row(m) for m in dataset.memberships],
        "flags": [flag_row(f) for f in dataset.flags],
        "conflicts": [conflict_row(c) for c in dataset.conflicts],
    }


def _terms(rows: Iterable[Mapping[str, Any]], vocabulary: str) -> list[Term]:
    return [
        Term(
            code=row["code"],
            label=row["label"],
            parent=row["parent"],
            description=row["description"],
            source=row["source"],
            attributes={"sdg": row["sdg"]} if row["sdg"] else {},
        )
        for row in rows
        if row["vocabulary"] == vocabulary
    ]


def rows_to_dataset(
    tables: Mapping[str, Iterable[Mapping[str, Any]]], builtin: Taxonomies
) -> Dataset:
    """Rebuild a :class:`Dataset` from table rows (the inverse of :func:`dataset_rows`)."""
    terms = list(tables.get("taxonomy_terms", ()))
    taxonomies = builtin.extended(
        themes=_terms(terms, "themes"), capabilities=_terms(terms, "capabilities")
    )
    organisations = [
        Organisation(
            id=row["id"],
            name=row["name"],
            kind=row["kind"],
            sector=row["sector"],
            country=row["country"],
            size=row["size"],
            themes=frozenset(_split(row["themes"])),
            resources=frozenset(_split(row["resources"])),
            motivations=frozenset(_split(row["motivations"])),
            gc_status=row["gc_status"],
            verified_on=row["verified_on"],
            max_active=row["max_active"],
            description=row["description"],
            aliases=_split(row["aliases"]),
            source=row["source"],
            identifiers=_split(row["identifiers"]),
        )
        for row in tables.get("organisations", ())
    ]
    partnerships = [
        Partnership(
            id=row["id"],
            name=row["name"],
            start_year=row["start_year"],
            end_year=row["end_year"],
            countries=frozenset(_split(row["countries"])),
            themes=frozenset(_split(row["themes"])),
            activity_types=frozenset(_split(row["activity_types"])),  # type: ignore[arg-type]
            amount_usd=row["amount_usd"],
            outcome=row["outcome"],
            source=row["source"],
            description=row["description"],
        )
        for row in tables.get("partnerships", ())
    ]
    return Dataset.build(
        organisations=organisations,
        partnerships=partnerships,
        capabilities=[
            Capability(
                org_id=row["org_id"],
                capability=row["capability"],
                strength=row["strength"],
                quantity=row["quantity"],
                unit=row["unit"],
                source=row["source"],
            )
            for row in tables.get("capabilities", ())
        ],
        memberships=[
            Membership(
                partnership_id=row["partnership_id"],
                org_id=row["org_id"],
                role=row["role"],
                contribution_usd=row["contribution_usd"],
            )
            for row in tables.get("memberships", ())
        ],
        flags=[
            Flag(
                org_id=row["org_id"],
                category=row["category"],
                level=row["level"],
                note=row["note"],
                date=row["date"],
                source=row.get("source") or "",
                dismissed_by=row.get("dismissed_by") or "",
                dismissed_on=row.get("dismissed_on"),
            )
            for row in tables.get("flags", ())
        ],
        conflicts=[
            Conflict(org_a=row["org_a"], org_b=row["org_b"], reason=row["reason"])
            for row in tables.get("conflicts", ())
        ],
        taxonomies=taxonomies,
    )
