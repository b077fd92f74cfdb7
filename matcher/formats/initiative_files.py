"""Reads a portfolio of initiatives: a folder of JSON files, a JSON-lines file or a CSV file.

Every initiative is validated on its own: a malformed one becomes an entry with its problem,
``file:line: field: reason``, and the others are still returned, so that a batch run reports
it and goes on. Only a file that cannot be read at all (missing, unknown format, a CSV header
with unknown columns) raises :class:`InitiativeFileError`.

Formats
-------
* a folder: every ``*.json`` file in it (not its sub-folders), in name order, each one
  initiative in the JSON form of DESIGN.md 5.2;
* ``*.jsonl`` or ``*.ndjson``: one initiative a line (blank lines are skipped);
* ``*.json``: one initiative;
* ``*.csv``: one initiative a row, columns :data:`CSV_COLUMNS`; list cells are
  ``;``-separated; ``needs`` reads ``code:weight;code:weight`` (``code`` alone is weight 1,
  ``code:weight:quantity`` adds a quantity); the constraint columns (``min_size``,
  ``max_size``, ``include``, ``exclude``, ``required_sectors``, ``required_kinds``,
  ``require_local_partner``, ``allow_lead_as_implementer``, ``budget_usd``) fill
  ``constraints``; empty cells take the defaults.

An initiative without an ``id`` is named after its source: the file's stem for a JSON file,
``<stem>-<line>`` for a line or a row. Two initiatives with one id: the second is an error.

Examples
--------
>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "portfolio.csv"
>>> _ = path.write_text("id,lead,needs,max_size\\n"
...                     "edu,unicef,funding:1;local_presence:0.8,4\\n"
...                     "bad,unicef,funding:heavy,\\n")
>>> good, bad = read_initiatives(path)
>>> [(n.capability, n.weight) for n in good.initiative.needs], good.initiative.constraints.max_size
([('funding', 1.0), ('local_presence', 0.8)], 4)
>>> bad.problem
"portfolio.csv:3: needs: weight 'heavy' of need 'funding' is not a number"
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matcher.domain.exceptions import PartnerMatchError, ValidationError
from matcher.domain.model import ID_PATTERN, Initiative
from matcher.domain.taxonomy import Taxonomies

__all__ = [
    "CSV_COLUMNS",
    "LIST_SEPARATOR",
    "InitiativeEntry",
    "InitiativeFileError",
    "read_initiatives",
    "initiative_to_mapping",
]

LIST_SEPARATOR = ";"

#: Columns of the CSV form; only ``lead`` is required.
CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "title",
    "lead",
    "themes",
    "countries",
    "activity_types",
    "needs",
    "min_size",
    "max_size",
    "include",
    "exclude",
    "required_sectors",
    "required_kinds",
    "require_local_partner",
    "allow_lead_as_implementer",
    "budget_usd",
    "count",
    "description",
    "source",
)
_LIST_COLUMNS = frozenset({"themes", "countries", "activity_types"})
_CONSTRAINT_LISTS = frozenset({"include", "exclude", "required_sectors", "required_kinds"})
_CONSTRAINT_INTS = frozenset({"min_size", "max_size"})
_CONSTRAINT_FLAGS = frozenset({"require_local_partner", "allow_lead_as_implementer"})
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_JSON_LINES = frozenset({".jsonl", ".ndjson"})


class InitiativeFileError(PartnerMatchError):
    """A portfolio file or folder cannot be read at all (each initiative's own problems are
    reported on its :class:`InitiativeEntry` instead)."""


@dataclass(frozen=True, slots=True)
class InitiativeEntry:
    """One initiative of a portfolio, or the problem that kept it from being read.

    ``source`` is ``file:line``; ``id`` is the initiative's id (or, when it has none or an
    unreadable one, a stand-in naming its source); exactly one of ``initiative`` and
    ``problem`` is set.
    """

    source: str
    id: str
    initiative: Initiative | None = None
    problem: str | None = None


def read_initiatives(
    path: Path | str, taxonomies: Taxonomies | None = None
) -> list[InitiativeEntry]:
    """Read every initiative of a folder, JSON-lines, JSON or CSV file, in file order.

    Parameters
    ----------
    path : path
        A folder of ``*.json`` files, or a ``.jsonl``/``.ndjson``, ``.json`` or ``.csv`` file.
    taxonomies : Taxonomies, optional
        When given, theme and capability codes are checked against it (pass the dataset's,
        which may extend the built-in vocabularies).

    Returns
    -------
    list of InitiativeEntry
        One per initiative read, each valid or with its problem.

    Raises
    ------
    InitiativeFileError
        If ``path`` does not exist, has an unknown suffix, cannot be decoded, or is a CSV
        file whose header lacks ``lead`` or has unknown columns.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "batch.jsonl"
    >>> _ = path.write_text('{"id": "a", "lead": "unicef"}\\n{"id": "b", "lead": "a b"}\\n')
    >>> [(entry.id, entry.problem) for entry in read_initiatives(path)]  # doctest: +ELLIPSIS
    [('a', None), ('b', "batch.jsonl:2: lead: Organisation id 'a b' is invalid: use 1-64 ...")]
    """
    path = Path(path)
    if path.is_dir():
        entries = [entry for file in sorted(path.glob("*.json")) for entry in _json_file(file)]
    elif not path.exists():
        raise InitiativeFileError(f"{path}: no such file or folder")
    elif path.suffix.lower() in _JSON_LINES:
        entries = list(_json_lines(path))
    elif path.suffix.lower() == ".json":
        entries = list(_json_file(path))
    elif path.suffix.lower() == ".csv":
        entries = list(_csv_file(path))
    else:
        raise InitiativeFileError(
            f"{path}: unknown initiatives format {path.suffix!r}; "
            "expected a folder of .json files, .jsonl, .ndjson, .json or .csv"
        )
    return _checked(entries, taxonomies)


def initiative_to_mapping(initiative: Initiative) -> dict[str, Any]:
    """The JSON form of an initiative (DESIGN.md 5.2), lists sorted: stable to write and hash.

    >>> body = {"id": "x", "lead": "unicef", "themes": ["youth", "education"]}
    >>> mapping = initiative_to_mapping(Initiative.from_mapping(body))
    >>> mapping["themes"], Initiative.from_mapping(mapping) == Initiative.from_mapping(body)
    (['education', 'youth'], True)
    """
    constraints = initiative.constraints
    return {
        "id": initiative.id,
        "title": initiative.title,
        "lead": initiative.lead,
        "themes": sorted(initiative.themes),
        "countries": sorted(initiative.countries),
        "activity_types": sorted(a.value for a in initiative.activity_types),
        "needs": [
            {"capability": n.capability, "weight": n.weight}
            | ({"quantity": n.quantity} if n.quantity is not None else {})
            for n in initiative.needs
        ],
        "constraints": {
            "min_size": constraints.min_size,
            "max_size": constraints.max_size,
            "include": sorted(constraints.include),
            "exclude": sorted(constraints.exclude),
            "required_sectors": sorted(s.value for s in constraints.required_sectors),
            "required_kinds": sorted(k.value for k in constraints.required_kinds),
            "require_local_partner": constraints.require_local_partner,
            "budget_usd": constraints.budget_usd,
            "allow_lead_as_implementer": constraints.allow_lead_as_implementer,
        },
        "count": initiative.count,
        "description": initiative.description,
        "source": initiative.source,
    }


# Readers -----------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise InitiativeFileError(f"{path}: cannot read: {err}") from err


def _json_file(path: Path) -> Iterator[InitiativeEntry]:
    text = _read_text(path)
    try:
        body = json.loads(text)
    except json.JSONDecodeError as err:
        source = f"{path.name}:{err.lineno}"
        yield InitiativeEntry(source, _stand_in(path.stem), problem=f"{source}: {err.msg}")
        return
    yield _entry(body, path.name, 1, _stand_in(path.stem), lines=text.splitlines())


def _json_lines(path: Path) -> Iterator[InitiativeEntry]:
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        stand_in = _stand_in(f"{path.stem}-{number}")
        try:
            body = json.loads(line)
        except json.JSONDecodeError as err:
            source = f"{path.name}:{number}"
            yield InitiativeEntry(source, stand_in, problem=f"{source}: {err.msg}")
            continue
        yield _entry(body, path.name, number, stand_in)


def _csv_file(path: Path) -> Iterator[InitiativeEntry]:
    reader = csv.reader(io.StringIO(_read_text(path), newline=""))
    header = [name.strip() for name in next(reader, [])]
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if unknown:
        raise InitiativeFileError(
            f"{path.name}:1: {unknown[0]}: unknown column; expected some of: "
            + ", ".join(CSV_COLUMNS)
        )
    if "lead" not in header:
        raise InitiativeFileError(f"{path.name}:1: lead: the required column is missing")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise InitiativeFileError(f"{path.name}:1: {duplicates[0]}: column appears twice")
    last_line = 1
    for cells in reader:
        number, last_line = last_line + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        stand_in = _stand_in(f"{path.stem}-{number}")
        source = f"{path.name}:{number}"
        if len(cells) != len(header):
            problem = f"{source}: row has {len(cells)} cells, the header {len(header)}"
            yield InitiativeEntry(source, stand_in, problem=problem)
            continue
        try:
            body = _csv_body(dict(zip(header, cells, strict=True)))
        except ValidationError as err:
            yield InitiativeEntry(source, stand_in, problem=_describe(source, err))
            continue
        yield _entry(body, path.name, number, stand_in)


def _csv_body(row: Mapping[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    constraints: dict[str, Any] = {}
    for column, raw in row.items():
        cell = raw.strip()
        if not cell:
            continue
        if column in _LIST_COLUMNS:
            body[column] = _split(cell)
        elif column == "needs":
            body["needs"] = [_need(part) for part in _split(cell)]
        elif column == "count":
            body["count"] = _integer(cell, column)
        elif column in _CONSTRAINT_LISTS:
            constraints[column] = _split(cell)
        elif column in _CONSTRAINT_INTS:
            constraints[column] = _integer(cell, column)
        elif column in _CONSTRAINT_FLAGS:
            constraints[column] = _flag(cell, column)
        elif column == "budget_usd":
            constraints[column] = _decimal(cell, column)
        else:
            body[column] = cell
    if constraints:
        body["constraints"] = constraints
    return body


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(LIST_SEPARATOR) if part.strip()]


def _need(part: str) -> dict[str, Any]:
    code, *numbers = (piece.strip() for piece in part.split(":"))
    if len(numbers) > 2:
        raise ValidationError(
            f"need {part!r} has more than code:weight:quantity", field="needs", value=part
        )
    need: dict[str, Any] = {"capability": code}
    for name, text in zip(("weight", "quantity"), numbers, strict=False):
        try:
            need[name] = float(text)
        except ValueError:
            raise ValidationError(
                f"{name} {text!r} of need {code!r} is not a number", field="needs", value=text
            ) from None
    return need


def _integer(cell: str, column: str) -> int:
    try:
        return int(cell)
    except ValueError:
        raise ValidationError(f"{cell!r} is not an integer", field=column, value=cell) from None


def _decimal(cell: str, column: str) -> float:
    try:
        return float(cell)
    except ValueError:
        raise ValidationError(f"{cell!r} is not a number", field=column, value=cell) from None


def _flag(cell: str, column: str) -> bool:
    value = cell.lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValidationError(
        f"{cell!r} is not true or false (true/false, yes/no, 1/0)", field=column, value=cell
    )


# Validation --------------------------------------------------------------------------------


def _stand_in(name: str) -> str:
    """A valid id from a file stem (characters outside the id alphabet become '-')."""
    cleaned = re.sub(r"[^A-Za-z0-9._:-]", "-", name)[:64]
    return cleaned or "initiative"


def _entry(
    body: object, file: str, line: int, stand_in: str, *, lines: list[str] | None = None
) -> InitiativeEntry:
    source = f"{file}:{line}"
    if not isinstance(body, dict):
        kind = type(body).__name__
        return InitiativeEntry(
            source, stand_in, problem=f"{source}: an initiative must be a JSON object, got {kind}"
        )
    raw_id = body.get("id")
    entry_id = raw_id if isinstance(raw_id, str) and ID_PATTERN.fullmatch(raw_id) else stand_in
    if "id" not in body:
        body = {**body, "id": stand_in}
    try:
        initiative = Initiative.from_mapping(body)
    except (ValidationError, TypeError, ValueError) as err:
        if lines is not None and isinstance(err, ValidationError) and err.field:
            source = f"{file}:{_line_of(lines, err.field)}"
        return InitiativeEntry(source, entry_id, problem=_describe(source, err))
    return InitiativeEntry(source, initiative.id, initiative=initiative)


def _line_of(lines: list[str], field_path: str) -> int:
    """The line where the top-level key of ``field_path`` appears in a JSON text, else 1."""
    key = re.split(r"[.\[]", field_path, maxsplit=1)[0]
    pattern = re.compile(rf'^\s*"{re.escape(key)}"\s*:')
    for number, line in enumerate(lines, start=1):
        if pattern.match(line):
            return number
    return 1


def _describe(source: str, err: Exception) -> str:
    field_path = getattr(err, "field", None)
    return f"{source}: {field_path}: {err}" if field_path else f"{source}: {err}"


def _checked(
    entries: list[InitiativeEntry], taxonomies: Taxonomies | None
) -> list[InitiativeEntry]:
    """Flag duplicate ids and, with ``taxonomies``, unknown theme and capability codes."""
    first_seen: dict[str, str] = {}
    result = []
    for entry in entries:
        initiative = entry.initiative
        if initiative is None:
            result.append(entry)
            continue
        if entry.id in first_seen:
            problem = (
                f"{entry.source}: id: duplicate initiative id {entry.id!r} "
                f"(first in {first_seen[entry.id]})"
            )
            result.append(InitiativeEntry(entry.source, entry.id, problem=problem))
            continue
        first_seen[entry.id] = entry.source
        if taxonomies is not None:
            try:
                for theme in sorted(initiative.themes):
                    taxonomies.themes.check(theme, "themes")
                for k, need in enumerate(initiative.needs):
                    taxonomies.capabilities.check(need.capability, f"needs.{k}.capability")
            except ValidationError as err:
                result.append(
                    InitiativeEntry(entry.source, entry.id, problem=_describe(entry.source, err))
                )
                continue
        result.append(entry)
    return result
