"""The seed data taken from the report: it loads, it is complete, and every § it cites exists."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from matcher.domain.dataset import Dataset
from matcher.domain.model import ActivityType, Initiative, Kind, Outcome, Role
from matcher.domain.taxonomy import Taxonomies
from tests.conftest import SEED_DIR

SECTION = re.compile(r"§(\d+)(?:[a-f])?(?:-(\d+))?")
INITIATIVES = sorted((SEED_DIR / "initiatives").glob("*.json"))


def cited_sections(text: str) -> set[int]:
    sections: set[int] = set()
    for match in SECTION.finditer(text):
        first = int(match.group(1))
        sections.update(range(first, int(match.group(2) or first) + 1))
    return sections


def test_seed_loads_into_domain_objects(seed: Dataset) -> None:
    assert len(seed.organisations) >= 60
    assert len(seed.partnerships) >= 12
    assert len(seed.capabilities) >= 100
    assert all(seed.members_of(pid) for pid in seed.partnerships)


def test_every_field_partnership_of_paragraphs_49_to_63_is_there(seed: Dataset) -> None:
    field_examples = {
        p.id for p in seed.partnerships.values() if cited_sections(p.source) & set(range(49, 64))
    }
    assert len(field_examples) >= 12
    covered = set().union(*(cited_sections(seed.partnerships[p].source) for p in field_examples))
    assert set(range(49, 64)) <= covered


def test_every_organisation_and_capability_cites_the_report(seed: Dataset) -> None:
    assert [o.id for o in seed.organisations.values() if not cited_sections(o.source)] == []
    assert [
        (c.org_id, c.capability) for c in seed.capabilities if not cited_sections(c.source)
    ] == []
    assert [p.id for p in seed.partnerships.values() if not cited_sections(p.source)] == []


def test_every_cited_section_exists_in_the_report(
    report_paragraphs: dict[int, str],
) -> None:
    cited: set[int] = set()
    for path in SEED_DIR.glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                cited |= cited_sections(row.get("source") or "")
    for path in INITIATIVES:
        cited |= cited_sections(json.loads(path.read_text(encoding="utf-8")).get("source", ""))
    assert cited
    assert cited <= set(report_paragraphs)


def test_report_amounts_and_outcomes_are_kept(seed: Dataset) -> None:
    education = seed.partnerships["p49-edu-brazil"]
    assert education.amount_usd == 2_500_000
    assert education.countries == {"BR"}
    members = {m.org_id: m.role for m in seed.members_of("p49-edu-brazil")}
    assert {"unicef", "itau", "cenpec"} <= set(members)
    assert members["unicef"] is Role.LEAD
    child_labour = seed.partnerships["p50-child-labour-up"]
    assert child_labour.amount_usd == 450_000
    assert child_labour.outcome is Outcome.SCALED_UP  # §50: extended to 300 more villages
    assert {"unicef", "ikea", "who"} <= {m.org_id for m in seed.members_of("p50-child-labour-up")}
    assert seed.partnerships["p59-unhcr-statoil"].outcome is Outcome.CONTINUED  # §61: renewed


def test_seed_spans_every_sector_and_the_main_kinds(seed: Dataset) -> None:
    sectors = {org.sector for org in seed.organisations.values()}
    assert {"public", "private", "civil_society", "philanthropic"} <= sectors
    kinds = {org.kind for org in seed.organisations.values()}
    assert {Kind.UN_ENTITY, Kind.COMPANY, Kind.NGO, Kind.FOUNDATION, Kind.GOVERNMENT} <= kinds


def test_seed_partnerships_use_several_activity_types(seed: Dataset) -> None:
    used = set().union(*(p.activity_types for p in seed.partnerships.values()))
    assert used == set(ActivityType)


@pytest.mark.parametrize("path", INITIATIVES, ids=lambda p: p.stem)
def test_demo_initiative_is_valid_and_names_known_codes(
    path: Path, seed: Dataset, taxonomies: Taxonomies
) -> None:
    initiative = Initiative.from_mapping(json.loads(path.read_text(encoding="utf-8")))
    assert initiative.id == path.stem
    assert initiative.lead in seed.organisations
    for org_id in initiative.constraints.include | initiative.constraints.exclude:
        assert org_id in seed.organisations
    for theme in initiative.themes:
        taxonomies.themes.check(theme)
    for need in initiative.needs:
        taxonomies.capabilities.check(need.capability)
    assert 2 <= len(initiative.needs) <= 5
    assert len(initiative.activity_types) >= 2  # strategic: several activity types (§15, §88)
    assert cited_sections(initiative.source)


def test_there_are_at_least_eight_demo_initiatives() -> None:
    assert len(INITIATIVES) >= 8
