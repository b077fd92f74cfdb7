"""Reading a portfolio of initiatives from a folder, a JSON-lines file or a CSV file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from matcher.domain.model import ActivityType, Initiative, Sector
from matcher.domain.taxonomy import Taxonomies
from matcher.formats.initiative_files import (
    CSV_COLUMNS,
    InitiativeFileError,
    initiative_to_mapping,
    read_initiatives,
)
from tests.conftest import SEED_DIR

SEED_INITIATIVES = SEED_DIR / "initiatives"


def test_the_seed_folder_reads_every_initiative_in_file_name_order() -> None:
    entries = read_initiatives(SEED_INITIATIVES)
    assert [entry.id for entry in entries] == sorted(
        p.stem for p in SEED_INITIATIVES.glob("*.json")
    )
    assert all(entry.problem is None and entry.initiative is not None for entry in entries)
    assert entries[1].source == "i49-edu-quality-brazil.json:1"


def test_a_csv_row_fills_lists_needs_and_constraints(tmp_path: Path) -> None:
    path = tmp_path / "portfolio.csv"
    path.write_text(
        "id,title,lead,themes,countries,activity_types,needs,min_size,max_size,include,"
        "required_sectors,require_local_partner,budget_usd,count\n"
        'edu,"Education, Brazil",unicef,education;youth,BR,fundraising; advocacy,'
        "funding:1;local_presence:0.8;media_reach:0.5:1000,2,4,itau,private,yes,2500000,3\n",
        encoding="utf-8",
    )
    [entry] = read_initiatives(path)
    initiative = entry.initiative
    assert initiative is not None and entry.problem is None
    assert initiative.title == "Education, Brazil"
    assert initiative.themes == {"education", "youth"}
    assert initiative.activity_types == {ActivityType.FUNDRAISING, ActivityType.ADVOCACY}
    assert [(n.capability, n.weight, n.quantity) for n in initiative.needs] == [
        ("funding", 1.0, None),
        ("local_presence", 0.8, None),
        ("media_reach", 0.5, 1000.0),
    ]
    constraints = initiative.constraints
    assert (constraints.min_size, constraints.max_size) == (2, 4)
    assert constraints.include == {"itau"}
    assert constraints.required_sectors == {Sector.PRIVATE}
    assert constraints.require_local_partner is True
    assert constraints.budget_usd == 2_500_000
    assert initiative.count == 3


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (
            "a,unicef,funding:heavy,",
            "rows.csv:2: needs: weight 'heavy' of need 'funding' is not a number",
        ),
        ("a,unicef,funding,many", "rows.csv:2: max_size: 'many' is not an integer"),
        (
            "a,unicef,funding:1:2:3,",
            "rows.csv:2: needs: need 'funding:1:2:3' has more than code:weight:quantity",
        ),
        (
            "a,unicef,funding:0,",
            "rows.csv:2: needs.0.weight: Need 'funding': weight must be positive, got 0.0",
        ),
        ("a,,funding,", "rows.csv:2: lead: Field 'lead' is required"),
        ("a,unicef,funding", "rows.csv:2: row has 3 cells, the header 4"),
    ],
)
def test_a_bad_csv_row_is_reported_with_its_line_and_column(
    tmp_path: Path, row: str, problem: str
) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(f"id,lead,needs,max_size\n{row}\n", encoding="utf-8")
    [entry] = read_initiatives(path)
    assert entry.initiative is None
    assert entry.problem == problem


def test_a_bad_row_does_not_stop_the_next_ones(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("id,lead\na,unicef\nb,not an id\n\nc,undp\n", encoding="utf-8")
    entries = read_initiatives(path)
    assert [(e.id, e.source, e.problem is None) for e in entries] == [
        ("a", "rows.csv:2", True),
        ("b", "rows.csv:3", False),
        ("c", "rows.csv:5", True),
    ]


def test_a_csv_with_an_unknown_column_is_rejected_whole(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("id,lead,neds\na,unicef,funding\n", encoding="utf-8")
    with pytest.raises(InitiativeFileError, match=r"rows.csv:1: neds: unknown column"):
        read_initiatives(path)


def test_a_csv_without_the_lead_column_is_rejected_whole(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("id,needs\na,funding\n", encoding="utf-8")
    with pytest.raises(InitiativeFileError, match="rows.csv:1: lead: the required column"):
        read_initiatives(path)


def test_every_documented_csv_column_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "all.csv"
    path.write_text(",".join(CSV_COLUMNS) + "\n" + "," * 2 + "unicef" + "," * 16 + "\n")
    [entry] = read_initiatives(path)
    assert entry.problem is None and entry.id == "all-2"


def test_json_lines_name_an_initiative_without_id_after_its_line(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text(
        '{"lead": "unicef"}\n\n{"id": "b", "lead": "undp", "needs": [{"capability": "x", '
        '"weight": -1}]}\nnot json\n[1]\n',
        encoding="utf-8",
    )
    entries = read_initiatives(path)
    assert [(e.id, e.problem) for e in entries] == [
        ("batch-1", None),
        ("b", "batch.jsonl:3: needs.0.weight: Need 'x': weight must be positive, got -1"),
        ("batch-4", "batch.jsonl:4: Expecting value"),
        ("batch-5", "batch.jsonl:5: an initiative must be a JSON object, got list"),
    ]


def test_a_json_file_problem_points_at_the_line_of_the_field(tmp_path: Path) -> None:
    body = {"id": "x", "lead": "unicef", "themes": ["education"], "count": 99}
    (tmp_path / "x.json").write_text(json.dumps(body, indent=2), encoding="utf-8")
    (tmp_path / "broken.json").write_text('{\n  "lead": "unicef",\n}\n', encoding="utf-8")
    entries = read_initiatives(tmp_path)
    broken, bad_count = (e.problem or "" for e in entries)
    assert broken.startswith("broken.json:3: ")  # the JSON parser's message follows
    assert bad_count == "x.json:7: count: count must be an integer between 1 and 50, got 99"


def test_a_json_file_without_id_takes_the_file_name(tmp_path: Path) -> None:
    (tmp_path / "water access.json").write_text('{"lead": "unep"}', encoding="utf-8")
    [entry] = read_initiatives(tmp_path)
    assert entry.id == "water-access"
    assert entry.initiative is not None and entry.initiative.id == "water-access"


def test_a_second_initiative_with_the_same_id_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "twice.jsonl"
    path.write_text('{"id": "a", "lead": "unicef"}\n{"id": "a", "lead": "undp"}\n')
    first, second = read_initiatives(path)
    assert first.problem is None
    assert (
        second.problem == "twice.jsonl:2: id: duplicate initiative id 'a' (first in twice.jsonl:1)"
    )


def test_unknown_codes_are_caught_with_the_taxonomies(
    tmp_path: Path, taxonomies: Taxonomies
) -> None:
    path = tmp_path / "codes.jsonl"
    path.write_text(
        '{"id": "a", "lead": "unicef", "needs": [{"capability": "funding"}, '
        '{"capability": "money"}]}\n{"id": "b", "lead": "unicef", "themes": ["gardening"]}\n'
    )
    assert all(e.problem is None for e in read_initiatives(path))
    first, second = read_initiatives(path, taxonomies)
    assert first.problem == "codes.jsonl:1: needs.1.capability: Unknown capability code 'money'"
    assert second.problem == "codes.jsonl:2: themes: Unknown theme code 'gardening'"


def test_a_missing_path_or_unknown_format_raises(tmp_path: Path) -> None:
    with pytest.raises(InitiativeFileError, match="no such file or folder"):
        read_initiatives(tmp_path / "missing.csv")
    odd = tmp_path / "portfolio.xlsx"
    odd.write_bytes(b"PK")
    with pytest.raises(InitiativeFileError, match="unknown initiatives format '.xlsx'"):
        read_initiatives(odd)


def test_an_undecodable_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,lead\nsão,unicef\n".encode("latin-1"))
    with pytest.raises(InitiativeFileError, match="latin1.csv: cannot read"):
        read_initiatives(path)


def test_the_json_form_round_trips_through_from_mapping() -> None:
    for entry in read_initiatives(SEED_INITIATIVES):
        assert entry.initiative is not None
        mapping = initiative_to_mapping(entry.initiative)
        assert Initiative.from_mapping(json.loads(json.dumps(mapping))) == entry.initiative
