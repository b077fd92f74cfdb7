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

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from enum import Enum
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


def _from_body(kind: Any, record_id: str, body: Mapping[str, Any], **given: Any) -> Any:
    """A ``kind`` (a domain dataclass) named ``record_id`` from a request body: each of its
    fields the body has, a set or tuple field as one (empty when absent); ``given`` fields
    as given. One reading for organisations and partnerships alike."""
    fields: dict[str, Any] = {}
    for field in dataclasses.fields(kind):
        if field.name == "id" or field.name in given:
            continue
        if isinstance(field.default, frozenset | tuple):
            fields[field.name] = type(field.default)(body.get(field.name) or ())
        elif field.name in body:
            fields[field.name] = body[field.name]
    return _build(kind, "", id=record_id, **fields, **given)


def _json_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, frozenset):
        return sorted(_json_value(item) for item in value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _json_fields(record: Any, leave_out: str = "") -> dict[str, Any]:
    """The fields of a domain dataclass in their JSON form, in their order (but the one
    named ``leave_out``): enums as their values, sets sorted, tuples as lists; the inverse
    of :func:`_from_body`."""
    return {
        field.name: _json_value(getattr(record, field.name))
        for field in dataclasses.fields(record)
        if field.name != leave_out
    }


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
    organisation = _from_body(Organisation, org_id, body)
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
    return {
        **_json_fields(record.organisation),
        "capabilities": [_json_fields(c, leave_out="org_id") for c in record.capabilities],
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
    partnership = _from_body(
        Partnership, partnership_id, body, description=body.get("description") or ""
    )
    memberships = [
        _build(Membership, f"members.{k}", partnership_id=partnership_id, **raw)
        for k, raw in _each_once(body.get("members"), "org_id", "members", "Organisation")
    ]
    return partnership, memberships


def partnership_body(record: PartnershipRecord) -> dict[str, Any]:
    """The JSON form of a stored partnership."""
    return {
        **_json_fields(record.partnership),
        "members": [_json_fields(m, leave_out="partnership_id") for m in record.memberships],
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
