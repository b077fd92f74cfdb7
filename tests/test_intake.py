"""Concept-note intake: English and French notes written for the purpose, exact fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from matcher.domain.dataset import Dataset
from matcher.domain.model import Initiative
from matcher.engine.intake import ACCEPT_AT, ConceptNoteIntake
from matcher.formats.datadir import read_data_directory
from matcher.formats.taxonomy_io import default_taxonomy_dir
from tests.api_fixtures import bearer

NOTES = Path(__file__).parent / "data" / "notes"

#: What each note must give: language, lead, themes, countries, activity types, needs.
EXPECTED = {
    "child-labour-india.en.txt": (
        "en",
        "unicef",
        ["child_labour", "education", "population_women"],
        ["IN"],
        ["advocacy"],
        {
            "funding": 0.75,
            "funding.loans.microcredit": 0.75,
            "local_presence.local_government": 0.75,
            "service_delivery.community_mobilisation": 0.75,
            "service_delivery.education.schools": 0.75,
            "service_delivery.enterprise_support.job_creation": 0.75,
        },
    ),
    "travail-des-enfants-inde.fr.txt": (
        "fr",
        "unicef",
        ["child_labour", "education", "population_women"],
        ["IN"],
        ["advocacy"],
        {
            "funding": 0.75,
            "funding.loans": 0.75,
            "local_presence.local_government": 0.75,
            "service_delivery.community_mobilisation": 0.75,
            "service_delivery.education.schools": 0.75,
        },
    ),
    "hiv-workplace-southern-africa.en.txt": (
        "en",
        "ilo",
        ["hiv_aids", "health"],
        ["BW", "ZM", "ZW", "LS", "NA", "SZ", "ZA"],
        ["advocacy"],
        {
            "service_delivery.health": 1.0,
            "research": 0.75,
            "research.evaluation": 0.75,
            "training": 0.75,
            "media_reach": 0.75,
            "media_reach.campaigns": 0.75,
            "technical_expertise": 0.75,
        },
    ),
    "microcredit-femmes-sahel.fr.txt": (
        "fr",
        "undp",
        ["small_enterprise", "population_women"],
        ["ML", "NE", "BF", "SN", "GM", "MR", "TD"],
        [],
        {
            "funding.loans.microcredit": 1.0,
            "funding.grants": 0.75,
            "local_presence": 0.75,
            "service_delivery.enterprise_support.incubation": 0.75,
            "technical_expertise": 0.75,
            "training.vocational": 0.75,
            "technical_expertise.financial": 0.75,
        },
    ),
}


@pytest.fixture(scope="module")
def seed() -> Dataset:
    return read_data_directory(default_taxonomy_dir().parent / "seed")


@pytest.fixture(scope="module")
def intake(seed: Dataset) -> ConceptNoteIntake:
    return ConceptNoteIntake(seed.taxonomies, seed.organisations)


@pytest.mark.parametrize("note", sorted(EXPECTED))
def test_each_note_gives_exactly_the_expected_draft(intake: ConceptNoteIntake, note: str) -> None:
    language, lead, themes, countries, activity_types, needs = EXPECTED[note]
    draft = intake.draft((NOTES / note).read_text(encoding="utf-8"))
    initiative = draft.initiative
    assert draft.language == language
    assert initiative["lead"] == lead
    assert initiative["themes"] == themes
    assert initiative["countries"] == countries
    assert initiative["activity_types"] == activity_types
    assert {n["capability"]: n["weight"] for n in initiative["needs"]} == needs


def test_the_english_and_french_child_labour_notes_agree_on_place_and_themes(
    intake: ConceptNoteIntake,
) -> None:
    english = intake.draft((NOTES / "child-labour-india.en.txt").read_text(encoding="utf-8"))
    french = intake.draft((NOTES / "travail-des-enfants-inde.fr.txt").read_text(encoding="utf-8"))
    for name in ("lead", "themes", "countries"):
        assert english.initiative[name] == french.initiative[name]
    assert {"child_labour", "education"} <= set(french.initiative["themes"])
    assert french.initiative["countries"] == ["IN"]


def test_every_suggestion_names_the_phrase_that_triggered_it(intake: ConceptNoteIntake) -> None:
    text = (NOTES / "travail-des-enfants-inde.fr.txt").read_text(encoding="utf-8")
    draft = intake.draft(text)
    found = {(s.field, s.value): s for s in draft.suggestions}
    assert found["themes", "child_labour"].phrase == "travail des enfants"
    assert found["themes", "child_labour"].method == "label"
    assert found["themes", "education"].phrase == "scolarisation"
    assert found["countries", "IN"].phrase == "Inde"
    assert found["lead", "unicef"].phrase == "UNICEF"
    assert found["lead", "unicef"].confidence == 0.85  # after "Sous la conduite de"
    assert found["partners", "ikea"].confidence < ACCEPT_AT
    for suggestion in draft.suggestions:
        assert suggestion.phrase.replace("\n", " ") in text.replace("\n", " ")
        assert 0.0 < suggestion.confidence <= 0.95


def test_an_organisation_named_in_the_note_is_not_read_as_a_theme(
    intake: ConceptNoteIntake,
) -> None:
    draft = intake.draft("A programme with the World Health Organization on child labour.")
    assert draft.initiative["themes"] == ["child_labour"]
    assert [(s.field, s.value) for s in draft.suggestions if s.field == "partners"] == []
    assert draft.initiative["lead"] == "who"


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("Farmers in Côte d’Ivoire and Viêt Nam", ["CI", "VN"]),
        ("Les agricultrices sénégalaises et maliennes", ["SN", "ML"]),
        ("A project in South Africa", ["ZA"]),
        ("Un projet en Afrique du Sud", ["ZA"]),
        ("En République démocratique du Congo", ["CD"]),
        ("Indian and Brazilian cooperatives", ["IN", "BR"]),
    ],
)
def test_country_names_and_demonyms_in_both_languages_become_iso_codes(
    intake: ConceptNoteIntake, text: str, codes: list[str]
) -> None:
    assert intake.draft(text).initiative["countries"] == codes


def test_a_region_stands_for_its_countries_at_lower_confidence(intake: ConceptNoteIntake) -> None:
    draft = intake.draft("Écoles en Afrique de l'Ouest.")
    countries = [s for s in draft.suggestions if s.field == "countries"]
    assert {s.value for s in countries} >= {"SN", "ML", "GH", "NG", "CI"}
    assert {s.confidence for s in countries} == {0.5}
    assert {s.phrase for s in countries} == {"Afrique de l'Ouest"}


def test_a_note_naming_no_known_organisation_has_no_lead(intake: ConceptNoteIntake) -> None:
    draft = intake.draft("Clean water for schools in Mali.")
    assert "lead" not in draft.initiative
    assert draft.initiative["countries"] == ["ML"]


def test_a_draft_with_a_lead_is_a_valid_initiative(intake: ConceptNoteIntake) -> None:
    text = (NOTES / "child-labour-india.en.txt").read_text(encoding="utf-8")
    initiative = Initiative.from_mapping(intake.draft(text).initiative)
    assert initiative.lead == "unicef"
    assert initiative.title == "Ending child labour in the carpet belt of Uttar Pradesh"
    assert "alternative learning centres" in initiative.description


@pytest.mark.slow
def test_the_sentence_encoder_adds_suggestions_below_acceptance_only(seed: Dataset) -> None:
    from matcher.engine.text import make_encoder

    plain = ConceptNoteIntake(seed.taxonomies, seed.organisations)
    semantic = ConceptNoteIntake(seed.taxonomies, seed.organisations, encoder=make_encoder("use"))
    for note in sorted(EXPECTED):
        text = (NOTES / note).read_text(encoding="utf-8")
        with_encoder, without = semantic.draft(text), plain.draft(text)
        assert with_encoder.initiative == without.initiative
        added = set(with_encoder.suggestions) - set(without.suggestions)
        assert added and all(s.method == "similar" and s.confidence < ACCEPT_AT for s in added)


# ---- the command line and the API ------------------------------------------------------------


def test_partnermatch_draft_prints_the_draft_as_json() -> None:
    from click.testing import CliRunner

    from service.cli import cli

    note = NOTES / "travail-des-enfants-inde.fr.txt"
    seed = default_taxonomy_dir().parent / "seed"
    args = ["draft", str(note), "--data", str(seed), "--text-encoder", "none", "--format", "json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["language"] == "fr"
    assert body["initiative"]["lead"] == "unicef"
    assert body["initiative"]["countries"] == ["IN"]
    assert body["initiative"]["themes"] == ["child_labour", "education", "population_women"]
    first = body["suggestions"][0]
    assert set(first) >= {"field", "value", "phrase", "confidence", "method"}


def test_partnermatch_draft_refuses_an_empty_note(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from service.cli import cli

    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["draft", str(empty), "--text-encoder", "none"])
    assert result.exit_code == 1
    assert "the note is empty" in result.output


def test_a_broker_posts_a_concept_note_and_gets_a_draft(
    client: FlaskClient, keys: dict[str, str]
) -> None:
    text = (NOTES / "child-labour-india.en.txt").read_text(encoding="utf-8")
    response = client.post(
        "/v1/initiatives/draft", json={"text": text}, headers=bearer(keys["broker"])
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    expected = EXPECTED["child-labour-india.en.txt"]
    assert body["language"] == "en"
    assert body["initiative"]["lead"] == "unicef"
    assert body["initiative"]["themes"] == expected[2]
    assert body["initiative"]["countries"] == ["IN"]
    assert {s["field"] for s in body["suggestions"]} >= {"lead", "themes", "countries", "needs"}


@pytest.mark.parametrize(
    ("role", "body", "status"),
    [
        ("reviewer", {"text": "Schools in Mali"}, 403),
        ("broker", {"text": ""}, 422),
        ("broker", {"text": "x" * 10_001}, 422),
        ("broker", {"note": "Schools in Mali"}, 422),
    ],
)
def test_the_draft_endpoint_refuses_other_roles_and_bad_bodies(
    client: FlaskClient, keys: dict[str, str], role: str, body: dict[str, str], status: int
) -> None:
    response = client.post("/v1/initiatives/draft", json=body, headers=bearer(keys[role]))
    assert response.status_code == status
    assert response.content_type == "application/problem+json"


def test_the_draft_path_advertises_only_post(client: FlaskClient) -> None:
    # /v1/initiatives/draft also matches /v1/initiatives/<id> (GET, PUT, DELETE)
    response = client.open("/v1/initiatives/draft", method="OPTIONS")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"OPTIONS", "POST"}


def _directory_with_french_term(tmp_path: Path) -> Path:
    """The seed plus a theme of its own, ``mangroves``, labelled in English and French."""
    import shutil

    folder = tmp_path / "with-mangroves"
    shutil.copytree(default_taxonomy_dir().parent / "seed", folder)
    (folder / "taxonomy").mkdir(exist_ok=True)
    (folder / "taxonomy" / "themes.csv").write_text(
        "code,label,parent,sdg,description,source,label_fr\n"
        "mangroves,Mangrove restoration,environment,14,Replanting coastal mangrove forests,"
        "test,Restauration des mangroves\n",
        encoding="utf-8",
    )
    return folder


FRENCH_MANGROVE_NOTE = (
    "Projet de restauration des mangroves du delta du Saloum, au Sénégal, avec les "
    "communautés de pêcheurs."
)


def test_a_directory_s_own_term_is_found_by_its_french_label(tmp_path: Path) -> None:
    dataset = read_data_directory(_directory_with_french_term(tmp_path))
    assert dataset.taxonomies.themes["mangroves"].attributes["label_fr"] == (
        "Restauration des mangroves"
    )
    draft = ConceptNoteIntake(dataset.taxonomies, dataset.organisations).draft(FRENCH_MANGROVE_NOTE)
    found = [s for s in draft.suggestions if s.field == "themes" and s.value == "mangroves"]
    assert [(s.phrase, s.method, s.confidence) for s in found] == [
        ("restauration des mangroves", "label", 0.9)
    ]
    assert "mangroves" in draft.initiative["themes"]
    assert draft.initiative["countries"] == ["SN"]
    # without the French label, the same note finds no such theme
    plain = read_data_directory(default_taxonomy_dir().parent / "seed")
    without = ConceptNoteIntake(plain.taxonomies, plain.organisations).draft(FRENCH_MANGROVE_NOTE)
    assert "mangroves" not in without.initiative["themes"]


def test_the_french_label_survives_the_database_and_the_export(tmp_path: Path) -> None:
    from matcher.formats.taxonomy_io import load_taxonomies
    from matcher.storage.sql import open_repository
    from matcher.usecases.directories import export_directory, import_directory

    taxonomies = load_taxonomies()
    repository = open_repository(f"sqlite:///{tmp_path / 'db.sqlite'}", taxonomies)
    import_directory(repository, _directory_with_french_term(tmp_path), taxonomies)
    stored = repository.load_dataset()
    assert stored.taxonomies.themes["mangroves"].attributes["label_fr"] == (
        "Restauration des mangroves"
    )
    draft = ConceptNoteIntake(stored.taxonomies, stored.organisations).draft(FRENCH_MANGROVE_NOTE)
    assert "mangroves" in draft.initiative["themes"]
    export_directory(repository, tmp_path / "out", taxonomies)
    exported = (tmp_path / "out" / "taxonomy" / "themes.csv").read_text(encoding="utf-8")
    assert exported.splitlines()[0].endswith(",label_fr")
    assert exported.splitlines()[1].endswith(",Restauration des mangroves")
