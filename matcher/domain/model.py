"""Domain model: organisations, capabilities, needs, partnerships, initiatives, coalitions.

Every class is an immutable value object that validates itself on construction and
raises :class:`~matcher.domain.exceptions.ValidationError` naming the offending field and value.
The closed vocabularies of the interchange contract (DESIGN.md 5.1: organisation kinds,
sectors, sizes, Global Compact statuses, activity types, roles, outcomes, flag levels) are
enumerations here; the open ones (themes, capabilities, resources, motivations, flag
categories) are checked against :class:`~matcher.domain.taxonomy.Taxonomies` by the loaders,
because a data directory may extend them.

Examples
--------
>>> org = Organisation(id="itau", name="Itau", kind="company", country="BRA")
>>> org.sector, org.country
(<Sector.PRIVATE: 'private'>, 'BR')
>>> Need("funding", weight=0.0)
Traceback (most recent call last):
...
matcher.domain.exceptions.ValidationError: Need 'funding': weight must be positive, got 0.0
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

from matcher.domain.countries import normalise_country
from matcher.domain.exceptions import UnknownCodeError, ValidationError

__all__ = [
    "ID_PATTERN",
    "IDENTIFIER_PATTERN",
    "Sector",
    "Kind",
    "DEFAULT_SECTOR",
    "Size",
    "GCStatus",
    "ActivityType",
    "Role",
    "Outcome",
    "FlagLevel",
    "Organisation",
    "Capability",
    "Need",
    "Partnership",
    "Membership",
    "Flag",
    "Conflict",
    "Constraints",
    "COMPLEMENTARITY",
    "Initiative",
    "CoalitionMember",
    "Gap",
    "Exclusion",
    "Coalition",
    "check_id",
    "check_identifier",
    "identifier_key",
    "LEAD_ROLES",
    "choose_lead",
]

ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
IDENTIFIER_PATTERN = re.compile(r"[^\s;]{1,200}")
_CODE_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_SCORE_TOLERANCE = 1e-9


class Sector(StrEnum):
    """The five sectors of DESIGN.md 2 (§21-22: balance between sectors)."""

    PUBLIC = "public"
    PRIVATE = "private"
    CIVIL_SOCIETY = "civil_society"
    ACADEMIC = "academic"
    PHILANTHROPIC = "philanthropic"


class Kind(StrEnum):
    """Organisation kinds of the interchange format (DESIGN.md 5.1)."""

    UN_ENTITY = "un_entity"
    COMPANY = "company"
    FOUNDATION = "foundation"
    NGO = "ngo"
    ACADEMIC = "academic"
    RESEARCH = "research"
    GOVERNMENT = "government"
    LOCAL_AUTHORITY = "local_authority"
    BUSINESS_ASSOCIATION = "business_association"
    TRADE_UNION = "trade_union"
    MEDIA = "media"
    MULTILATERAL = "multilateral"
    OTHER = "other"


DEFAULT_SECTOR: Mapping[Kind, Sector] = MappingProxyType(
    {
        Kind.UN_ENTITY: Sector.PUBLIC,
        Kind.MULTILATERAL: Sector.PUBLIC,
        Kind.GOVERNMENT: Sector.PUBLIC,
        Kind.LOCAL_AUTHORITY: Sector.PUBLIC,
        Kind.COMPANY: Sector.PRIVATE,
        Kind.BUSINESS_ASSOCIATION: Sector.PRIVATE,
        Kind.FOUNDATION: Sector.PHILANTHROPIC,
        Kind.NGO: Sector.CIVIL_SOCIETY,
        Kind.TRADE_UNION: Sector.CIVIL_SOCIETY,
        Kind.MEDIA: Sector.CIVIL_SOCIETY,
        Kind.ACADEMIC: Sector.ACADEMIC,
        Kind.RESEARCH: Sector.ACADEMIC,
        Kind.OTHER: Sector.CIVIL_SOCIETY,
    }
)


class Size(StrEnum):
    """Company size (§42-43: SMEs carry most trade and employment)."""

    SME = "sme"
    LARGE = "large"


class GCStatus(StrEnum):
    """Global Compact participation status (§34-35)."""

    ACTIVE = "active"
    NON_COMMUNICATING = "non_communicating"
    DELISTED = "delisted"


class ActivityType(StrEnum):
    """The six activity types of §14 a-f."""

    POLICY_DIALOGUE = "policy_dialogue"
    ADVOCACY = "advocacy"
    FUNDRAISING = "fundraising"
    INFORMATION_LEARNING = "information_learning"
    OPERATIONAL = "operational"
    PARTNERSHIP_PROMOTION = "partnership_promotion"


class Role(StrEnum):
    """A member's role in a partnership."""

    LEAD = "lead"
    FUNDER = "funder"
    IMPLEMENTER = "implementer"
    TECHNICAL = "technical"
    CONVENER = "convener"
    MEMBER = "member"


#: Where a partnership marks no lead, who leads it: the first role of this order present
#: (IATI's "accountable" organisation is imported as ``lead``, its "extending" one as
#: ``convener``), else the first member listed.
LEAD_ROLES: tuple[Role, ...] = (Role.LEAD, Role.CONVENER, Role.FUNDER)


def choose_lead(members: Sequence[tuple[str, Role]]) -> str | None:
    """The lead of a partnership from its ``(organisation, role)`` rows, in file order.

    A member of role ``lead`` (the first by id if several), else a ``convener``, else a
    ``funder`` (the first by id), else the first member listed; ``None`` without members.

    >>> choose_lead([("b", Role.MEMBER), ("c", Role.FUNDER), ("a", Role.FUNDER)])
    'a'
    >>> choose_lead([("b", Role.MEMBER), ("a", Role.IMPLEMENTER)])
    'b'
    """
    for role in LEAD_ROLES:
        holders = sorted(org for org, held in members if held is role)
        if holders:
            return holders[0]
    return members[0][0] if members else None


class Outcome(StrEnum):
    """How a partnership ended or stands (§84: continued, scaled up or abandoned)."""

    ACTIVE = "active"
    COMPLETED = "completed"
    CONTINUED = "continued"
    SCALED_UP = "scaled_up"
    ABANDONED = "abandoned"
    UNKNOWN = "unknown"


class FlagLevel(StrEnum):
    """Integrity flag levels, in increasing severity (UN Partner Portal practice)."""

    OBSERVATION = "observation"
    YELLOW = "yellow"
    ESCALATED = "escalated"
    RED = "red"

    @property
    def rank(self) -> int:
        """Severity from 1 (observation) to 4 (red)."""
        return list(FlagLevel).index(self) + 1


_E = TypeVar("_E", bound=StrEnum)


def check_id(value: object, what: str, field_name: str = "id") -> str:
    """Return ``value`` if it is a valid id, else raise :class:`ValidationError`.

    >>> check_id("unicef", "Organisation")
    'unicef'
    >>> check_id("a b", "Organisation")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    matcher.domain.exceptions.ValidationError: Organisation id 'a b' is invalid: use 1-64 ...
    """
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise ValidationError(
            f"{what} id {value!r} is invalid: use 1-64 letters, digits, '.', '_', ':' or '-'",
            field=field_name,
            value=value,
        )
    return value


def check_identifier(value: object, field_name: str = "identifiers") -> str:
    """Return ``value`` if it is a registry identifier, else raise :class:`ValidationError`.

    A registry identifier (an IATI organisation identifier such as ``XM-DAC-41122``, a
    charity number, ...) is 1-200 printable characters without spaces or ``;``.

    >>> check_identifier("XM-DAC-41122")
    'XM-DAC-41122'
    >>> check_identifier("Not available")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    matcher.domain.exceptions.ValidationError: Identifier 'Not available' is invalid: ...
    """
    if not isinstance(value, str) or not IDENTIFIER_PATTERN.fullmatch(value):
        raise ValidationError(
            f"Identifier {value!r} is invalid: use 1-200 printable characters without "
            "spaces or ';'",
            field=field_name,
            value=value,
        )
    return value


def identifier_key(identifier: str) -> str:
    """The form two identifiers are compared in: registries ignore case.

    >>> identifier_key("xm-dac-41122") == identifier_key("XM-DAC-41122")
    True
    """
    return identifier.casefold()


def _enum(enum: type[_E], value: object, what: str, field_name: str) -> _E:
    if isinstance(value, enum):
        return value
    try:
        return enum(value)  # type: ignore[arg-type]
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise UnknownCodeError(
            f"Unknown {what} {value!r}; expected one of: {allowed}", field=field_name, value=value
        ) from None


def _optional_enum(enum: type[_E], value: object, what: str, field_name: str) -> _E | None:
    if value is None or value == "":
        return None
    return _enum(enum, value, what, field_name)


def _listed(values: Iterable[str] | str | None, expected: str, field_name: str) -> Iterable[str]:
    """``values`` as given, or nothing; a lone string is refused (it would iterate by letter)
    with the message ``expected``, got the string."""
    if isinstance(values, str):
        raise ValidationError(
            f"{expected}, got the string {values!r}", field=field_name, value=values
        )
    return () if values is None else values


def _codes(values: Iterable[str] | str | None, what: str, field_name: str) -> frozenset[str]:
    codes = frozenset(_listed(values, f"{what} must be a list of codes", field_name))
    if all(isinstance(code, str) and _CODE_PATTERN.fullmatch(code) for code in codes):
        return codes
    for code in sorted(codes, key=str):  # the first invalid one, whatever the set's order
        if not isinstance(code, str) or not _CODE_PATTERN.fullmatch(code):
            raise ValidationError(f"{what} code {code!r} is invalid", field=field_name, value=code)
    return codes


def _number(
    value: object, what: str, field_name: str, *, minimum: float = 0.0, maximum: float = math.inf
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValidationError(
            f"{what}: {field_name} must be a number, got {value!r}", field=field_name, value=value
        )
    if not minimum <= value <= maximum:
        bounds = f"between {minimum:g} and {maximum:g}" if maximum < math.inf else f">= {minimum:g}"
        raise ValidationError(
            f"{what}: {field_name} must be {bounds}, got {value!r}", field=field_name, value=value
        )
    return float(value)


def _optional_number(value: object, what: str, field_name: str) -> float | None:
    return None if value is None else _number(value, what, field_name)


def _countries(values: Iterable[str] | None, field_name: str) -> frozenset[str]:
    listed = _listed(values, f"{field_name} must be a list of country codes", field_name)
    return frozenset(normalise_country(code, field=field_name) for code in listed)


def _set(instance: object, name: str, value: object) -> None:
    object.__setattr__(instance, name, value)


def _check_id_and_name(record: Organisation | Partnership, noun: str) -> str:
    """Check the id and the name (not empty) of a named record; what messages call it
    (``Organisation 'unicef'``)."""
    check_id(record.id, noun)
    what = f"{noun} {record.id!r}"
    if not isinstance(record.name, str) or not record.name.strip():
        raise ValidationError(f"{what}: name must not be empty", field="name", value=record.name)
    return what


@dataclass(frozen=True, slots=True)
class Organisation:
    """A node of the graph: a UN entity, company, NGO, foundation, government, ...

    ``sector`` defaults from ``kind``; ``country`` is normalised to ISO 3166-1 alpha-2 and
    is ``None`` for global or multilateral bodies.
    """

    id: str
    name: str
    kind: Kind
    sector: Sector | None = None
    country: str | None = None
    size: Size | None = None
    themes: frozenset[str] = frozenset()
    resources: frozenset[str] = frozenset()
    motivations: frozenset[str] = frozenset()
    gc_status: GCStatus | None = None
    verified_on: dt.date | None = None
    max_active: int | None = None
    description: str = ""
    aliases: tuple[str, ...] = ()
    source: str = ""
    identifiers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        what = _check_id_and_name(self, "Organisation")
        kind = _enum(Kind, self.kind, "organisation kind", "kind")
        _set(self, "kind", kind)
        sector = _optional_enum(Sector, self.sector, "sector", "sector")
        _set(self, "sector", sector or DEFAULT_SECTOR[kind])
        if self.country is not None and self.country != "":
            _set(self, "country", normalise_country(self.country, field="country"))
        else:
            _set(self, "country", None)
        _set(self, "size", _optional_enum(Size, self.size, "size", "size"))
        _set(self, "themes", _codes(self.themes, "Theme", "themes"))
        _set(self, "resources", _codes(self.resources, "Resource", "resources"))
        _set(self, "motivations", _codes(self.motivations, "Motivation", "motivations"))
        _set(
            self,
            "gc_status",
            _optional_enum(GCStatus, self.gc_status, "Global Compact status", "gc_status"),
        )
        if self.verified_on is not None and not isinstance(self.verified_on, dt.date):
            raise ValidationError(
                f"{what}: verified_on must be a date, got {self.verified_on!r}",
                field="verified_on",
                value=self.verified_on,
            )
        if self.max_active is not None and (
            isinstance(self.max_active, bool)
            or not isinstance(self.max_active, int)
            or self.max_active < 1
        ):
            raise ValidationError(
                f"{what}: max_active must be a positive integer, got {self.max_active!r}",
                field="max_active",
                value=self.max_active,
            )
        _set(self, "aliases", tuple(self.aliases))
        _set(self, "identifiers", tuple(check_identifier(i) for i in self.identifiers))


@dataclass(frozen=True, slots=True)
class Capability:
    """What an organisation can contribute: a taxonomy code with a strength in [0, 1].

    >>> Capability("itau", "funding.grants", strength=1.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    matcher.domain.exceptions.ValidationError: Capability ... strength must be between 0 and 1, ...
    """

    org_id: str
    capability: str
    strength: float = 1.0
    quantity: float | None = None
    unit: str | None = None
    source: str = ""

    def __post_init__(self) -> None:
        check_id(self.org_id, "Organisation", "org_id")
        _codes([self.capability], "Capability", "capability")
        what = f"Capability {self.capability!r} of {self.org_id!r}"
        _set(self, "strength", _number(self.strength, what, "strength", maximum=1.0))
        _set(self, "quantity", _optional_number(self.quantity, what, "quantity"))


@dataclass(frozen=True, slots=True)
class Need:
    """What an initiative lacks: a capability code, an importance weight, a quantity."""

    capability: str
    weight: float = 1.0
    quantity: float | None = None

    def __post_init__(self) -> None:
        _codes([self.capability], "Capability", "capability")
        what = f"Need {self.capability!r}"
        weight = _number(self.weight, what, "weight", minimum=-math.inf)
        if weight <= 0:
            raise ValidationError(
                f"{what}: weight must be positive, got {self.weight!r}",
                field="weight",
                value=self.weight,
            )
        _set(self, "weight", weight)
        _set(self, "quantity", _optional_number(self.quantity, what, "quantity"))


@dataclass(frozen=True, slots=True)
class Partnership:
    """A past or running partnership (history); its members are :class:`Membership` rows."""

    id: str
    name: str
    start_year: int | None = None
    end_year: int | None = None
    countries: frozenset[str] = frozenset()
    themes: frozenset[str] = frozenset()
    activity_types: frozenset[ActivityType] = frozenset()
    amount_usd: float | None = None
    outcome: Outcome | None = None
    source: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        what = _check_id_and_name(self, "Partnership")
        for name in ("start_year", "end_year"):
            year = getattr(self, name)
            if year is not None and (
                isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2100
            ):
                raise ValidationError(
                    f"{what}: {name} must be a year between 1900 and 2100, got {year!r}",
                    field=name,
                    value=year,
                )
        if (
            self.start_year is not None
            and self.end_year is not None
            and self.end_year < self.start_year
        ):
            raise ValidationError(
                f"{what}: end_year {self.end_year} is before start_year {self.start_year}",
                field="end_year",
                value=self.end_year,
            )
        _set(self, "countries", _countries(self.countries, "countries"))
        _set(self, "themes", _codes(self.themes, "Theme", "themes"))
        _set(
            self,
            "activity_types",
            frozenset(
                _enum(ActivityType, code, "activity type", "activity_types")
                for code in _codes(self.activity_types, "Activity type", "activity_types")
            ),
        )
        _set(self, "amount_usd", _optional_number(self.amount_usd, what, "amount_usd"))
        _set(self, "outcome", _optional_enum(Outcome, self.outcome, "outcome", "outcome"))


@dataclass(frozen=True, slots=True)
class Membership:
    """An organisation's part in a partnership."""

    partnership_id: str
    org_id: str
    role: Role = Role.MEMBER
    contribution_usd: float | None = None

    def __post_init__(self) -> None:
        check_id(self.partnership_id, "Partnership", "partnership_id")
        check_id(self.org_id, "Organisation", "org_id")
        _set(self, "role", _enum(Role, self.role or Role.MEMBER, "role", "role"))
        what = f"Membership of {self.org_id!r} in {self.partnership_id!r}"
        _set(
            self,
            "contribution_usd",
            _optional_number(self.contribution_usd, what, "contribution_usd"),
        )


@dataclass(frozen=True, slots=True)
class Flag:
    """An integrity flag on an organisation (§68 UN guidelines, §34 Global Compact).

    ``source`` names what raised it when a tool did (``un-sanctions:QDe.001`` for a
    sanctions-list match), so re-screening recognises it. A reviewer may dismiss a flag
    (a false positive): it is kept, with who dismissed it and when, and no longer counts.
    """

    org_id: str
    category: str
    level: FlagLevel
    note: str = ""
    date: dt.date | None = None
    source: str = ""
    dismissed_by: str = ""
    dismissed_on: dt.date | None = None

    def __post_init__(self) -> None:
        check_id(self.org_id, "Organisation", "org_id")
        _codes([self.category], "Flag category", "category")
        _set(self, "level", _enum(FlagLevel, self.level, "flag level", "level"))
        for name in ("date", "dismissed_on"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, dt.date):
                raise ValidationError(
                    f"Flag on {self.org_id!r}: {name} must be a date, got {value!r}",
                    field=name,
                    value=value,
                )
        if bool(self.dismissed_by) != (self.dismissed_on is not None):
            raise ValidationError(
                f"Flag on {self.org_id!r}: a dismissal needs both dismissed_by and dismissed_on",
                field="dismissed_by",
                value=self.dismissed_by,
            )

    @property
    def dismissed(self) -> bool:
        """Whether a reviewer dismissed the flag (it is shown, but no longer counts)."""
        return bool(self.dismissed_by)


@dataclass(frozen=True, slots=True)
class Conflict:
    """A declared pair of organisations that may not sit in one coalition (§78)."""

    org_a: str
    org_b: str
    reason: str = ""

    def __post_init__(self) -> None:
        check_id(self.org_a, "Organisation", "org_a")
        check_id(self.org_b, "Organisation", "org_b")
        if self.org_a == self.org_b:
            raise ValidationError(
                f"Conflict of {self.org_a!r} with itself", field="org_b", value=self.org_b
            )

    @property
    def pair(self) -> frozenset[str]:
        """The two organisations, unordered."""
        return frozenset((self.org_a, self.org_b))


@dataclass(frozen=True, slots=True)
class Constraints:
    """Hard constraints of an initiative; sizes count partners besides the lead.

    By default a coalition has 1 to 5 partners: within those bounds the objective decides how
    many are worth their coordination cost, so a default never rules a request out.
    """

    min_size: int = 1
    max_size: int = 5
    include: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()
    required_sectors: frozenset[Sector] = frozenset()
    required_kinds: frozenset[Kind] = frozenset()
    require_local_partner: bool = False
    budget_usd: float | None = None
    allow_lead_as_implementer: bool = False

    def __post_init__(self) -> None:
        for name in ("min_size", "max_size"):
            size = getattr(self, name)
            if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 50:
                raise ValidationError(
                    f"constraints.{name} must be an integer between 1 and 50, got {size!r}",
                    field=f"constraints.{name}",
                    value=size,
                )
        if self.min_size > self.max_size:
            raise ValidationError(
                f"constraints.min_size {self.min_size} is larger than max_size {self.max_size}",
                field="constraints.min_size",
                value=self.min_size,
            )
        include = frozenset(
            check_id(org, "Organisation", "constraints.include") for org in self.include
        )
        exclude = frozenset(
            check_id(org, "Organisation", "constraints.exclude") for org in self.exclude
        )
        both = sorted(include & exclude)
        if both:
            raise ValidationError(
                f"Organisation {both[0]!r} is both included and excluded",
                field="constraints.include",
                value=both[0],
            )
        if len(include) > self.max_size:
            raise ValidationError(
                f"constraints.include names {len(include)} organisations, more than "
                f"max_size {self.max_size}",
                field="constraints.include",
                value=sorted(include),
            )
        _set(self, "include", include)
        _set(self, "exclude", exclude)
        _set(
            self,
            "required_sectors",
            frozenset(
                _enum(Sector, s, "sector", "constraints.required_sectors")
                for s in self.required_sectors
            ),
        )
        _set(
            self,
            "required_kinds",
            frozenset(
                _enum(Kind, k, "organisation kind", "constraints.required_kinds")
                for k in self.required_kinds
            ),
        )
        for name in ("require_local_partner", "allow_lead_as_implementer"):
            if not isinstance(getattr(self, name), bool):
                raise ValidationError(
                    f"constraints.{name} must be true or false, got {getattr(self, name)!r}",
                    field=f"constraints.{name}",
                    value=getattr(self, name),
                )
        _set(
            self,
            "budget_usd",
            _optional_number(self.budget_usd, "Constraints", "constraints.budget_usd"),
        )


#: How a member that adds nothing unique is treated: forbidden, penalised or ignored.
COMPLEMENTARITY: tuple[str, ...] = ("strict", "prefer", "off")


@dataclass(frozen=True, slots=True)
class Initiative:
    """A partnership being built: the input of a recommendation (DESIGN.md 5.2).

    ``complementarity`` (``strict``, ``prefer`` or ``off``; ``None``: the engine's default)
    says whether a member that adds nothing unique is forbidden, penalised or ignored.
    """

    lead: str
    id: str = "initiative"
    title: str = ""
    themes: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    activity_types: frozenset[ActivityType] = frozenset()
    needs: tuple[Need, ...] = ()
    constraints: Constraints = field(default_factory=Constraints)
    count: int = 5
    description: str = ""
    source: str = ""
    complementarity: str | None = None

    def __post_init__(self) -> None:
        check_id(self.id, "Initiative")
        if self.complementarity is not None and self.complementarity not in COMPLEMENTARITY:
            raise ValidationError(
                f"complementarity must be one of {', '.join(COMPLEMENTARITY)}, "
                f"got {self.complementarity!r}",
                field="complementarity",
                value=self.complementarity,
            )
        check_id(self.lead, "Organisation", "lead")
        _set(self, "themes", _codes(self.themes, "Theme", "themes"))
        _set(self, "countries", _countries(self.countries, "countries"))
        _set(
            self,
            "activity_types",
            frozenset(
                _enum(ActivityType, code, "activity type", "activity_types")
                for code in _codes(self.activity_types, "Activity type", "activity_types")
            ),
        )
        needs = tuple(self.needs)
        seen: set[str] = set()
        for position, need in enumerate(needs):
            if need.capability in seen:
                raise ValidationError(
                    f"Need {need.capability!r} is listed twice",
                    field=f"needs.{position}.capability",
                    value=need.capability,
                )
            seen.add(need.capability)
        _set(self, "needs", needs)
        if self.lead in self.constraints.exclude:
            raise ValidationError(
                f"Lead {self.lead!r} cannot be excluded",
                field="constraints.exclude",
                value=self.lead,
            )
        if self.lead in self.constraints.include:
            raise ValidationError(
                f"Lead {self.lead!r} cannot also be a required member",
                field="constraints.include",
                value=self.lead,
            )
        if (
            isinstance(self.count, bool)
            or not isinstance(self.count, int)
            or not (1 <= self.count <= 50)
        ):
            raise ValidationError(
                f"count must be an integer between 1 and 50, got {self.count!r}",
                field="count",
                value=self.count,
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Initiative:
        """Build an initiative from its JSON form (DESIGN.md 5.2); unknown keys are errors.

        >>> Initiative.from_mapping({"lead": "unicef", "needs": [{"capability": "funding"}]}).needs
        (Need(capability='funding', weight=1.0, quantity=None),)
        >>> Initiative.from_mapping({"lead": "unicef", "neds": []})
        Traceback (most recent call last):
        ...
        matcher.domain.exceptions.ValidationError: Unknown field 'neds' in initiative
        """
        return _initiative_from_mapping(data)


#: The keys of the JSON forms (DESIGN.md 5.2): the fields of the classes they build.
_INITIATIVE_KEYS = frozenset(Initiative.__dataclass_fields__)
_NEED_KEYS = frozenset(Need.__dataclass_fields__)
_CONSTRAINT_KEYS = frozenset(Constraints.__dataclass_fields__)


def _reject_unknown(
    data: Mapping[str, Any], allowed: frozenset[str], where: str, path: str
) -> None:
    if not isinstance(data, Mapping):
        raise ValidationError(
            f"{where} must be an object, got {data!r}", field=path or None, value=data
        )
    for key in data:
        if key not in allowed:
            field_path = f"{path}.{key}" if path else key
            raise ValidationError(f"Unknown field {key!r} in {where}", field=field_path, value=key)


def _initiative_from_mapping(data: Mapping[str, Any]) -> Initiative:
    _reject_unknown(data, _INITIATIVE_KEYS, "initiative", "")
    if "lead" not in data:
        raise ValidationError("Field 'lead' is required", field="lead", value=None)
    needs = []
    raw_needs = data.get("needs", [])
    if not isinstance(raw_needs, list):
        raise ValidationError("needs must be a list", field="needs", value=raw_needs)
    for index, raw in enumerate(raw_needs):
        path = f"needs.{index}"
        _reject_unknown(raw, _NEED_KEYS, f"need {index}", path)
        if "capability" not in raw:
            raise ValidationError(
                f"Field '{path}.capability' is required", field=f"{path}.capability", value=None
            )
        try:
            needs.append(Need(**raw))
        except ValidationError as err:
            raise ValidationError(str(err), field=f"{path}.{err.field}", value=err.value) from err
    raw_constraints = data.get("constraints", {})
    _reject_unknown(raw_constraints, _CONSTRAINT_KEYS, "constraints", "constraints")
    constraints = Constraints(**raw_constraints)
    fields = {key: value for key, value in data.items() if key not in ("needs", "constraints")}
    return Initiative(needs=tuple(needs), constraints=constraints, **fields)


@dataclass(frozen=True, slots=True)
class CoalitionMember:
    """A member of a recommended coalition, with what it adds and why it was chosen
    (``evidence`` line by line, ``reasons`` the same in sentences a reviewer reads)."""

    id: str
    covers: Mapping[str, float] = field(default_factory=dict, hash=False)
    activity_types: frozenset[ActivityType] = frozenset()
    marginal_gain: float = 0.0
    path_to_lead: tuple[str, ...] = ()
    flags: tuple[Flag, ...] = ()
    evidence: tuple[str, ...] = ()
    name: str = ""
    kind: str = ""
    country: str | None = None
    reasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_id(self.id, "Organisation")
        _set(self, "covers", MappingProxyType(dict(self.covers)))
        _set(self, "path_to_lead", tuple(self.path_to_lead))
        _set(self, "flags", tuple(self.flags))
        _set(self, "evidence", tuple(self.evidence))
        _set(self, "reasons", tuple(self.reasons))


@dataclass(frozen=True, slots=True)
class Gap:
    """A need the coalition covers poorly, and the best partner to fill it."""

    need: str
    coverage: float
    best_partner: str | None = None
    best_partner_coverage: float = 0.0
    best_partner_name: str = ""


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A candidate left out by a hard gate: which gate, and the detail.

    Gates: ``lead`` (§78), ``request`` (excluded by the request), ``integrity_flag``,
    ``sanctions``, ``global_compact``, ``verification``, ``capacity``,
    ``conflict_of_interest``.
    """

    id: str
    reason: str
    gate: str = ""


@dataclass(frozen=True, slots=True)
class Coalition:
    """A recommended set of partners; ``score`` is exactly the sum of ``score_parts``.

    >>> Coalition(members=(CoalitionMember("itau"),), score=1.0,
    ...           score_parts={"need_coverage": 0.75, "size_cost": -0.25})
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    matcher.domain.exceptions.ValidationError: Coalition score 1.0 differs from the sum of its ...
    """

    members: tuple[CoalitionMember, ...]
    score: float
    score_parts: Mapping[str, float] = field(default_factory=dict, hash=False)
    gaps: tuple[Gap, ...] = ()
    solver: str = ""
    optimality_gap: float | None = None

    def __post_init__(self) -> None:
        members = tuple(self.members)
        ids = [member.id for member in members]
        for member_id in ids:
            if ids.count(member_id) > 1:
                raise ValidationError(
                    f"Organisation {member_id!r} appears twice in the coalition",
                    field="members",
                    value=member_id,
                )
        _set(self, "members", members)
        parts = MappingProxyType(dict(self.score_parts))
        total = math.fsum(parts.values())
        if abs(total - self.score) > _SCORE_TOLERANCE * max(1.0, abs(self.score)):
            raise ValidationError(
                f"Coalition score {self.score!r} differs from the sum of its parts {total!r}",
                field="score",
                value=self.score,
            )
        _set(self, "score_parts", parts)
        _set(self, "gaps", tuple(self.gaps))

    @property
    def member_ids(self) -> tuple[str, ...]:
        """The members' organisation ids, in order."""
        return tuple(member.id for member in self.members)
