"""Several datasets merged into one: organisations sharing an id or an identifier are one."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from matcher.domain.dataset import Dataset
from matcher.domain.exceptions import DataDirectoryError
from matcher.domain.merging import OrganisationMerge, merge_datasets
from matcher.domain.model import Capability, Conflict, Membership, Organisation, Partnership
from matcher.domain.taxonomy import Taxonomies
from service.cli import cli
from tests.test_datadir import write


def dataset(taxonomies: Taxonomies, organisations: list[Organisation], **rows: object) -> Dataset:
    return Dataset.build(organisations=organisations, taxonomies=taxonomies, **rows)  # type: ignore[arg-type]


def test_an_identifier_shared_across_datasets_makes_one_organisation_under_the_first_id(
    taxonomies: Taxonomies,
) -> None:
    seed = dataset(
        taxonomies,
        [
            Organisation(
                "unicef",
                "UNICEF",
                "un_entity",
                themes=frozenset({"education"}),
                identifiers=("XM-DAC-41122",),
            )
        ],
        capabilities=[Capability("unicef", "funding")],
    )
    iati = dataset(
        taxonomies,
        [
            Organisation(
                "XM-DAC-41122",
                "United Nations Children's Fund",
                "multilateral",
                country="US",
                description="From the Registry.",
                themes=frozenset({"health"}),
                aliases=("Unicef",),
                identifiers=("XM-DAC-41122", "41122"),
            ),
            Organisation("GB-CHC-202918", "Oxfam GB", "ngo", identifiers=("GB-CHC-202918",)),
        ],
        partnerships=[Partnership("a1", "Wells")],
        memberships=[Membership("a1", "XM-DAC-41122", "funder"), Membership("a1", "GB-CHC-202918")],
        capabilities=[
            Capability("XM-DAC-41122", "funding", strength=0.5),
            Capability("XM-DAC-41122", "training"),
        ],
        conflicts=[Conflict("XM-DAC-41122", "GB-CHC-202918")],
    )
    merged = merge_datasets([seed, iati], taxonomies)
    unicef = merged.dataset.organisations["unicef"]
    assert set(merged.dataset.organisations) == {"unicef", "GB-CHC-202918"}
    assert (unicef.name, unicef.kind.value, unicef.country) == ("UNICEF", "un_entity", "US")
    assert unicef.aliases == ("United Nations Children's Fund",)  # "Unicef" is the name again
    assert unicef.identifiers == ("XM-DAC-41122", "41122")
    assert unicef.themes == {"education", "health"}
    assert unicef.description == "From the Registry."
    assert [(m.org_id, m.role.value) for m in merged.dataset.memberships] == [
        ("unicef", "funder"),
        ("GB-CHC-202918", "member"),
    ]
    assert [(c.capability, c.strength) for c in merged.dataset.capabilities] == [
        ("funding", 1.0),  # the first dataset's row wins
        ("training", 1.0),
    ]
    assert [(c.org_a, c.org_b) for c in merged.dataset.conflicts] == [("unicef", "GB-CHC-202918")]
    assert merged.merges == (
        OrganisationMerge("unicef", "XM-DAC-41122", "identifier XM-DAC-41122"),
    )


def test_a_conflict_between_two_merged_organisations_is_dropped(taxonomies: Taxonomies) -> None:
    first = dataset(
        taxonomies,
        [Organisation("a", "A", "ngo", identifiers=("X-1",)), Organisation("b", "B", "ngo")],
        conflicts=[Conflict("a", "b")],
    )
    second = dataset(taxonomies, [Organisation("c", "B again", "ngo", identifiers=("X-1",))])
    third = dataset(taxonomies, [Organisation("b", "B", "ngo", identifiers=("x-1",))])
    merged = merge_datasets([first, second, third], taxonomies)
    assert list(merged.dataset.organisations) == ["a"]
    assert merged.dataset.conflicts == ()


def test_one_partnership_id_for_two_different_partnerships_is_an_error(
    taxonomies: Taxonomies,
) -> None:
    first = dataset(
        taxonomies, [Organisation("a", "A", "ngo")], partnerships=[Partnership("p", "P")]
    )
    second = dataset(
        taxonomies, [Organisation("a", "A", "ngo")], partnerships=[Partnership("p", "Q")]
    )
    with pytest.raises(DataDirectoryError) as info:
        merge_datasets([first, second], taxonomies)
    assert info.value.problems == [
        "partnerships.csv: id 'p' of directory 2 is a different partnership from the one of "
        "directory 1"
    ]


def test_importing_two_directories_merges_them_and_a_second_import_changes_nothing(
    tmp_path: Path,
) -> None:
    header = {
        "capabilities.csv": "org_id,capability\n",
        "partnerships.csv": "id,name\n",
        "memberships.csv": "partnership_id,org_id\n",
    }
    seed = write(
        tmp_path / "seed",
        {
            **header,
            "organisations.csv": "id,name,kind,identifiers\nunicef,UNICEF,un_entity,XM-DAC-41122\n",
        },
    )
    iati = write(
        tmp_path / "iati",
        {
            **header,
            "organisations.csv": "id,name,kind,identifiers\n"
            "XM-DAC-41122,United Nations Children's Fund,multilateral,XM-DAC-41122\n"
            "GB-CHC-202918,Oxfam GB,ngo,GB-CHC-202918\n",
            "partnerships.csv": "id,name\na1,Wells\n",
            "memberships.csv": "partnership_id,org_id,role\na1,XM-DAC-41122,funder\n",
        },
    )
    db = f"sqlite:///{tmp_path / 'x.db'}"
    runner = CliRunner()
    first = runner.invoke(cli, ["import", str(seed), str(iati), "--db", db])
    assert first.exit_code == 0, first.output
    assert "  XM-DAC-41122 -> unicef (identifier XM-DAC-41122)" in first.stdout
    assert "  organisations            2         0         0         0" in first.stdout
    second = runner.invoke(cli, ["import", str(seed), str(iati), "--db", db])
    assert "  organisations            0         0         2         0" in second.stdout
    assert "  memberships              0         0         1         0" in second.stdout
    exported = tmp_path / "out"
    assert runner.invoke(cli, ["export", str(exported), "--db", db]).exit_code == 0
    assert "a1,unicef,funder," in (exported / "memberships.csv").read_text()


def test_problems_of_several_directories_name_their_folder(tmp_path: Path) -> None:
    header = {
        "capabilities.csv": "org_id,capability\n",
        "partnerships.csv": "id,name\n",
        "memberships.csv": "partnership_id,org_id\n",
    }
    good = write(tmp_path / "good", {**header, "organisations.csv": "id,name,kind\na,A,ngo\n"})
    bad = write(tmp_path / "bad", {**header, "organisations.csv": "id,name,kind\nb,B,bank\n"})
    result = CliRunner().invoke(
        cli, ["import", str(good), str(bad), "--dry-run", "--db", f"sqlite:///{tmp_path / 'x.db'}"]
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(f"{bad}/organisations.csv:2: kind: unknown")
