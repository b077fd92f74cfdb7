"""Records edited one at a time (the HTTP API): plain mappings in, checked domain objects out,
and back.

The same rules as a data directory's (:mod:`matcher.formats.datadir`): every code must be known to
the taxonomies, countries are ISO 3166-1; a problem raises
:class:`~matcher.domain.exceptions.ValidationError` naming the field's path.

>>> from matcher.formats.taxonomy_io import load_taxonomies
>>> org, caps = organisation_from_body(
...     "acme", {"name": "Acme", "kind": "company", "capabilities": [{"capability": "fundin"}]},
...     load_taxonomies())
Traceback (most recent call last):
...
matcher.domain.exceptions.UnknownCodeError: Unknown capability code 'fundin'
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from matcher.domain.exceptions import UnknownCodeError, ValidationError
from matcher.domain.model import Capability, Initiative, Membership, Organisation, Partnership
from matcher.domain.taxonomy import Taxonomies, Vocabulary
from matcher.storage.catalog import OrganisationRecord, PartnershipRecord

__all__ = [
    "organisation_from_body",
    "organisation_body",
    "partnership_from_body",
    "partnership_body",
    "check_initiative",
]


def _check_all(vocabulary: Vocabulary, codes: Any, field: str) -> None:
    for k, code in enumerate(codes or ()):
        vocabulary.check(code, f"{field}.{k}")


def _build(factory: Any, field_prefix: str, **fields: Any) -> Any:
    try:
        return factory(**fields)
    except ValidationError as err:
        if err.field and field_prefix:
            err.field = f"{field_prefix}.{err.field}"
        raise


def organisation_from_body(
    org_id: str, body: Mapping[str, Any], taxonomies: Taxonomies
) -> tuple[Organisation, list[Capability]]:
    """An organisation and its capabilities from a request body (without its ``id``)."""
    _check_all(taxonomies.themes, body.get("themes"), "themes")
    _check_all(taxonomies.resources, body.get("resources"), "resources")
    _check_all(taxonomies.motivations, body.get("motivations"), "motivations")
    for name, vocabulary in (("kind", taxonomies.kinds), ("sector", taxonomies.sectors)):
        if body.get(name) is not None:
            vocabulary.check(body[name], name)
    fields = {
        key: body[key]
        for key in (
            "name",
            "kind",
            "sector",
            "country",
            "size",
            "gc_status",
            "verified_on",
            "max_active",
            "description",
            "source",
        )
        if key in body
    }
    organisation = _build(
        Organisation,
        "",
        id=org_id,
        themes=frozenset(body.get("themes") or ()),
        resources=frozenset(body.get("resources") or ()),
        motivations=frozenset(body.get("motivations") or ()),
        aliases=tuple(body.get("aliases") or ()),
        identifiers=tuple(body.get("identifiers") or ()),
        **fields,
    )
    capabilities = []
    for k, raw in _each_once(body.get("capabilities"), "capability", "capabilities", "Capability"):
        taxonomies.capabilities.check(raw["capability"], f"capabilities.{k}.capability")
        capabilities.append(_build(Capability, f"capabilities.{k}", org_id=org_id, **raw))
    return organisation, capabilities


def _each_once(
    items: Iterable[Mapping[str, Any]] | None, key: str, path: str, noun: str
) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """``(position, item)`` of a body's list, refusing an item whose ``key`` came before."""
    seen: set[str] = set()
    for k, raw in enumerate(items or ()):
        if raw[key] in seen:
            raise ValidationError(
                f"{noun} {raw[key]!r} is listed twice", field=f"{path}.{k}.{key}", value=raw[key]
            )
        seen.add(raw[key])
        yield k, raw


def organisation_body(record: OrganisationRecord) -> dict[str, Any]:
    """The JSON form of a stored organisation."""
    org = record.organisation
    return {
        "id": org.id,
        "name": org.name,
        "kind": org.kind.value,
        "sector": org.sector.value if org.sector else None,
        "country": org.country,
        "size": org.size.value if org.size else None,
        "themes": sorted(org.themes),
        "resources": sorted(org.resources),
        "motivations": sorted(org.motivations),
        "gc_status": org.gc_status.value if org.gc_status else None,
        "verified_on": org.verified_on,
        "max_active": org.max_active,
        "description": org.description,
        "aliases": list(org.aliases),
        "source": org.source,
        "identifiers": list(org.identifiers),
        "capabilities": [
            {
                "capability": c.capability,
                "strength": c.strength,
                "quantity": c.quantity,
                "unit": c.unit,
                "source": c.source,
            }
            for c in record.capabilities
        ],
        "version": record.version,
    }


def partnership_from_body(
    partnership_id: str, body: Mapping[str, Any], taxonomies: Taxonomies
) -> tuple[Partnership, list[Membership]]:
    """A partnership and its memberships from a request body (without its ``id``)."""
    _check_all(taxonomies.themes, body.get("themes"), "themes")
    _check_all(taxonomies.activity_types, body.get("activity_types"), "activity_types")
    if body.get("outcome") is not None:
        taxonomies.outcomes.check(body["outcome"], "outcome")
    start, end = body.get("start_year"), body.get("end_year")
    if start is not None and end is not None and end < start:
        raise ValidationError(
            f"end_year {end} is before start_year {start}", field="end_year", value=end
        )
    fields = {
        key: body[key]
        for key in ("name", "start_year", "end_year", "amount_usd", "outcome", "source")
        if key in body
    }
    partnership = _build(
        Partnership,
        "",
        id=partnership_id,
        countries=frozenset(body.get("countries") or ()),
        themes=frozenset(body.get("themes") or ()),
        activity_types=frozenset(body.get("activity_types") or ()),
        description=body.get("description") or "",
        **fields,
    )
    memberships = [
        _build(Membership, f"members.{k}", partnership_id=partnership_id, **raw)
        for k, raw in _each_once(body.get("members"), "org_id", "members", "Organisation")
    ]
    return partnership, memberships


def partnership_body(record: PartnershipRecord) -> dict[str, Any]:
    """The JSON form of a stored partnership."""
    p = record.partnership
    return {
        "id": p.id,
        "name": p.name,
        "start_year": p.start_year,
        "end_year": p.end_year,
        "countries": sorted(p.countries),
        "themes": sorted(p.themes),
        "activity_types": sorted(a.value for a in p.activity_types),
        "amount_usd": p.amount_usd,
        "outcome": p.outcome.value if p.outcome else None,
        "source": p.source,
        "description": p.description,
        "members": [
            {"org_id": m.org_id, "role": m.role.value, "contribution_usd": m.contribution_usd}
            for m in record.memberships
        ],
        "version": record.version,
    }


def check_initiative(body: Mapping[str, Any], taxonomies: Taxonomies) -> Initiative:
    """An initiative from its JSON form, every code checked against ``taxonomies``."""
    initiative = Initiative.from_mapping(dict(body))
    _check_all(taxonomies.themes, sorted(initiative.themes), "themes")
    for k, need in enumerate(initiative.needs):
        taxonomies.capabilities.check(need.capability, f"needs.{k}.capability")
    for name in ("required_sectors", "required_kinds"):
        vocabulary = taxonomies.sectors if name == "required_sectors" else taxonomies.kinds
        for code in sorted(getattr(initiative.constraints, name)):
            if code not in vocabulary:
                raise UnknownCodeError(
                    f"Unknown {vocabulary.name} code {code!r}",
                    field=f"constraints.{name}",
                    value=code,
                )
    return initiative
