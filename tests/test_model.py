"""Domain objects validate themselves and name the offending value."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from matcher.domain.dataset import Dataset
from matcher.domain.exceptions import (
    DuplicateIdError,
    NotFoundError,
    PartnerMatchError,
    UnknownCodeError,
    ValidationError,
)
from matcher.domain.model import (
    ActivityType,
    Capability,
    Coalition,
    CoalitionMember,
    Conflict,
    Constraints,
    Flag,
    FlagLevel,
    Initiative,
    Kind,
    Membership,
    Need,
    Organisation,
    Outcome,
    Partnership,
    Role,
    Sector,
)
from matcher.domain.taxonomy import Taxonomies


def test_organisation_defaults_its_sector_from_its_kind_and_normalises_country() -> None:
    org = Organisation(id="ikea", name="IKEA", kind="company", country="UK")
    assert org.kind is Kind.COMPANY
    assert org.sector is Sector.PRIVATE
    assert org.country == "GB"


def test_organisation_keeps_an_explicit_sector() -> None:
    org = Organisation(id="wef", name="World Economic Forum", kind="other", sector="private")
    assert org.sector is Sector.PRIVATE


def test_organisation_without_country_is_global() -> None:
    assert Organisation(id="unicef", name="UNICEF", kind="un_entity", country="").country is None


def test_organisation_is_immutable() -> None:
    org = Organisation(id="unicef", name="UNICEF", kind="un_entity")
    with pytest.raises(dataclasses.FrozenInstanceError):
        org.name = "UNICEF!"  # type: ignore[misc]


def test_unknown_kind_is_rejected_with_the_allowed_values() -> None:
    with pytest.raises(UnknownCodeError) as info:
        Organisation(id="itau", name="Itau", kind="bank")
    assert str(info.value) == (
        "Unknown organisation kind 'bank'; expected one of: un_entity, company, foundation, "
        "ngo, academic, research, government, local_authority, business_association, "
        "trade_union, media, multilateral, other"
    )
    assert info.value.field == "kind"
    assert info.value.value == "bank"


@pytest.mark.parametrize("code", ["XX", "BRAZIL", "", "B"])
def test_bad_country_is_rejected_naming_the_code(code: str) -> None:
    with pytest.raises(UnknownCodeError) as info:
        Organisation(id="itau", name="Itau", kind="company", country=code or " ")
    assert str(info.value) == (
        f"Unknown country code {code or ' '!r}: use ISO 3166-1 alpha-2 or alpha-3"
    )
    assert info.value.field == "country"


def test_kosovo_is_accepted_although_iso_has_no_code_for_it() -> None:
    assert Organisation(id="x", name="X", kind="ngo", country="XK").country == "XK"


@pytest.mark.parametrize("strength", [-0.1, 1.5])
def test_strength_outside_zero_one_is_rejected(strength: float) -> None:
    with pytest.raises(ValidationError) as info:
        Capability("itau", "funding.grants", strength=strength)
    assert str(info.value) == (
        f"Capability 'funding.grants' of 'itau': strength must be between 0 and 1, got {strength}"
    )
    assert info.value.field == "strength"


def test_strength_that_is_not_a_number_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"strength must be a number, got 'high'"):
        Capability("itau", "funding", strength="high")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad_id", ["", "has space", "x" * 65, "é"])
def test_bad_ids_are_rejected(bad_id: str) -> None:
    with pytest.raises(ValidationError) as info:
        Organisation(id=bad_id, name="X", kind="ngo")
    assert str(info.value) == (
        f"Organisation id {bad_id!r} is invalid: use 1-64 letters, digits, '.', '_', ':' or '-'"
    )


def test_empty_name_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"Organisation 'x': name must not be empty"):
        Organisation(id="x", name="  ", kind="ngo")


def test_max_active_must_be_positive() -> None:
    with pytest.raises(ValidationError, match=r"max_active must be a positive integer, got 0"):
        Organisation(id="x", name="X", kind="ngo", max_active=0)


def test_theme_list_given_as_a_string_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"must be a list of codes, got the string"):
        Organisation(id="x", name="X", kind="ngo", themes="education")  # type: ignore[arg-type]


def test_partnership_years_must_be_in_order() -> None:
    with pytest.raises(ValidationError) as info:
        Partnership(id="p", name="P", start_year=2003, end_year=2001)
    assert str(info.value) == "Partnership 'p': end_year 2001 is before start_year 2003"
    assert info.value.field == "end_year"


def test_partnership_normalises_codes() -> None:
    partnership = Partnership(
        id="p", name="P", countries=["BRA"], activity_types=["operational"], outcome="scaled_up"
    )
    assert partnership.countries == {"BR"}
    assert partnership.activity_types == {ActivityType.OPERATIONAL}
    assert partnership.outcome is Outcome.SCALED_UP


def test_unknown_activity_type_is_rejected() -> None:
    with pytest.raises(UnknownCodeError, match=r"Unknown activity type 'lobbying'"):
        Partnership(id="p", name="P", activity_types=["lobbying"])


def test_membership_role_defaults_to_member_and_unknown_roles_fail() -> None:
    assert Membership("p", "unicef").role is Role.MEMBER
    with pytest.raises(UnknownCodeError, match=r"Unknown role 'sponsor'"):
        Membership("p", "unicef", role="sponsor")


def test_flag_level_has_a_severity_rank() -> None:
    flag = Flag("x", "sanctions", "escalated", date=dt.date(2025, 1, 1))
    assert flag.level is FlagLevel.ESCALATED
    assert flag.level.rank == 3


def test_conflict_with_itself_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"Conflict of 'undp' with itself"):
        Conflict("undp", "undp")
    assert Conflict("a", "b").pair == Conflict("b", "a").pair


def test_need_weight_must_be_positive() -> None:
    with pytest.raises(ValidationError) as info:
        Need("funding", weight=-1)
    assert str(info.value) == "Need 'funding': weight must be positive, got -1"


def test_constraints_reject_min_above_max() -> None:
    with pytest.raises(ValidationError) as info:
        Constraints(min_size=4, max_size=2)
    assert str(info.value) == "constraints.min_size 4 is larger than max_size 2"
    assert info.value.field == "constraints.min_size"


def test_constraints_reject_an_organisation_both_included_and_excluded() -> None:
    with pytest.raises(ValidationError, match=r"Organisation 'ikea' is both included and excluded"):
        Constraints(include=["ikea"], exclude=["ikea"])


def test_constraints_reject_an_unknown_required_sector() -> None:
    with pytest.raises(UnknownCodeError, match=r"Unknown sector 'business'"):
        Constraints(required_sectors=["business"])


def test_initiative_from_the_design_example() -> None:
    initiative = Initiative.from_mapping(
        {
            "id": "edu-brazil",
            "title": "Primary education quality",
            "lead": "unicef",
            "themes": ["education"],
            "countries": ["BR"],
            "activity_types": ["fundraising", "operational", "advocacy"],
            "needs": [
                {"capability": "funding", "weight": 1.0, "quantity": 2500000},
                {"capability": "local_presence", "weight": 0.8},
            ],
            "constraints": {
                "min_size": 2,
                "max_size": 5,
                "include": [],
                "exclude": [],
                "required_sectors": ["private", "civil_society"],
                "require_local_partner": True,
            },
            "count": 5,
        }
    )
    assert initiative.lead == "unicef"
    assert [need.capability for need in initiative.needs] == ["funding", "local_presence"]
    assert initiative.needs[0].quantity == 2_500_000
    assert initiative.constraints.required_sectors == {Sector.PRIVATE, Sector.CIVIL_SOCIETY}
    assert initiative.constraints.require_local_partner is True


def test_initiative_needs_only_a_lead() -> None:
    initiative = Initiative.from_mapping({"lead": "undp"})
    assert initiative.needs == ()
    assert initiative.constraints == Constraints()


@pytest.mark.parametrize(
    ("body", "message", "field"),
    [
        ({}, "Field 'lead' is required", "lead"),
        ({"lead": "undp", "colour": "red"}, "Unknown field 'colour' in initiative", "colour"),
        (
            {"lead": "undp", "needs": [{"capability": "funding", "weight": 0}]},
            "Need 'funding': weight must be positive, got 0",
            "needs.0.weight",
        ),
        (
            {"lead": "undp", "needs": [{"weight": 1}]},
            "Field 'needs.0.capability' is required",
            "needs.0.capability",
        ),
        (
            {"lead": "undp", "needs": [{"capability": "funding", "wieght": 1}]},
            "Unknown field 'wieght' in need 0",
            "needs.0.wieght",
        ),
        (
            {"lead": "undp", "constraints": {"max_sise": 3}},
            "Unknown field 'max_sise' in constraints",
            "constraints.max_sise",
        ),
        (
            {"lead": "undp", "constraints": {"exclude": ["undp"]}},
            "Lead 'undp' cannot be excluded",
            "constraints.exclude",
        ),
        ({"lead": "undp", "count": 0}, "count must be an integer between 1 and 50, got 0", "count"),
        (
            {"lead": "undp", "needs": [{"capability": "funding"}, {"capability": "funding"}]},
            "Need 'funding' is listed twice",
            "needs.1.capability",
        ),
        (
            {"lead": "undp", "countries": ["ZZ"]},
            "Unknown country code 'ZZ': use ISO 3166-1 alpha-2 or alpha-3",
            "countries",
        ),
    ],
)
def test_bad_initiatives_are_rejected_naming_the_field(
    body: dict[str, object], message: str, field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        Initiative.from_mapping(body)
    assert str(info.value) == message
    assert info.value.field == field


def test_coalition_score_must_equal_the_sum_of_its_parts() -> None:
    members = (CoalitionMember("itau", covers={"funding": 1.0}), CoalitionMember("cenpec"))
    coalition = Coalition(
        members=members, score=1.25, score_parts={"need_coverage": 1.5, "size_cost": -0.25}
    )
    assert coalition.member_ids == ("itau", "cenpec")
    with pytest.raises(ValidationError, match=r"differs from the sum of its parts 1.25"):
        Coalition(members=members, score=1.3, score_parts=dict(coalition.score_parts))


def test_coalition_rejects_a_member_listed_twice() -> None:
    with pytest.raises(ValidationError, match=r"Organisation 'itau' appears twice"):
        Coalition(members=(CoalitionMember("itau"), CoalitionMember("itau")), score=0.0)


def test_every_domain_error_is_a_partnermatch_error() -> None:
    for error in (ValidationError, UnknownCodeError, DuplicateIdError, NotFoundError):
        assert issubclass(error, PartnerMatchError)


def test_dataset_rejects_duplicate_organisation_ids(taxonomies: Taxonomies) -> None:
    org = Organisation("unicef", "UNICEF", "un_entity")
    with pytest.raises(DuplicateIdError) as info:
        Dataset.build(organisations=[org, org], taxonomies=taxonomies)
    assert str(info.value) == "Duplicate organisation id 'unicef'"


def test_dataset_rejects_duplicate_partnership_ids(taxonomies: Taxonomies) -> None:
    partnership = Partnership("p1", "P")
    with pytest.raises(DuplicateIdError, match=r"Duplicate partnership id 'p1'"):
        Dataset.build(
            organisations=[], partnerships=[partnership, partnership], taxonomies=taxonomies
        )


def test_dataset_rejects_a_membership_of_an_unknown_organisation(
    taxonomies: Taxonomies,
) -> None:
    with pytest.raises(NotFoundError) as info:
        Dataset.build(
            organisations=[],
            partnerships=[Partnership("p1", "P")],
            memberships=[Membership("p1", "ghost")],
            taxonomies=taxonomies,
        )
    assert str(info.value) == "Organisation 'ghost' not found"
