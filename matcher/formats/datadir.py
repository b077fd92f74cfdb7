"""Reads and validates a data directory in the interchange format (DESIGN.md 5.1).

Every problem in every file is collected before anything is returned, each as
``file:line: column: reason`` (line 1 is the header). A directory with any problem is
rejected whole with :class:`~matcher.domain.exceptions.DataDirectoryError`.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "organisations.csv").write_text("id,name,kind,country\\nx,X,bank,ZZ\\n")
>>> for name in ("capabilities", "partnerships", "memberships"):
...     _ = (folder / f"{name}.csv").write_text(",".join(FILES[name + ".csv"].required) + "\\n")
>>> read_data_directory(folder)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
matcher.domain.exceptions.DataDirectoryError: 2 problems found:
organisations.csv:2: kind: unknown organisation kind 'bank' (expected one of: un_entity, ...)
organisations.csv:2: country: unknown country code 'ZZ'
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from matcher.domain.countries import normalise_country
from matcher.domain.dataset import Dataset
from matcher.domain.exceptions import DataDirectoryError, TaxonomyError, ValidationError
from matcher.domain.model import (
    ActivityType,
    Capability,
    Conflict,
    Flag,
    FlagLevel,
    GCStatus,
    Kind,
    Membership,
    Organisation,
    Outcome,
    Partnership,
    Role,
    Sector,
    Size,
    check_id,
    check_identifier,
    identifier_key,
)
from matcher.domain.taxonomy import Taxonomies, Term, Vocabulary
from matcher.formats.taxonomy_io import load_taxonomies

__all__ = ["FILES", "LIST_SEPARATOR", "FileSpec", "read_data_directory"]

LIST_SEPARATOR = ";"

Parser = Callable[[str, Taxonomies], Any]


@dataclass(frozen=True, slots=True)
class FileSpec:
    """The columns of one interchange file; ``optional_file`` files may be absent."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    optional_file: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        """Required then optional columns, in the order an export writes them."""
        return self.required + self.optional


FILES: dict[str, FileSpec] = {
    "organisations.csv": FileSpec(
        required=("id", "name", "kind"),
        optional=(
            "sector",
            "country",
            "size",
            "themes",
            "resources",
            "motivations",
            "gc_status",
            "verified_on",
            "max_active",
            "description",
            "aliases",
            "source",
            "identifiers",
        ),
    ),
    "capabilities.csv": FileSpec(
        required=("org_id", "capability"), optional=("strength", "quantity", "unit", "source")
    ),
    "partnerships.csv": FileSpec(
        required=("id", "name"),
        optional=(
            "start_year",
            "end_year",
            "countries",
            "themes",
            "activity_types",
            "amount_usd",
            "outcome",
            "source",
            "description",
        ),
    ),
    "memberships.csv": FileSpec(
        required=("partnership_id", "org_id"), optional=("role", "contribution_usd")
    ),
    "flags.csv": FileSpec(
        required=("org_id", "category", "level"),
        optional=("note", "date", "source", "dismissed_by", "dismissed_on"),
        optional_file=True,
    ),
    "conflicts.csv": FileSpec(
        required=("org_a", "org_b"), optional=("reason",), optional_file=True
    ),
}
TAXONOMY_EXTENSIONS: dict[str, FileSpec] = {
    "taxonomy/themes.csv": FileSpec(
        required=("code", "label"),
        optional=("parent", "sdg", "description", "source", "label_fr"),
        optional_file=True,
    ),
    "taxonomy/capabilities.csv": FileSpec(
        required=("code", "label"),
        optional=("parent", "description", "source", "label_fr"),
        optional_file=True,
    ),
}


# Cell parsers: each takes a non-empty cell and raises ValueError with the reason.


def _text(value: str, _: Taxonomies) -> str:
    return value


def _id(value: str, _: Taxonomies) -> str:
    try:
        return check_id(value, "")
    except ValidationError:
        raise ValueError(
            f"invalid id {value!r}: use 1-64 letters, digits, '.', '_', ':' or '-'"
        ) from None


def _identifier(value: str, _: Taxonomies) -> str:
    try:
        return check_identifier(value)
    except ValidationError:
        raise ValueError(
            f"invalid identifier {value!r}: use 1-200 printable characters without spaces"
        ) from None


def _enum(enum: type[Any], noun: str) -> Parser:
    def parse(value: str, _: Taxonomies) -> Any:
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            raise ValueError(f"unknown {noun} {value!r} (expected one of: {allowed})") from None

    return parse


def _vocabulary_code(attribute: str) -> Callable[[str, Taxonomies], str]:
    def parse(value: str, taxonomies: Taxonomies) -> str:
        vocabulary: Vocabulary = getattr(taxonomies, attribute)
        if value not in vocabulary:
            raise ValueError(f"unknown {vocabulary.name} code {value!r}")
        return value

    return parse


def _list(item: Callable[[str, Taxonomies], Any]) -> Parser:
    def parse(value: str, taxonomies: Taxonomies) -> tuple[Any, ...]:
        parts = [part.strip() for part in value.split(LIST_SEPARATOR)]
        return tuple(item(part, taxonomies) for part in parts if part)

    return parse


def _country(value: str, _: Taxonomies) -> str:
    try:
        return normalise_country(value)
    except ValidationError:
        raise ValueError(f"unknown country code {value!r}") from None


def _number(minimum: float = 0.0, maximum: float = math.inf) -> Parser:
    def parse(value: str, _: Taxonomies) -> float:
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
        if math.isnan(number) or not minimum <= number <= maximum:
            if maximum < math.inf:
                raise ValueError(f"{value} is outside {minimum:g}-{maximum:g}")
            raise ValueError(f"{value} is below {minimum:g}")
        return number

    return parse


def _integer(minimum: int, maximum: int) -> Parser:
    def parse(value: str, _: Taxonomies) -> int:
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an integer") from None
        if not minimum <= number <= maximum:
            raise ValueError(f"{value} is outside {minimum}-{maximum}")
        return number

    return parse


def _date(value: str, _: Taxonomies) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD)") from None


_YEAR = _integer(1900, 2100)
_MONEY = _number()

PARSERS: dict[str, dict[str, Parser]] = {
    "organisations.csv": {
        "id": _id,
        "name": _text,
        "kind": _enum(Kind, "organisation kind"),
        "sector": _enum(Sector, "sector"),
        "country": _country,
        "size": _enum(Size, "size"),
        "themes": _list(_vocabulary_code("themes")),
        "resources": _list(_vocabulary_code("resources")),
        "motivations": _list(_vocabulary_code("motivations")),
        "gc_status": _enum(GCStatus, "Global Compact status"),
        "verified_on": _date,
        "max_active": _integer(1, 1_000_000),
        "description": _text,
        "aliases": _list(_text),
        "source": _text,
        "identifiers": _list(_identifier),
    },
    "capabilities.csv": {
        "org_id": _id,
        "capability": _vocabulary_code("capabilities"),
        "strength": _number(0.0, 1.0),
        "quantity": _MONEY,
        "unit": _text,
        "source": _text,
    },
    "partnerships.csv": {
        "id": _id,
        "name": _text,
        "start_year": _YEAR,
        "end_year": _YEAR,
        "countries": _list(_country),
        "themes": _list(_vocabulary_code("themes")),
        "activity_types": _list(_enum(ActivityType, "activity type")),
        "amount_usd": _MONEY,
        "outcome": _enum(Outcome, "outcome"),
        "source": _text,
        "description": _text,
    },
    "memberships.csv": {
        "partnership_id": _id,
        "org_id": _id,
        "role": _enum(Role, "role"),
        "contribution_usd": _MONEY,
    },
    "flags.csv": {
        "org_id": _id,
        "category": _vocabulary_code("flag_categories"),
        "level": _enum(FlagLevel, "flag level"),
        "note": _text,
        "date": _date,
        "source": _text,
        "dismissed_by": _text,
        "dismissed_on": _date,
    },
    "conflicts.csv": {"org_a": _id, "org_b": _id, "reason": _text},
}

_FACTORIES: dict[str, Callable[..., Any]] = {
    "organisations.csv": Organisation,
    "capabilities.csv": Capability,
    "partnerships.csv": Partnership,
    "memberships.csv": Membership,
    "flags.csv": Flag,
    "conflicts.csv": Conflict,
}
_SET_FIELDS = {"themes", "resources", "motivations", "countries", "activity_types"}


class _Problems(list[str]):
    def add(self, file: str, line: int, column: str, reason: str) -> None:
        self.append(f"{file}:{line}: {column}: {reason}")


def _read_table(path: Path, name: str, spec: FileSpec, problems: _Problems) -> pd.DataFrame | None:
    """Read one CSV as strings; report header problems. ``None`` if unusable or absent."""
    if not path.exists():
        if not spec.optional_file:
            problems.add(name, 0, "-", "required file is missing")
        return None
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding="utf-8", skipinitialspace=False
        )
    except UnicodeDecodeError:
        problems.add(name, 0, "-", "file is not valid UTF-8")
        return None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        problems.add(name, 0, "-", f"unreadable CSV: {str(err).strip()}")
        return None
    header_ok = True
    for column in frame.columns:
        if column not in spec.columns:
            problems.add(name, 1, column, "unknown column")
            header_ok = False
    for column in spec.required:
        if column not in frame.columns:
            problems.add(name, 1, column, "missing required column")
            header_ok = False
    return frame.apply(lambda col: col.str.strip()) if header_ok else None


def _parse_and_build(
    name: str, frame: pd.DataFrame, spec: FileSpec, taxonomies: Taxonomies, problems: _Problems
) -> list[tuple[int, Any]]:
    """Each row's cells parsed, then the domain object built, row after row: only the objects
    are kept (not a dict per row of the whole file first), which bounds the peak memory of a
    large file. Problems come as before: every cell problem of the file, then every problem
    of building an object."""
    parsers = PARSERS[name]
    factory = _FACTORIES[name]
    columns = [str(column) for column in frame.columns]
    built: list[tuple[int, Any]] = []
    build_problems = _Problems()
    for index, cells in enumerate(_rows_of(frame)):
        line = index + 2
        values: dict[str, Any] = {}
        ok = True
        for column, cell in zip(columns, cells, strict=True):
            if cell == "":
                if column in spec.required:
                    problems.add(name, line, column, "missing required value")
                    ok = False
                continue
            try:
                value = parsers[column](cell, taxonomies)
            except ValueError as err:
                problems.add(name, line, column, str(err))
                ok = False
                continue
            values[column] = frozenset(value) if column in _SET_FIELDS else value
        if not ok:
            continue
        try:
            built.append((line, factory(**values)))
        except ValidationError as err:
            build_problems.add(name, line, err.field or "-", _lower_first(str(err)))
    problems.extend(build_problems)
    return built


def _rows_of(frame: pd.DataFrame, block: int = 50_000) -> Iterator[tuple[Any, ...]]:
    """The frame's rows as tuples of cells, each column turned into a list a block of rows at
    a time: reading a pandas string column cell by cell costs several times more, and a
    block bounds the lists held at once."""
    for start in range(0, len(frame), block):
        part = frame.iloc[start : start + block]
        yield from zip(*(part[column].tolist() for column in part.columns), strict=True)


def _lower_first(message: str) -> str:
    return message[:1].lower() + message[1:] if message else message


#: Per file: the fields that no two rows may share, the column a repeat is reported in and
#: the problem (formatted with those fields and ``first``, the line that had them first).
_UNIQUE: dict[str, tuple[tuple[str, ...], str, str]] = {
    "organisations.csv": (("id",), "id", "duplicate id {id!r} (first on line {first})"),
    "partnerships.csv": (("id",), "id", "duplicate id {id!r} (first on line {first})"),
    "capabilities.csv": (
        ("org_id", "capability"),
        "capability",
        "duplicate capability {capability!r} for {org_id!r} (first on line {first})",
    ),
    "memberships.csv": (
        ("partnership_id", "org_id"),
        "org_id",
        "{org_id!r} is already a member of {partnership_id!r} (line {first})",
    ),
}


def _first_of_each(
    name: str, objects: Iterable[tuple[int, Any]], problems: _Problems
) -> Iterator[tuple[int, Any]]:
    """The ``(line, object)`` pairs of file ``name`` whose :data:`_UNIQUE` fields no earlier
    line had; a repeat is a problem. Lazy, so that the problems of a line stay together with
    those the caller finds on it."""
    fields, column, problem = _UNIQUE[name]
    first_line: dict[tuple[Any, ...], int] = {}
    for line, obj in objects:
        values = {field: getattr(obj, field) for field in fields}
        key = tuple(values.values())
        if key in first_line:
            problems.add(name, line, column, problem.format(first=first_line[key], **values))
            continue
        first_line[key] = line
        yield line, obj


def _unique_ids(name: str, objects: list[tuple[int, Any]], problems: _Problems) -> dict[str, Any]:
    return {obj.id: obj for _, obj in _first_of_each(name, objects, problems)}


def _unique_identifiers(
    objects: list[tuple[int, Any]], valid: Mapping[str, Any], problems: _Problems
) -> None:
    """Report a registry identifier held by two organisations: they would be one."""
    holder: dict[str, tuple[int, str]] = {}
    for line, found in objects:
        org: Organisation = found
        if valid.get(org.id) is not org:
            continue
        for identifier in org.identifiers:
            key = identifier_key(identifier)
            if key in holder and holder[key][1] != org.id:
                first_line, first_id = holder[key]
                problems.add(
                    "organisations.csv",
                    line,
                    "identifiers",
                    f"identifier {identifier!r} is already held by {first_id!r} (line "
                    f"{first_line}): organisations sharing an identifier are one organisation",
                )
            holder.setdefault(key, (line, org.id))


@dataclass(frozen=True, slots=True)
class _Ids:
    """Valid objects by id, and every id declared in the file, valid or not.

    A reference to a declared id whose row was rejected is not reported again: the row's
    own problem says what to fix. ``declared`` is ``None`` when the file was unreadable.
    """

    valid: Mapping[str, Any]
    declared: frozenset[str] | None

    def check(
        self, file: str, line: int, column: str, key: str, noun: str, problems: _Problems
    ) -> bool:
        if key in self.valid:
            return True
        if self.declared is not None and key not in self.declared:
            problems.add(file, line, column, f"unknown {noun} {key!r}")
        return False


def _extension_terms(folder: Path, name: str, base: Vocabulary, problems: _Problems) -> list[Term]:
    spec = TAXONOMY_EXTENSIONS[name]
    frame = _read_table(folder / name, name, spec, problems)
    if frame is None:
        return []
    terms = []
    for index, record in enumerate(frame.to_dict("records")):
        line = index + 2
        code, label = record["code"], record["label"]
        missing = [column for column in spec.required if not record[column]]
        for column in missing:
            problems.add(name, line, column, "missing required value")
        if missing:
            continue
        if code in base:
            problems.add(name, line, "code", f"code {code!r} is already a built-in {base.name}")
            continue
        attributes = {"sdg": record.get("sdg", "")} if "sdg" in spec.optional else {}
        if attributes.get("sdg"):
            sdgs = attributes["sdg"].split(LIST_SEPARATOR)
            if not all(part.strip().isdigit() and 1 <= int(part) <= 17 for part in sdgs):
                problems.add(
                    name, line, "sdg", f"{attributes['sdg']!r} is not a list of SDG numbers 1-17"
                )
                continue
        if record.get("label_fr"):  # read by the concept-note intake, as the built-in's are
            attributes["label_fr"] = record["label_fr"]
        terms.append(
            Term(
                code=code,
                label=label,
                parent=record.get("parent") or None,
                description=record.get("description", ""),
                source=record.get("source", ""),
                attributes=attributes,
            )
        )
    return terms


def _extended_taxonomies(folder: Path, base: Taxonomies, problems: _Problems) -> Taxonomies:
    themes = _extension_terms(folder, "taxonomy/themes.csv", base.themes, problems)
    capabilities = _extension_terms(
        folder, "taxonomy/capabilities.csv", base.capabilities, problems
    )
    try:
        return base.extended(themes=themes, capabilities=capabilities)
    except TaxonomyError as err:
        problems.add("taxonomy", 0, "parent", str(err))
        return base


def read_data_directory(folder: Path | str, taxonomies: Taxonomies | None = None) -> Dataset:
    """Read, validate and return the data directory at ``folder``.

    Parameters
    ----------
    folder : path
        A directory in the interchange format.
    taxonomies : Taxonomies, optional
        The built-in vocabularies (loaded from ``data/taxonomy`` when omitted); the
        directory's own ``taxonomy/`` files extend them.

    Returns
    -------
    Dataset

    Raises
    ------
    DataDirectoryError
        With every problem found, each as ``file:line: column: reason``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataDirectoryError([f"{folder}: not a directory"])
    problems = _Problems()
    taxonomies = _extended_taxonomies(folder, taxonomies or load_taxonomies(), problems)

    built: dict[str, list[tuple[int, Any]]] = {}
    declared: dict[str, frozenset[str] | None] = {}
    for name, spec in FILES.items():
        frame = _read_table(folder / name, name, spec, problems)
        declared[name] = None if frame is None or "id" not in frame else frozenset(frame["id"])
        built[name] = (
            [] if frame is None else _parse_and_build(name, frame, spec, taxonomies, problems)
        )
        del frame  # the file's strings go before the next file is read

    organisations = _Ids(
        _unique_ids("organisations.csv", built["organisations.csv"], problems),
        declared["organisations.csv"],
    )
    _unique_identifiers(built["organisations.csv"], organisations.valid, problems)
    partnerships = _Ids(
        _unique_ids("partnerships.csv", built["partnerships.csv"], problems),
        declared["partnerships.csv"],
    )

    capabilities = []
    for line, capability in _first_of_each("capabilities.csv", built["capabilities.csv"], problems):
        if organisations.check(
            "capabilities.csv", line, "org_id", capability.org_id, "organisation", problems
        ):
            capabilities.append(capability)

    memberships = []
    for line, membership in _first_of_each("memberships.csv", built["memberships.csv"], problems):
        known_partnership = partnerships.check(
            "memberships.csv",
            line,
            "partnership_id",
            membership.partnership_id,
            "partnership",
            problems,
        )
        known_org = organisations.check(
            "memberships.csv", line, "org_id", membership.org_id, "organisation", problems
        )
        if known_partnership and known_org:
            memberships.append(membership)

    flags = [
        flag
        for line, flag in built["flags.csv"]
        if organisations.check("flags.csv", line, "org_id", flag.org_id, "organisation", problems)
    ]
    conflicts = []
    for line, conflict in built["conflicts.csv"]:
        known_a = organisations.check(
            "conflicts.csv", line, "org_a", conflict.org_a, "organisation", problems
        )
        known_b = organisations.check(
            "conflicts.csv", line, "org_b", conflict.org_b, "organisation", problems
        )
        if known_a and known_b:
            conflicts.append(conflict)

    if problems:
        raise DataDirectoryError(problems)
    return Dataset.build(
        organisations=organisations.valid.values(),
        capabilities=capabilities,
        partnerships=partnerships.valid.values(),
        memberships=memberships,
        flags=flags,
        conflicts=conflicts,
        taxonomies=taxonomies,
    )
