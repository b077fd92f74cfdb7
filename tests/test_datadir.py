"""Reading a data directory: every problem is listed as ``file:line: column: reason``."""

from __future__ import annotations

from pathlib import Path

import pytest

from matcher.domain.exceptions import DataDirectoryError
from matcher.domain.model import Role
from matcher.domain.taxonomy import Taxonomies
from matcher.formats.datadir import FILES, read_data_directory

VALID = {
    "organisations.csv": (
        "id,name,kind,country,themes\n"
        "unicef,UNICEF,un_entity,,education;child_labour\n"
        "ikea,IKEA,company,,child_labour\n"
        "la-up,Local authorities of Uttar Pradesh,local_authority,IN,\n"
    ),
    "capabilities.csv": (
        "org_id,capability,strength,quantity,unit,source\n"
        "ikea,funding.grants.project,1.0,450000,USD,§50\n"
        "unicef,service_delivery.education.schools,0.8,,,§50\n"
    ),
    "partnerships.csv": (
        "id,name,countries,themes,activity_types,amount_usd,outcome,source\n"
        "p50,Child labour in the carpet belt,IN,child_labour,operational;advocacy,450000,"
        "scaled_up,§50\n"
    ),
    "memberships.csv": (
        "partnership_id,org_id,role\np50,unicef,lead\np50,ikea,funder\np50,la-up,implementer\n"
    ),
}


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def problems_of(folder: Path, taxonomies: Taxonomies) -> list[str]:
    with pytest.raises(DataDirectoryError) as info:
        read_data_directory(folder, taxonomies)
    return info.value.problems


def test_a_valid_directory_loads_into_domain_objects(
    tmp_path: Path, taxonomies: Taxonomies
) -> None:
    dataset = read_data_directory(write(tmp_path, VALID), taxonomies)
    assert set(dataset.organisations) == {"unicef", "ikea", "la-up"}
    assert dataset.organisations["unicef"].themes == {"education", "child_labour"}
    assert dataset.organisations["la-up"].country == "IN"
    assert dataset.partnerships["p50"].amount_usd == 450_000
    assert [m.role for m in dataset.members_of("p50")] == [Role.LEAD, Role.FUNDER, Role.IMPLEMENTER]
    assert dataset.capabilities_of("ikea")[0].quantity == 450_000


def test_optional_files_may_be_absent_but_required_ones_may_not(
    tmp_path: Path, taxonomies: Taxonomies
) -> None:
    files = dict(VALID)
    del files["memberships.csv"]
    assert problems_of(write(tmp_path, files), taxonomies) == [
        "memberships.csv:0: -: required file is missing"
    ]


@pytest.mark.parametrize(
    ("file", "text", "expected"),
    [
        (
            "organisations.csv",
            "id,name,kind,colour\nunicef,UNICEF,un_entity,blue\n",
            ["organisations.csv:1: colour: unknown column"],
        ),
        (
            "organisations.csv",
            "id,name\nunicef,UNICEF\n",
            ["organisations.csv:1: kind: missing required column"],
        ),
        (
            "organisations.csv",
            "id,name,kind\nunicef,,un_entity\n",
            ["organisations.csv:2: name: missing required value"],
        ),
        (
            "organisations.csv",
            "id,name,kind,themes\nunicef,UNICEF,un_entity,education;educatoin\n",
            ["organisations.csv:2: themes: unknown theme code 'educatoin'"],
        ),
        (
            "organisations.csv",
            "id,name,kind,country\nunicef,UNICEF,un_entity,BRZ\n",
            ["organisations.csv:2: country: unknown country code 'BRZ'"],
        ),
        (
            "organisations.csv",
            "id,name,kind,verified_on\nunicef,UNICEF,un_entity,31/12/2020\n",
            ["organisations.csv:2: verified_on: '31/12/2020' is not an ISO date (YYYY-MM-DD)"],
        ),
        (
            "organisations.csv",
            "id,name,kind,gc_status\nunicef,UNICEF,un_entity,expelled\n",
            [
                "organisations.csv:2: gc_status: unknown Global Compact status 'expelled' "
                "(expected one of: active, non_communicating, delisted)"
            ],
        ),
        (
            "organisations.csv",
            "id,name,kind\nunicef,UNICEF,un_entity\nunicef,UNICEF again,un_entity\n",
            ["organisations.csv:3: id: duplicate id 'unicef' (first on line 2)"],
        ),
        (
            "organisations.csv",
            "id,name,kind\nhas space,X,ngo\n",
            [
                "organisations.csv:2: id: invalid id 'has space': use 1-64 letters, digits, "
                "'.', '_', ':' or '-'"
            ],
        ),
        (
            "organisations.csv",
            "id,name,kind,identifiers\nunicef,UNICEF,un_entity,XM-DAC-41122\n"
            "fund,Children's Fund,un_entity,xm-dac-41122\n",
            [
                "organisations.csv:3: identifiers: identifier 'xm-dac-41122' is already held "
                "by 'unicef' (line 2): organisations sharing an identifier are one organisation"
            ],
        ),
        (
            "organisations.csv",
            'id,name,kind,identifiers\nunicef,UNICEF,un_entity,"XM-DAC-41122;Not available"\n',
            [
                "organisations.csv:2: identifiers: invalid identifier 'Not available': use "
                "1-200 printable characters without spaces"
            ],
        ),
        (
            "capabilities.csv",
            "org_id,capability,strength\nikea,funding,1.5\n",
            ["capabilities.csv:2: strength: 1.5 is outside 0-1"],
        ),
        (
            "capabilities.csv",
            "org_id,capability,strength\nikea,funding,strong\n",
            ["capabilities.csv:2: strength: 'strong' is not a number"],
        ),
        (
            "capabilities.csv",
            "org_id,capability\nghost,funding\n",
            ["capabilities.csv:2: org_id: unknown organisation 'ghost'"],
        ),
        (
            "capabilities.csv",
            "org_id,capability\nikea,funding\nikea,funding\n",
            [
                "capabilities.csv:3: capability: duplicate capability 'funding' for 'ikea' "
                "(first on line 2)"
            ],
        ),
        (
            "capabilities.csv",
            "org_id,capability\nikea,money\n",
            ["capabilities.csv:2: capability: unknown capability code 'money'"],
        ),
        (
            "partnerships.csv",
            "id,name,start_year,end_year\np50,P,2003,2001\n",
            [
                "partnerships.csv:2: end_year: partnership 'p50': end_year 2001 is before "
                "start_year 2003",
            ],
        ),
        (
            "partnerships.csv",
            "id,name,amount_usd\np50,P,-5\n",
            ["partnerships.csv:2: amount_usd: -5 is below 0"],
        ),
        (
            "memberships.csv",
            "partnership_id,org_id,role\np51,unicef,lead\np50,ghost,sponsor\n",
            [
                "memberships.csv:3: role: unknown role 'sponsor' (expected one of: lead, "
                "funder, implementer, technical, convener, member)",
                "memberships.csv:2: partnership_id: unknown partnership 'p51'",
            ],
        ),
        (
            "flags.csv",
            "org_id,category,level\nikea,sanctions,purple\nghost,tobacco,red\n",
            [
                "flags.csv:2: level: unknown flag level 'purple' (expected one of: "
                "observation, yellow, escalated, red)",
                "flags.csv:3: org_id: unknown organisation 'ghost'",
            ],
        ),
        (
            "conflicts.csv",
            "org_a,org_b,reason\nikea,ikea,self\n",
            ["conflicts.csv:2: org_b: conflict of 'ikea' with itself"],
        ),
    ],
)
def test_each_validation_rule_reports_file_line_column_and_reason(
    tmp_path: Path, taxonomies: Taxonomies, file: str, text: str, expected: list[str]
) -> None:
    header_only = {
        name: ",".join(FILES[name].columns) + "\n"
        for name in ("capabilities.csv", "memberships.csv")
    }
    folder = write(tmp_path, {**VALID, **header_only, file: text})
    assert problems_of(folder, taxonomies) == expected


def test_a_rejected_row_is_not_reported_again_by_rows_that_refer_to_it(
    tmp_path: Path, taxonomies: Taxonomies
) -> None:
    organisations = VALID["organisations.csv"].replace("ikea,IKEA,company,,", "ikea,IKEA,bank,,")
    folder = write(tmp_path, {**VALID, "organisations.csv": organisations})
    assert problems_of(folder, taxonomies) == [
        "organisations.csv:3: kind: unknown organisation kind 'bank' (expected one of: "
        "un_entity, company, foundation, ngo, academic, research, government, local_authority, "
        "business_association, trade_union, media, multilateral, other)"
    ]


def test_every_problem_in_every_file_is_listed_at_once(
    tmp_path: Path, taxonomies: Taxonomies
) -> None:
    folder = write(
        tmp_path,
        {
            **VALID,
            "organisations.csv": "id,name,kind,country\nunicef,UNICEF,agency,XX\n",
            "capabilities.csv": "org_id,capability,strength\nunicef,funding,2\n",
        },
    )
    problems = problems_of(folder, taxonomies)
    assert problems[:3] == [
        "organisations.csv:2: kind: unknown organisation kind 'agency' (expected one of: "
        "un_entity, company, foundation, ngo, academic, research, government, local_authority, "
        "business_association, trade_union, media, multilateral, other)",
        "organisations.csv:2: country: unknown country code 'XX'",
        "capabilities.csv:2: strength: 2 is outside 0-1",
    ]
    assert problems[3:] == [
        "memberships.csv:3: org_id: unknown organisation 'ikea'",
        "memberships.csv:4: org_id: unknown organisation 'la-up'",
    ]


def test_a_directory_can_extend_the_theme_and_capability_taxonomies(
    tmp_path: Path, taxonomies: Taxonomies
) -> None:
    folder = write(
        tmp_path,
        {
            **VALID,
            "taxonomy/themes.csv": "code,label,parent,sdg\nh2020-sc1,Health (H2020),health,3\n",
            "taxonomy/capabilities.csv": "code,label,parent\nfunding.eu,EU grants,funding\n",
            "organisations.csv": "id,name,kind,themes\nunicef,UNICEF,un_entity,h2020-sc1\n"
            "ikea,IKEA,company,\nla-up,LA,local_authority,\n",
            "capabilities.csv": "org_id,capability\nikea,funding.eu\n",
        },
    )
    dataset = read_data_directory(folder, taxonomies)
    assert dataset.taxonomies.theme_sdgs("h2020-sc1") == {3}
    assert dataset.taxonomies.capabilities.parent("funding.eu") == "funding"
    assert "funding.eu" not in taxonomies.capabilities  # the built-ins are untouched


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "code,label,parent\nfunding,Money,\n",
            "taxonomy/capabilities.csv:2: code: code 'funding' is already a built-in capability",
        ),
        (
            "code,label,parent,weight\nx,X,,1\n",
            "taxonomy/capabilities.csv:1: weight: unknown column",
        ),
    ],
)
def test_bad_taxonomy_extensions_are_reported(
    tmp_path: Path, taxonomies: Taxonomies, text: str, expected: str
) -> None:
    folder = write(tmp_path, {**VALID, "taxonomy/capabilities.csv": text})
    assert problems_of(folder, taxonomies) == [expected]


def test_registry_identifiers_are_read_in_order(tmp_path: Path, taxonomies: Taxonomies) -> None:
    organisations = "id,name,kind,identifiers\nunicef,UNICEF,un_entity,XM-DAC-41122;GB-CHC-1\n"
    folder = write(tmp_path, {**VALID, "organisations.csv": organisations})
    folder = write(folder, {"capabilities.csv": "org_id,capability\n"})
    folder = write(folder, {"memberships.csv": "partnership_id,org_id\np50,unicef\n"})
    dataset = read_data_directory(folder, taxonomies)
    assert dataset.organisations["unicef"].identifiers == ("XM-DAC-41122", "GB-CHC-1")


def test_a_missing_directory_is_reported(tmp_path: Path, taxonomies: Taxonomies) -> None:
    missing = tmp_path / "nowhere"
    assert problems_of(missing, taxonomies) == [f"{missing}: not a directory"]


def test_file_specs_follow_the_interchange_contract() -> None:
    assert FILES["organisations.csv"].required == ("id", "name", "kind")
    assert FILES["memberships.csv"].required == ("partnership_id", "org_id")
    assert FILES["flags.csv"].optional_file and FILES["conflicts.csv"].optional_file
