"""Loads the built-in taxonomies from their CSV files in ``data/taxonomy/``."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from matcher.domain.countries import CountryInfo, CountryTable, normalise_country
from matcher.domain.exceptions import TaxonomyError
from matcher.domain.taxonomy import Taxonomies, Term, Vocabulary

__all__ = ["TAXONOMY_FILES", "default_taxonomy_dir", "read_terms", "load_taxonomies"]

#: Taxonomies field -> (file name, noun used in error messages).
TAXONOMY_FILES: dict[str, tuple[str, str]] = {
    "activity_types": ("activity_types.csv", "activity type"),
    "capabilities": ("capabilities.csv", "capability"),
    "themes": ("themes.csv", "theme"),
    "sectors": ("sectors.csv", "sector"),
    "kinds": ("organisation_kinds.csv", "organisation kind"),
    "sizes": ("organisation_sizes.csv", "organisation size"),
    "resources": ("resources.csv", "resource"),
    "motivations": ("motivations.csv", "motivation"),
    "flag_categories": ("flag_categories.csv", "flag category"),
    "flag_levels": ("flag_levels.csv", "flag level"),
    "roles": ("partnership_roles.csv", "role"),
    "outcomes": ("partnership_outcomes.csv", "outcome"),
    "gc_statuses": ("gc_statuses.csv", "Global Compact status"),
}
_TERM_COLUMNS = ("code", "label", "parent", "description", "source")
_COUNTRY_COLUMNS = ["alpha2", "alpha3", "region", "sub_region", "ldc"]


def default_taxonomy_dir() -> Path:
    """``$PARTNERMATCH_TAXONOMY_DIR``, else ``data/taxonomy`` of this checkout."""
    configured = os.environ.get("PARTNERMATCH_TAXONOMY_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "data" / "taxonomy"


def read_terms(path: Path) -> list[Term]:
    """Read one vocabulary file: ``code`` and ``label`` required; other columns are kept.

    Raises
    ------
    TaxonomyError
        If the file is missing, lacks a required column or has a row without a code.
    """
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = [column for column in ("code", "label") if column not in header]
            if missing:
                raise TaxonomyError(f"{path}: missing column(s) {', '.join(missing)}")
            terms = []
            for line, row in enumerate(reader, start=2):
                code = (row.get("code") or "").strip()
                if not code:
                    raise TaxonomyError(f"{path}:{line}: code: missing value")
                terms.append(
                    Term(
                        code=code,
                        label=(row.get("label") or "").strip(),
                        parent=(row.get("parent") or "").strip() or None,
                        description=(row.get("description") or "").strip(),
                        source=(row.get("source") or "").strip(),
                        attributes={
                            key: (value or "").strip()
                            for key, value in row.items()
                            if key not in _TERM_COLUMNS and key is not None
                        },
                    )
                )
    except FileNotFoundError as err:
        raise TaxonomyError(f"Taxonomy file {str(path)!r} not found") from err
    return terms


def _read_countries(path: Path) -> CountryTable:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames != _COUNTRY_COLUMNS:
                raise TaxonomyError(f"{path}: expected columns {', '.join(_COUNTRY_COLUMNS)}")
            rows = []
            for line, row in enumerate(reader, start=2):
                alpha2 = normalise_country(row["alpha2"])
                if alpha2 != row["alpha2"]:
                    raise TaxonomyError(f"{path}:{line}: alpha2: {row['alpha2']!r} is an alias")
                rows.append(
                    CountryInfo(
                        alpha2=alpha2,
                        alpha3=row["alpha3"],
                        region=row["region"],
                        sub_region=row["sub_region"],
                        ldc=row["ldc"] == "yes",
                    )
                )
    except FileNotFoundError as err:
        raise TaxonomyError(f"Country table {str(path)!r} not found") from err
    return CountryTable(rows)


def load_taxonomies(directory: Path | str | None = None) -> Taxonomies:
    """Load every built-in vocabulary and the country table.

    Parameters
    ----------
    directory : path, optional
        Folder of the CSV files; :func:`default_taxonomy_dir` when omitted.

    Raises
    ------
    TaxonomyError
        If a file is missing or malformed, or a hierarchy has a missing parent or a cycle.
    """
    folder = Path(directory) if directory is not None else default_taxonomy_dir()
    vocabularies = {
        attribute: Vocabulary(noun, read_terms(folder / file_name))
        for attribute, (file_name, noun) in TAXONOMY_FILES.items()
    }
    return Taxonomies(countries=_read_countries(folder / "countries.csv"), **vocabularies)
