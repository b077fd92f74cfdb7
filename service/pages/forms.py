"""The broker's initiative form: the submitted fields to an initiative's JSON form (DESIGN.md
5.2) and back, with each problem attached to the field that caused it."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic

from matcher.domain.country_names import CountryNames
from matcher.domain.exceptions import ValidationError
from matcher.domain.taxonomy import Taxonomies
from matcher.usecases.editing import check_initiative
from matcher.usecases.organisations import OrganisationDirectory
from service.schemas import RecommendationIn

__all__ = [
    "MAX_NEEDS",
    "InitiativeForm",
    "form_from_request",
    "form_from_body",
    "field_for_path",
    "field_label",
]

#: The most need rows the form takes (the API's limit).
MAX_NEEDS = 50
#: Empty need rows offered below the filled ones on a fresh form; "Add a need" adds one more
#: (a submit button: no JavaScript needed).
SPARE_NEEDS = 3
_NEED = re.compile(r"^need-(\d+)-(capability|weight|quantity)$")
_LIST_SPLIT = re.compile(r"[\s,;]+")


@dataclass
class InitiativeForm:
    """The form's values as the person typed them, and the problems found, by field name."""

    values: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)
    #: how many need rows to show (0: the filled ones and SPARE_NEEDS empty ones)
    rows: int = 0

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def add_need_row(self) -> None:
        """Show one more empty need row than the form showed."""
        self.rows = min(MAX_NEEDS, max(self.rows, len(self._filled())) + 1)

    def _filled(self) -> list[dict[str, str]]:
        rows = list(self.values.get("needs") or [])
        while rows and not any(rows[-1].values()):
            rows.pop()
        return rows

    @property
    def need_rows(self) -> list[dict[str, str]]:
        """The need rows to show: every row typed in, then empty ones up to ``rows`` (at
        least one empty row while fewer than MAX_NEEDS)."""
        rows = self._filled()
        wanted = max(self.rows or len(rows) + SPARE_NEEDS, len(rows) + 1)
        empty = {"capability": "", "weight": "", "quantity": ""}
        return rows + [dict(empty) for _ in range(min(wanted, MAX_NEEDS) - len(rows))]


def form_from_request(form: Mapping[str, Any], getlist: Any) -> InitiativeForm:
    """The raw values of a submitted form (``getlist`` reads a multi-valued field)."""
    needs: dict[int, dict[str, str]] = {}
    for name in form:
        match = _NEED.match(name)
        if match and int(match.group(1)) < MAX_NEEDS:
            row = needs.setdefault(
                int(match.group(1)), {"capability": "", "weight": "", "quantity": ""}
            )
            row[match.group(2)] = str(form[name]).strip()
    values: dict[str, Any] = {
        name: str(form.get(name, "")).strip()
        for name in (
            "id",
            "title",
            "description",
            "source",
            "lead",
            "countries",
            "min_size",
            "max_size",
            "include",
            "exclude",
            "budget_usd",
            "count",
        )
    }
    values.update(
        {
            "themes": [str(v) for v in getlist("themes")],
            "activity_types": [str(v) for v in getlist("activity_types")],
            "required_sectors": [str(v) for v in getlist("required_sectors")],
            "required_kinds": [str(v) for v in getlist("required_kinds")],
            "require_local_partner": bool(form.get("require_local_partner")),
            "allow_lead_as_implementer": bool(form.get("allow_lead_as_implementer")),
            "needs": [
                needs.get(k, {"capability": "", "weight": "", "quantity": ""})
                for k in range(max(needs, default=-1) + 1)
            ],
        }
    )
    try:
        rows = min(MAX_NEEDS, max(0, int(str(form.get("need_rows", "0")))))
    except ValueError:
        rows = 0
    return InitiativeForm(values, rows=rows)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def form_from_body(
    body: Mapping[str, Any],
    initiative_id: str = "",
    *,
    lead_name: Callable[[str], str] | None = None,
) -> InitiativeForm:
    """The form filled in from an initiative's JSON form (to start from a stored one);
    ``lead_name`` gives the lead's name to show instead of its id."""
    constraints = body.get("constraints") or {}
    lead = _text(body.get("lead"))
    return InitiativeForm(
        {
            "id": initiative_id,
            "title": _text(body.get("title")),
            "description": _text(body.get("description")),
            "source": _text(body.get("source")),
            "lead": lead_name(lead) if lead_name and lead else lead,
            "countries": ", ".join(body.get("countries") or ()),
            "themes": list(body.get("themes") or ()),
            "activity_types": list(body.get("activity_types") or ()),
            "needs": [
                {
                    "capability": _text(n.get("capability")),
                    "weight": _text(n.get("weight", 1.0)),
                    "quantity": _text(n.get("quantity")),
                }
                for n in body.get("needs") or ()
            ],
            "min_size": _text(constraints.get("min_size", 2)),
            "max_size": _text(constraints.get("max_size", 5)),
            "include": ", ".join(constraints.get("include") or ()),
            "exclude": ", ".join(constraints.get("exclude") or ()),
            "required_sectors": list(constraints.get("required_sectors") or ()),
            "required_kinds": list(constraints.get("required_kinds") or ()),
            "require_local_partner": bool(constraints.get("require_local_partner")),
            "allow_lead_as_implementer": bool(constraints.get("allow_lead_as_implementer")),
            "budget_usd": _text(constraints.get("budget_usd")),
            "count": _text(body.get("count", 3)),
        }
    )


_LABELS = {
    "lead": "Lead entity",
    "title": "Title",
    "description": "Description",
    "source": "Source",
    "countries": "Target countries",
    "themes": "Themes",
    "activity_types": "Activity types",
    "needs": "Needs",
    "min_size": "Smallest coalition",
    "max_size": "Largest coalition",
    "count": "Number of coalitions",
    "budget_usd": "Budget",
    "include": "Must include",
    "exclude": "Exclude",
    "required_sectors": "Sectors",
    "required_kinds": "Kinds of organisation",
    "partners": "Organisations named",
}


def field_label(name: str) -> str:
    """How the form labels a field, for the list of problems above it.

    >>> field_label("need-0-weight"), field_label("max_size")
    ('Need 1: weight', 'Largest coalition')
    """
    match = _NEED.match(name)
    if match:
        return f"Need {int(match.group(1)) + 1}: {match.group(2)}"
    return _LABELS.get(name, name)


def field_for_path(path: str) -> str:
    """The form field of a JSON path named by a validation error.

    >>> field_for_path("needs.2.weight"), field_for_path("constraints.min_size")
    ('need-2-weight', 'min_size')
    >>> field_for_path("themes.0"), field_for_path("needs"), field_for_path("constraints")
    ('themes', 'needs', 'min_size')
    """
    parts = path.split(".")
    if parts[0] == "needs" and len(parts) >= 3 and parts[1].isdigit():
        return f"need-{parts[1]}-{parts[2]}"
    if parts[0] == "needs" and len(parts) == 2 and parts[1].isdigit():
        return f"need-{parts[1]}-capability"
    if parts[0] == "constraints":
        return parts[1] if len(parts) > 1 else "min_size"
    return parts[0]


def _number(form: InitiativeForm, name: str, raw: str, kind: type) -> Any:
    if raw == "":
        return None
    try:
        return kind(raw)
    except ValueError:
        if kind is int:
            form.error(name, f"“{raw}” is not a whole number: enter one, e.g. 4")
        else:
            form.error(name, f"“{raw}” is not a number: enter one, e.g. 0.5")
        return None


def _ids(raw: str) -> list[str]:
    return [part for part in _LIST_SPLIT.split(raw) if part]


_PHRASES = re.compile(r"[,;\n]+")
_CODE = re.compile(r"[A-Za-z]{2,3}")


def _countries(form: InitiativeForm, raw: str, names: CountryNames | None) -> list[str]:
    """Country codes from what was typed: codes, names, demonyms or regions, separated by
    commas (codes may also be separated by spaces); each phrase not understood is a problem."""
    if names is None:
        return [c.upper() for c in _ids(raw)]
    codes: list[str] = []
    for phrase in (p.strip() for p in _PHRASES.split(raw)):
        if not phrase:
            continue
        found = names.lookup(phrase)
        if not found and all(_CODE.fullmatch(t) for t in phrase.split()):
            looked_up = [names.lookup(t) for t in phrase.split()]
            if all(looked_up):
                found = tuple(c for codes_of in looked_up for c in codes_of)
        if not found:
            form.error(
                "countries",
                f"“{phrase}” is not a country or region we know: write its name (Brazil, "
                "Brésil), a region (West Africa) or its ISO code (BR), separated by commas.",
            )
        codes.extend(c for c in found if c not in codes)
    return codes


def _organisations(
    form: InitiativeForm, name: str, raw: str, directory: OrganisationDirectory | None
) -> list[str]:
    """Organisation ids from names or ids separated by commas (ids may also be separated by
    spaces); each one not found is a problem."""
    if directory is None:
        return _ids(raw)
    found: list[str] = []
    for phrase in (p.strip() for p in _PHRASES.split(raw)):
        if not phrase:
            continue
        ids = directory.matches(phrase)
        if len(ids) > 1:
            try:
                directory.resolve(phrase)
            except ValidationError as err:  # several organisations have this name
                form.error(name, str(err))
            continue
        if not ids:
            tokens = [directory.matches(t) for t in phrase.split()]
            if len(tokens) > 1 and all(len(t) == 1 for t in tokens):
                ids = [t[0] for t in tokens]  # ids separated by spaces
            else:
                form.error(name, f"No organisation is called “{phrase}”: check the spelling.")
        found.extend(i for i in ids if i not in found)
    return found


#: Pydantic's error types in plain words: the sentence, and the bound it names (from ``ctx``).
_PLAIN: dict[str, tuple[str, str]] = {
    "string_too_long": ("Shorten it to at most {:,} characters", "max_length"),
    "too_long": ("Give at most {:,}", "max_length"),
    "greater_than": ("Enter a number above {}", "gt"),
    "greater_than_equal": ("Enter {} or more", "ge"),
    "less_than_equal": ("Enter {} or less", "le"),
    "less_than": ("Enter a number below {}", "lt"),
    "string_pattern_mismatch": ("Use only letters, digits, '-', '_' and '.', without spaces", ""),
    "missing": ("Fill this in", ""),
}


def _plain(problem: Mapping[str, Any]) -> str:
    """A validation problem of the API's schema in plain words."""
    kind, ctx = str(problem.get("type", "")), problem.get("ctx") or {}
    if kind not in _PLAIN:
        return str(problem.get("msg", "This value is not valid"))
    sentence, bound = _PLAIN[kind]
    return sentence.format(ctx.get(bound, 0)) if bound else sentence


def build_body(
    form: InitiativeForm,
    taxonomies: Taxonomies,
    *,
    organisations: OrganisationDirectory | None = None,
    countries: CountryNames | None = None,
) -> dict[str, Any] | None:
    """The initiative's JSON form, checked like the API checks it; ``None`` (and
    ``form.errors`` filled in, every problem at once, in plain words) when something is
    wrong.

    With ``organisations`` the lead and the organisations to include or exclude may be
    named by name (any letter case) as well as by id; with ``countries`` the target
    countries by name, demonym or region (English or French) as well as by ISO code.
    """
    v = form.values
    lead = str(v.get("lead", "")).strip()
    if not lead:
        form.error("lead", "Name the lead entity: start typing its name and pick it from the list")
    elif organisations is not None:
        try:
            lead = organisations.resolve(lead)
        except ValidationError as err:
            form.error("lead", str(err))
    needs = []
    for k, row in enumerate(v.get("needs") or ()):
        if not row.get("capability"):
            if row.get("weight") or row.get("quantity"):
                form.error(f"need-{k}-capability", "Choose the capability this row needs")
            continue
        if row["capability"] not in taxonomies.capabilities:
            form.error(f"need-{k}-capability", "Choose a capability from the list")
        need: dict[str, Any] = {"capability": row["capability"]}
        weight = _number(form, f"need-{k}-weight", row.get("weight", ""), float)
        if weight is not None:
            need["weight"] = weight
        quantity = _number(form, f"need-{k}-quantity", row.get("quantity", ""), float)
        if quantity is not None:
            need["quantity"] = quantity
        needs.append((k, need))
    constraints: dict[str, Any] = {
        "include": _organisations(form, "include", v.get("include", ""), organisations),
        "exclude": _organisations(form, "exclude", v.get("exclude", ""), organisations),
        "required_sectors": list(v.get("required_sectors") or ()),
        "required_kinds": list(v.get("required_kinds") or ()),
        "require_local_partner": bool(v.get("require_local_partner")),
        "allow_lead_as_implementer": bool(v.get("allow_lead_as_implementer")),
    }
    for name in ("min_size", "max_size"):
        number = _number(form, name, v.get(name, ""), int)
        if number is not None:
            constraints[name] = number
    budget = _number(form, "budget_usd", v.get("budget_usd", ""), float)
    if budget is not None:
        constraints["budget_usd"] = budget
    body: dict[str, Any] = {
        "title": v.get("title", ""),
        "description": v.get("description", ""),
        "source": v.get("source", ""),
        "lead": lead,
        "themes": list(v.get("themes") or ()),
        "countries": _countries(form, v.get("countries", ""), countries),
        "activity_types": list(v.get("activity_types") or ()),
        "needs": [need for _, need in needs],
        "constraints": constraints,
    }
    count = _number(form, "count", v.get("count", ""), int)
    if count is not None:
        body["count"] = count
    # the rows the person filled, so an error on needs.1 points at the right row
    row_of = [k for k, _ in needs]
    checked: dict[str, Any] | None = None
    try:
        checked = RecommendationIn.model_validate(body).model_dump(mode="json", exclude={"id"})
    except pydantic.ValidationError as err:
        for problem in err.errors():
            path = [str(p) for p in problem["loc"]]
            if len(path) >= 2 and path[0] == "needs" and path[1].isdigit():
                path[1] = str(row_of[int(path[1])])
            name = field_for_path(".".join(path))
            if name not in form.errors:  # one problem a field: the first found
                form.error(name, _plain(problem))
    sizes = constraints.get("min_size", 1), constraints.get("max_size", 5)
    if sizes[0] > sizes[1] and "max_size" not in form.errors:
        form.error(
            "max_size",
            f"The largest coalition ({sizes[1]}) must be at least the smallest ({sizes[0]})",
        )
    if form.errors or checked is None:
        return None
    try:
        check_initiative({**checked, "id": "request"}, taxonomies)
    except ValidationError as err:
        form.error(_form_field(err.field, row_of), str(err))
        return None
    return checked


def _form_field(path: str | None, row_of: list[int]) -> str:
    if not path:
        return "lead"
    parts = path.split(".")
    if len(parts) >= 2 and parts[0] == "needs" and parts[1].isdigit():
        parts[1] = str(row_of[int(parts[1])])
    return field_for_path(".".join(parts))


def error_for(form: InitiativeForm, err: ValidationError) -> None:
    """Attach a domain error raised while recommending (an unknown lead, ...) to its field."""
    row_of = [k for k, row in enumerate(form.values.get("needs") or ()) if row.get("capability")]
    form.error(_form_field(err.field, row_of), str(err))
